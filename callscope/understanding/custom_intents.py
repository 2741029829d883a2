"""A tenant's own intents, fit from a few example utterances each.

A bank's call drivers are not Banking77's ("apply for a loan", "order cheques"), so a tenant names its own intents
with at least five examples each. The model is a multinomial logistic regression (C=30) on the L2-normalized
all-MiniLM-L6-v2 sentence embedding (the shipped encoder) of the request, after small talk at its edges is cut
("hi, um, so ...", "... thanks"). Those three choices were measured on CLINC150 train utterances (not the
validation ones the bench scores); adding the WordLlama embedding or character n-gram TF-IDF as further views
changed accuracy by less than half a point and was left out (`bench/bench_custom_intents.py`, bench/RESULTS.md).
With `base="banking77"` the Banking77 training texts are fit beside the tenant's, so the model answers the 77
intents as well as the tenant's own.

A model folder holds `meta.json` (labels, cross-validated accuracy), `coef.npy` and `intercept.npy`: no pickle,
and nothing is fetched at run time.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from callscope.understanding.intent import Fallback, IntentPrediction, predictions_from
from callscope.understanding.intent_components import encode_sentences

FORMAT = "callscope-custom-intents/1"
MIN_EXAMPLES = 5
BANKING77_CSV = Path(__file__).resolve().parents[2] / "data" / "banking77" / "train.csv"
_C = 30.0  # little regularization: unit-length embeddings give small scores, and the examples are few

_LEAD = re.compile(
    r"^(?:(?:hi|hello|hey|yeah|yes|yep|um+|uh+|erm|er|so|okay|ok|well|right|there|good (?:morning|afternoon|evening)"
    r"|basically|i was wondering(?: if)?|i wanted to ask|quick question)\b[\s,.!-]*)+",
    re.IGNORECASE,
)
_TAIL = re.compile(
    r"(?:[\s,.!-]*\b(?:thanks|thank you(?: (?:very|so) much)?|please|cheers|if that's (?:ok|okay)|if possible)\b)+"
    r"[\s,.!?]*$",
    re.IGNORECASE,
)


def strip_small_talk(text: str) -> str:
    """The request without the greetings and fillers before it or the thanks after it (all of it if nothing is left)."""
    request = _TAIL.sub("", _LEAD.sub("", text)).strip(" ,")
    return request or text.strip()


@dataclass(frozen=True)
class FitReport:
    """What a fit measured: cross-validated accuracy over the tenant's examples (each left out once per fold)."""

    labels: list[str]
    examples: int
    cv_accuracy: float | None
    base: str


def read_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) rows of a CSV with the columns `text,intent`; a ValueError names the line at fault."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"text", "intent"} <= set(reader.fieldnames):
            raise ValueError(f"{path.name}: the CSV needs the columns text,intent (it has {reader.fieldnames})")
        rows = []
        for line, row in enumerate(reader, start=2):
            text, intent = (row.get("text") or "").strip(), (row.get("intent") or "").strip()
            if not text or not intent:
                raise ValueError(f"{path.name}, line {line}: text and intent must both be given")
            rows.append((text, intent))
    return rows


def check_examples(examples: Sequence[tuple[str, str]]) -> None:
    """Refuse what cannot make a model: fewer than two intents, or an intent with fewer than five examples."""
    counts = Counter(intent for _, intent in examples)
    if len(counts) < 2:
        raise ValueError(f"at least two intents are needed (got {len(counts)})")
    few = sorted(intent for intent, n in counts.items() if n < MIN_EXAMPLES)
    if few:
        raise ValueError(f"each intent needs at least {MIN_EXAMPLES} examples: too few for {', '.join(few[:10])}")


