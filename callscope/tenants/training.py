"""Models a bank builds from its own files, offline: the entry points of `callscope handletime` and `callscope intents`
(the pure fitting lives in `prediction` and `understanding`)."""

from __future__ import annotations

from callscope.prediction.handletime_eval import backtest_summary, fit_with_holdout
from callscope.prediction.handletime_model import load as load_handle_time_model
from callscope.prediction.history import RowError, iter_history_csv, read_anonymous_bank, read_history_csv
from callscope.understanding import custom_intents
from callscope.understanding.themes import find_themes

__all__ = ["RowError", "backtest_summary", "custom_intents", "find_themes", "fit_with_holdout", "iter_history_csv",
           "load_handle_time_model", "read_anonymous_bank", "read_history_csv"]  # fmt: skip
