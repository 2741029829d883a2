"""Intent classification for call transcripts (spaCy textcat trained on Banking77).

This module is the runtime side only: it loads the committed model folder and predicts. It
deliberately imports nothing from the web/worker layers so it can be used from the API, Celery
workers, notebooks and the training script alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import spacy
from spacy.language import Language

__all__ = [
    "DEFAULT_INTENT_MODEL_DIR",
    "IntentModel",
    "IntentPrediction",
    "load_intent_model",
    "normalize_text",
]

DEFAULT_INTENT_MODEL_DIR: Path = Path(__file__).resolve().parent.parent / "models" / "intent" / "model"
"""Committed model folder; rebuilt by ``models/intent/train.py`` (``make models``)."""

_DIGITS = re.compile(r"\d")
_WHITESPACE = re.compile(r"\s+")
_TEXTCAT = "textcat"


def normalize_text(text: str) -> str:
    """Normalize text the same way for training and inference.

    Lowercasing and mapping every digit to ``0`` makes the bag-of-words features share statistics
    across casing and amounts/dates ("£20" and "£50" look alike); collapsing whitespace keeps
    tokenization stable for pasted or transcribed text.
    """
    text = text.lower()
    text = _DIGITS.sub("0", text)
    return _WHITESPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class IntentPrediction:
    """Top intent for one text; ``confidence`` is the model's (over-confident) softmax probability."""

    label: str
    confidence: float


class IntentModel:
    """Thin wrapper around a spaCy pipeline with an exclusive ``textcat`` component.

    It owns the normalization step so callers cannot forget it, and returns plain dataclasses so
    nothing spaCy-specific leaks into callers.
    """

    def __init__(self, nlp: Language) -> None:
        if _TEXTCAT not in nlp.pipe_names:
            raise ValueError(f"pipeline has no {_TEXTCAT!r} component (pipes: {nlp.pipe_names})")
        self.nlp = nlp
        self._labels: list[str] = list(nlp.get_pipe(_TEXTCAT).labels)

    @property
    def labels(self) -> list[str]:
        """Intent names the model can output (a copy, so callers cannot mutate the model's list)."""
        return list(self._labels)

    def predict(self, texts: Sequence[str], batch_size: int = 256) -> list[IntentPrediction]:
        """Return the top intent and its probability for each text, in input order.

        Texts are streamed through ``nlp.pipe`` in batches for throughput. Empty or whitespace-only
        texts are still scored (the model then falls back to its bias, i.e. a low-confidence guess).
        """
        # thinc's n-gram layer fails on a zero-token doc inside a batch: give empty texts one neutral token
        normalized = (normalize_text(text) or "-" for text in texts)
        predictions: list[IntentPrediction] = []
        for doc in self.nlp.pipe(normalized, batch_size=batch_size):
            label, confidence = max(doc.cats.items(), key=lambda item: item[1])
            predictions.append(IntentPrediction(label=label, confidence=float(confidence)))
        return predictions


@lru_cache(maxsize=8)
def _load_cached(resolved_path: str) -> IntentModel:
    """Load once per process and path: loading takes a while and the model is read-only."""
    return IntentModel(spacy.load(resolved_path))


def load_intent_model(path: str | Path) -> IntentModel:
    """Load (and cache per process) the intent model stored in the spaCy folder ``path``."""
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_dir():
        raise FileNotFoundError(
            f"intent model folder not found: {resolved} (rebuild it with `make models` or "
            f"`python models/intent/train.py`)"
        )
    return _load_cached(str(resolved))