def _banking77_examples() -> list[tuple[str, str]]:
    with BANKING77_CSV.open(newline="", encoding="utf-8") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def _l2(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def embed_requests(texts: Sequence[str]) -> np.ndarray:
    """The unit-length sentence embedding of each text's request."""
    return _l2(encode_sentences([strip_small_talk(t) for t in texts]))


def _regression(balanced: bool) -> LogisticRegression:
    return LogisticRegression(C=_C, max_iter=3000, class_weight="balanced" if balanced else None)


class CustomIntentModel:
    """Answers a tenant's intents with the regression's probabilities, like `IntentModel` (same `predict`)."""

    def __init__(self, labels: list[str], coef: np.ndarray, intercept: np.ndarray, meta: dict) -> None:
        self._labels, self.coef, self.intercept, self.meta = labels, coef, intercept, meta
        self.fallback = Fallback(**meta.get("fallback", {}))

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    def probabilities(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Rows: texts in order; columns: `labels`."""
        if not texts:
            return np.zeros((0, len(self._labels)))
        scores = embed_requests(texts) @ self.coef.T + self.intercept
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def predict(self, texts: Sequence[str], batch_size: int = 256, *, fallback: bool = True) -> list[IntentPrediction]:
        return predictions_from(self.probabilities(texts), self._labels, self.fallback if fallback else None)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "coef.npy", self.coef.astype(np.float32))
        np.save(folder / "intercept.npy", self.intercept.astype(np.float32))
        (folder / "meta.json").write_text(json.dumps({**self.meta, "labels": self._labels}, indent=1))

    @classmethod
    def load(cls, folder: Path) -> CustomIntentModel:
        meta_path = folder / "meta.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"no custom intent model in {folder} (make one with `callscope intents fit`)")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{folder} holds {meta.get('format')!r}, not a {FORMAT} model")
        return cls(meta["labels"], np.load(folder / "coef.npy"), np.load(folder / "intercept.npy"), meta)


def _cross_validate(examples: Sequence[tuple[str, str]], embedded: np.ndarray, background: int) -> float:
    """Accuracy on the tenant's examples, each predicted by a model fit without it (the background rows, Banking77's
    when `base` is banking77, are in every fold's training set)."""
    own = np.arange(background, len(examples))
    labels = np.array([intent for _, intent in examples])
    folds = min(5, min(Counter(labels[own]).values()))
    right = 0
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=13).split(own, labels[own]):
        rows = np.concatenate([np.arange(background), own[train]])
        model = _regression(background > 0).fit(embedded[rows], labels[rows])
        right += int((model.predict(embedded[own[test]]) == labels[own[test]]).sum())
    return right / len(own)


def fit(
    examples: Sequence[tuple[str, str]],
    *,
    base: str = "none",
    cross_validate: bool = True,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[CustomIntentModel, FitReport]:
    """Fit a model on the tenant's (text, intent) examples; `base="banking77"` adds the 77 Banking77 intents."""
    check_examples(examples)
    if base not in ("none", "banking77"):
        raise ValueError(f"base must be none or banking77, not {base!r}")
    background = _banking77_examples() if base == "banking77" else []
    clash = {intent for _, intent in examples} & {intent for _, intent in background}
    if clash:
        raise ValueError(f"these intents are Banking77's already: {', '.join(sorted(clash)[:10])}")
    rows = [*background, *examples]
    progress(f"embedding {len(rows)} texts")
    embedded = embed_requests([text for text, _ in rows])
    accuracy = None
    if cross_validate:
        progress("cross-validating")
        accuracy = round(_cross_validate(rows, embedded, len(background)), 4)
    progress("fitting")
    regression = _regression(bool(background)).fit(embedded, [intent for _, intent in rows])
    report = FitReport(labels=list(regression.classes_), examples=len(examples), cv_accuracy=accuracy, base=base)
    meta = {
        "format": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "C": _C,
        "fallback": asdict(Fallback()),
        "report": asdict(report),
    }
    model = CustomIntentModel(report.labels, regression.coef_, regression.intercept_, meta)
    return model, report
