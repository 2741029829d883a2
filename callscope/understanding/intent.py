"""Intent classification for call transcripts (spaCy pipeline trained on Banking77).

This module is the runtime side only: it loads the committed model folder and predicts. It
deliberately imports nothing from the web/worker layers so it can be used from the API, Celery
workers, notebooks and the training script alike. The pipeline is ``textcat`` (bag of n-grams)
followed by ``callscope_intent_blend`` (TF-IDF linear model blended in, calibrated): see
``callscope.understanding.intent_components``. Texts the model is unsure about come back as ``other``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import spacy
from spacy.language import Language

import callscope.understanding.intent_components  # noqa: F401  (registers the pipeline's custom factory for spacy.load)
from callscope.settings import REPO_ROOT

__all__ = [
    "DEFAULT_INTENT_MODEL_DIR",
    "OTHER_LABEL",
    "DetectedIntent",
    "Fallback",
    "IntentModel",
    "IntentPrediction",
    "detect_intents",
    "heard",
    "intent_units",
    "intents_from_predictions",
    "load_intent_model",
    "normalize_text",
]

DEFAULT_INTENT_MODEL_DIR: Path = REPO_ROOT / "models" / "intent" / "model"
"""Committed model folder; rebuilt by ``models/intent/train.py`` (``make models``)."""

OTHER_LABEL = "other"
"""Answer (not one of the model's labels) when the top intent is not confident or not clearly ahead."""

N_CANDIDATES = 3
FULL_EVIDENCE_WORDS = 5  # detect_intents: shorter turns weigh pro rata when choosing the primary intent
MIN_INTENT_CONFIDENCE = 0.5  # detect_intents: a unit below this expresses no intent of its own
_TEXTCAT = "textcat"
_META_KEY = "callscope_fallback"
_SPOKEN_META_KEY = "callscope_fallback_spoken"  # chosen on transcripts of speech; absent: the typed one

_APOSTROPHES = re.compile(r"[\u2018\u2019\u02bc`]")
_TOP_UP = re.compile(r"\btop[\s-]?(ups?)\b")
_US_SPELLING = re.compile(r"\b(recogni|authori|reali|apologi|organi|categori|minimi|maximi|personali)z(e|ed|es|ing)\b")
_SINGLE_L = re.compile(r"\b(cance|trave|labe|fue)l(ed|ing)\b")
_FILLERS = re.compile(r"\b(?:u+m+|u+h+m*|e+r+m*|a+h+|h+m+|m+h*m+)\b")
_PUNCTUATION = re.compile(r"[^\w\s'£$€%]")
_NUMBER_WORDS = (
    "zero|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million"
)
# a run of spoken number words ("twenty five", "one hundred and fifty"); a lone "one" is usually a pronoun
_SPOKEN_NUMBER = re.compile(
    rf"\b(?:(?:{_NUMBER_WORDS}|one)(?:[\s-]+(?:and[\s-]+)?(?:{_NUMBER_WORDS}|one))+|(?:{_NUMBER_WORDS}))\b"
)
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_CURRENCY = {"£": "pounds", "$": "dollars", "€": "euros"}
_AMOUNT = re.compile(r"([£$€])\s?0")  # "£0" as typed, "0 pounds" as Whisper often writes a spoken amount
_WHITESPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Normalize text the same way for training and inference, typed or transcribed.

    Lowercasing and mapping every number (digits or spoken words) to ``0`` and amounts to words
    ("£25" and "twenty five pounds" both become "0 pounds") makes features share statistics across
    casing and amounts. ASR and typing variants are unified ("top-up"/"topup" -> "top up", the UK
    spellings the training data uses, fillers such as "um"/"uh" dropped, punctuation other than
    apostrophes removed), and whitespace is collapsed so tokenization stays stable for pasted or
    transcribed text.
    """
    text = _APOSTROPHES.sub("'", text.lower())
    text = _DIGITS.sub("0", text)  # before punctuation goes, so "5.50" and "1,000" stay one number
    text = _PUNCTUATION.sub(" ", text)
    text = _TOP_UP.sub(r"top \1", text)
    text = _US_SPELLING.sub(r"\1s\2", text)
    text = _SINGLE_L.sub(r"\1ll\2", text)
    text = _FILLERS.sub(" ", text)
    text = _SPOKEN_NUMBER.sub("0", text)
    text = _AMOUNT.sub(lambda match: f"0 {_CURRENCY[match.group(1)]}", text)
    return _WHITESPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class IntentPrediction:
    """Intent for one text: a Banking77 label or ``other``, with its calibrated probability.

    ``confidence`` is the calibrated top probability (also when the answer is ``other``);
    ``candidates`` are the top labels with their probabilities, best first.
    """

    label: str
    confidence: float
    candidates: tuple[tuple[str, float], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Fallback:
    """Rasa-style fallback: answer ``other`` below ``threshold`` or when the top two are within ``ambiguity``."""

    threshold: float = 0.0
    ambiguity: float = 0.0

    def rejects(self, top: float, second: float) -> bool:
        """True when the top intent is not confident enough or not clearly ahead of the runner-up."""
        return (top < self.threshold) | (top - second < self.ambiguity)  # `|`: works on arrays too


class IntentModel:
    """Thin wrapper around the spaCy intent pipeline.

    It owns the normalization step so callers cannot forget it, applies the fallback the model was
    tuned with (stored in the pipeline's meta), and returns plain dataclasses so nothing
    spaCy-specific leaks into callers.
    """

    def __init__(self, nlp: Language, fallback: Fallback | None = None) -> None:
        if _TEXTCAT not in nlp.pipe_names:
            raise ValueError(f"pipeline has no {_TEXTCAT!r} component (pipes: {nlp.pipe_names})")
        self.nlp = nlp
        # a model taught an `other` class answers with the intents' probabilities only (not renormalized: what
        # the `other` class took leaves the top intent low, and the fallback turns it into `other`)
        self._labels: list[str] = [label for label in nlp.get_pipe(_TEXTCAT).labels if label != OTHER_LABEL]
        self.fallback = fallback if fallback is not None else Fallback(**nlp.meta.get(_META_KEY, {}))
        self._heard: IntentModel | None = None

    def heard(self) -> IntentModel:
        """The same model answering for transcripts of speech: its fallback was chosen on what the recognizer
        writes (garbled words leave the model less sure, so the typed threshold sends too many calls to `other`)."""
        if self._heard is None:
            spoken = self.nlp.meta.get(_SPOKEN_META_KEY)
            self._heard = IntentModel(self.nlp, Fallback(**spoken)) if spoken else self
        return self._heard

    def with_thresholds(self, typed: float | None, spoken: float | None) -> IntentModel:
        """The same pipeline answering `other` below a tenant's own confidence thresholds (its point on the model's
        trade-off curve, `bench/RESULTS.md`); None keeps the model's own for that kind of turn."""
        if typed is None and spoken is None:
            return self
        chosen = IntentModel(self.nlp, replace(self.fallback, threshold=typed) if typed is not None else self.fallback)
        said = self.heard()
        chosen._heard = said if spoken is None else IntentModel(self.nlp, replace(said.fallback, threshold=spoken))
        return chosen

    @property
    def labels(self) -> list[str]:
        """Intent names the model can output besides ``other`` (a copy, so callers cannot mutate the model's list)."""
        return list(self._labels)

    def probabilities(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Calibrated probabilities (rows: texts in order; columns: ``labels``), before any fallback."""
        # thinc's n-gram layer fails on a zero-token doc inside a batch: give empty texts one neutral token
        normalized = (normalize_text(text) or "-" for text in texts)
        rows = [[doc.cats[label] for label in self._labels] for doc in self.nlp.pipe(normalized, batch_size=batch_size)]
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(self._labels))

    def predict(self, texts: Sequence[str], batch_size: int = 256, *, fallback: bool = True) -> list[IntentPrediction]:
        """Return the intent (or ``other``) and its calibrated probability for each text, in input order.

        Texts are streamed through ``nlp.pipe`` in batches for throughput. Empty or whitespace-only
        texts are still scored (and normally fall back to ``other``). ``fallback=False`` always
        answers the top label (closed-set evaluation).
        """
        probs = self.probabilities(texts, batch_size)
        return predictions_from(probs, self._labels, self.fallback if fallback else None)


def heard(model: Any) -> Any:
    """`model` answering for transcripts of speech (`IntentModel.heard`); a tenant's own model has one fallback."""
    return model.heard() if isinstance(model, IntentModel) else model


def predictions_from(probs: np.ndarray, labels: Sequence[str], fallback: Fallback | None) -> list[IntentPrediction]:
    """One prediction per row of calibrated probabilities: the top label, or `other` where `fallback` rejects it."""
    order = np.argsort(-probs, axis=1)[:, :N_CANDIDATES]
    predictions = []
    for row, top in zip(probs, order, strict=True):
        candidates = tuple((labels[i], float(row[i])) for i in top)
        best, second = candidates[0][1], candidates[1][1] if len(candidates) > 1 else 0.0
        label = OTHER_LABEL if fallback is not None and fallback.rejects(best, second) else candidates[0][0]
        predictions.append(IntentPrediction(label=label, confidence=best, candidates=candidates))
    return predictions


@dataclass(frozen=True)
class DetectedIntent:
    """One intent of a contact: the turn that first expressed it, its best confidence and how many turns did."""

    label: str
    confidence: float
    turn: int
    support: int
    primary: bool


@lru_cache(maxsize=1)
def _sentencizer() -> Language:
    """spaCy's rule-based sentence splitter (no model): knows "Mr." and "3.5" are not sentence ends."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


# What a customer says to prove who they are, or to be polite: it carries no request and must not set the intent
# ("Yes, 4 May 1980. Also my card number is [CARD]." was answered card_arrival). A detail is a field named and
# given: a placeholder, digits or a capitalized name after "is" ("my address is wrong" is a request).
_DETAIL = re.compile(
    r"\b(?:(?:my|the|its|your)\s+)?(?:full\s+)?(?:name|surname|date\s+of\s+birth|dob|birthday|post\s?code|zip(?:\s+code)?"
    r"|address|(?:card|account|phone|mobile|customer|reference|membership)(?:\s+number)?|sort\s+code|number|e-?mail"
    r"(?:\s+address)?)\s+(?:is|was|'s|ends\s+(?:in|with)|ending(?:\s+in)?)\s+(?:\[[A-Z_]+\]|[\d\s-]+\b|[A-Z][\w'-]*"
    r"(?:\s+[A-Z][\w'-]*)*)",
)
_PLACEHOLDER_OR_NUMBER = re.compile(r"\[[A-Z_]+\]|\b\d+(?:st|nd|rd|th)?\b")
_NO_REQUEST_TEXT = """
yes yeah yep no nope ok okay sure right alright fine great lovely perfect cheers thanks thank you please very much
lot hi hello hey bye goodbye morning afternoon evening also and so well it it's is was that's that this correct
exactly mm hmm mhm uh um er erm ah oh i i'm me my sorry pardon just one moment sec second hang on there here go did
not didn't do don't date of birth born dob january february march april may june july august september october
november december
"""
_NO_REQUEST_WORDS = frozenset(_NO_REQUEST_TEXT.split())


def carries_request(text: str) -> bool:
    """Whether a unit says anything beyond identity details, numbers and politeness ("Thanks.", "It's Smith.")."""
    rest = _PLACEHOLDER_OR_NUMBER.sub(" ", _DETAIL.sub(" ", text))
    words = re.findall(r"[a-z][a-z']*", rest.lower())
    return any(w not in _NO_REQUEST_WORDS for w in words)


def intent_units(texts: Sequence[str]) -> list[tuple[int, str]]:
    """(index into ``texts``, text) for every turn and, where a turn has several, each of its sentences.

    Banking77 requests are one sentence each, and a spoken turn often holds two ("I lost my card.
    There is a payment I do not recognize."): a sentence on its own is closer to what the model
    learned, and a garbled sentence from the recognizer no longer drags its neighbour down. Units that carry
    no request (identity details, thanks: `carries_request`) are left out, so they never set the intent.
    """
    units: list[tuple[int, str]] = []
    for index, text in enumerate(texts):
        split = sentences(text)
        whole = [(index, text)] if carries_request(text) else []
        parts = [(index, s) for s in split if carries_request(s)] if len(split) > 1 else []
        units += whole + parts
    return units


@lru_cache(maxsize=4096)
def sentences(text: str) -> tuple[str, ...]:
    """One turn's sentences, split once: live assist asks for every customer turn again at every event."""
    return tuple(s.text.strip() for s in _sentencizer()(text).sents if s.text.strip())


def detect_intents(
    model: IntentModel, texts: Sequence[str], *, min_confidence: float = MIN_INTENT_CONFIDENCE
) -> list[DetectedIntent]:
    """Primary and secondary intents of a contact from the customer's turns, in order.

    Each turn is classified on its own and sentence by sentence (``intent_units``); ``other`` and
    answers under ``min_confidence`` are ignored. Within a turn a label counts once, with its most
    confident unit. An intent's weight is the sum over its turns of confidence x evidence, where a
    unit of fewer than 5 words counts pro rata (a fragment such as "In store, contactless." answering
    an agent's question scores high on one keyword but says less than a full request). The heaviest
    intent is primary (ties: the earlier turn); the others follow in the order they were first
    expressed, each with the index (into ``texts``) of that turn. Returns ``[]`` when nothing qualifies.
    """
    units = intent_units(texts)
    predictions = model.predict([text for _, text in units])
    return intents_from_predictions(units, predictions, min_confidence=min_confidence)


def intents_from_predictions(
    units: Sequence[tuple[int, str]],
    predictions: Sequence[IntentPrediction],
    *,
    min_confidence: float = MIN_INTENT_CONFIDENCE,
) -> list[DetectedIntent]:
    """`detect_intents` on units (`intent_units`) already classified: callers that cache predictions use this."""
    per_turn: dict[tuple[str, int], tuple[float, float]] = {}  # (label, turn) -> (confidence, weight)
    for (index, text), prediction in zip(units, predictions, strict=True):
        if prediction.label == OTHER_LABEL or prediction.confidence < min_confidence:
            continue
        weight = prediction.confidence * min(1.0, len(text.split()) / FULL_EVIDENCE_WORDS)
        best = per_turn.get((prediction.label, index))
        if best is None or prediction.confidence > best[0]:
            per_turn[(prediction.label, index)] = (prediction.confidence, weight)
    found: dict[str, dict[str, float]] = {}
    for (label, index), (confidence, weight) in sorted(per_turn.items(), key=lambda item: item[0][1]):
        entry = found.setdefault(label, {"turn": index, "best": 0.0, "weight": 0.0, "support": 0})
        entry["best"] = max(entry["best"], confidence)
        entry["weight"] += weight
        entry["support"] += 1
    if not found:
        return []
    primary = max(found, key=lambda label: (found[label]["weight"], -found[label]["turn"]))
    ordered = [primary] + sorted((label for label in found if label != primary), key=lambda label: found[label]["turn"])
    return [
        DetectedIntent(
            label=label,
            confidence=found[label]["best"],
            turn=int(found[label]["turn"]),
            support=int(found[label]["support"]),
            primary=label == primary,
        )
        for label in ordered
    ]


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
