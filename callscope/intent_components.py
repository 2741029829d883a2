"""spaCy component that blends a TF-IDF linear intent model with the pipeline's ``textcat`` and calibrates.

``callscope_intent_blend`` runs after ``textcat``. It scores each doc with word and character n-gram
TF-IDF features and a linear model (scikit-learn, fit by ``models/intent/train.py``), adds a linear model
on the text's WordLlama sentence embedding (its weights ship inside the ``wordllama`` wheel), blends those
scores with the textcat's log-probabilities and a temperature into one calibrated softmax, and writes
it back to ``doc.cats``. Arrays are stored with the pipeline (``to_disk``/``from_disk``) as ``.npy``
and JSON files: no pickle, nothing fetched at run time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import ensure_path, minibatch

__all__ = ["BLEND_FACTORY", "Blend", "IntentBlend", "NgramFeatures", "blend_scores", "embed", "softmax", "word_pairs"]

BLEND_FACTORY = "callscope_intent_blend"
WORD_TOKEN_PATTERN = r"(?u)\b\w+\b"  # keep one-letter words ("i", "a") and the digit-mapped "0"
_WORD = re.compile(WORD_TOKEN_PATTERN)
_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "my",
        "i",
        "is",
        "it",
        "of",
        "for",
        "in",
        "on",
        "and",
        "or",
        "be",
        "me",
        "can",
        "you",
        "do",
        "how",
        "what",
        "why",
        "was",
        "this",
        "that",
        "have",
        "has",
        "with",
    ]
)
PAIR_STEM_CHARS = 5


def word_pairs(text: str) -> list[str]:
    """Unordered pairs of the content words of a text, each cut to a 5-letter stem.

    Short queries say the same thing in many word orders ("card not arrived" / "hasn't my card
    arrived"); pairs capture which words occur together anywhere in the text, which bigrams miss,
    and the crude stem lets "arrive"/"arrived"/"arrival" share a pair.
    """
    stems = sorted({word[:PAIR_STEM_CHARS] for word in _WORD.findall(text) if word not in _STOP_WORDS})
    return [f"{a}|{b}" for i, a in enumerate(stems) for b in stems[i + 1 :]]


ANALYZERS = {"word_pairs": word_pairs}  # callables stored by name, so the saved model stays plain JSON


@lru_cache(maxsize=1)
def load_embedder() -> Any:
    """WordLlama's 256-dimension model from the files inside its wheel (its own loader would go online for them)."""
    import wordllama
    from safetensors import safe_open
    from wordllama.inference import WordLlamaInference
    from wordllama.wordllama import WordLlama

    package = Path(wordllama.__file__).parent
    tokenizer = WordLlama.load_tokenizer(package / "tokenizers" / "l2_supercat_tokenizer_config.json")
    with safe_open(str(package / "weights" / "l2_supercat_256.safetensors"), framework="np", device="cpu") as f:
        embedding = f.get_tensor("embedding.weight")
    return WordLlamaInference(embedding, tokenizer, binary=False)


def embed(texts: Sequence[str]) -> np.ndarray:
    """One 256-dimension sentence embedding per text (a text without known tokens gets zeros)."""
    return np.nan_to_num(np.asarray(load_embedder().embed(list(texts)), dtype=np.float32))


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax that cannot overflow."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Blend:
    """Weights of the two score sources and the softmax temperature, fit on held-out predictions."""

    linear: float = 1.0
    textcat: float = 0.0
    temperature: float = 1.0


def blend_scores(linear_scores: np.ndarray, textcat_probs: np.ndarray, blend: Blend) -> np.ndarray:
    """Calibrated probabilities: softmax((a * linear + b * log p_textcat) / T)."""
    log_textcat = np.log(np.clip(textcat_probs, 1e-9, 1.0))
    return softmax((blend.linear * linear_scores + blend.textcat * log_textcat) / blend.temperature)


class NgramFeatures:
    """Word 1-n-gram and char_wb n-gram TF-IDF features, rebuilt from stored vocabularies and IDF weights."""

    def __init__(self, vectorizers: Sequence[TfidfVectorizer]) -> None:
        self.vectorizers = list(vectorizers)

    @classmethod
    def fit(
        cls, texts: Sequence[str], word_ngrams: int, char_ngrams: tuple[int, int], min_df: int, pairs_min_df: int
    ) -> NgramFeatures:
        """Fit the vocabularies and IDF weights on training texts (already normalized)."""
        vectorizers = [
            TfidfVectorizer(
                ngram_range=(1, word_ngrams), sublinear_tf=True, min_df=min_df, token_pattern=WORD_TOKEN_PATTERN
            ),
            TfidfVectorizer(analyzer="char_wb", ngram_range=char_ngrams, sublinear_tf=True, min_df=min_df),
        ]
        if pairs_min_df:
            vectorizers.append(TfidfVectorizer(analyzer=word_pairs, sublinear_tf=True, min_df=pairs_min_df))
        for vectorizer in vectorizers:
            vectorizer.fit(texts)
        return cls(vectorizers)

    @property
    def n_features(self) -> int:
        """Width of the feature matrix (sum over vectorizers)."""
        return sum(len(v.vocabulary_) for v in self.vectorizers)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Sparse TF-IDF rows for ``texts``: the vectorizers' blocks side by side."""
        return sparse.hstack([v.transform(texts) for v in self.vectorizers], format="csr", dtype=np.float32)

    def to_json(self) -> list[dict[str, Any]]:
        """Parameters and vocabulary (terms in column order) of each vectorizer; IDF goes to .npy."""
        return [
            {
                "analyzer": v.analyzer if isinstance(v.analyzer, str) else v.analyzer.__name__,
                "ngram_range": list(v.ngram_range),
                "token_pattern": v.token_pattern,
                "terms": [term for term, _ in sorted(v.vocabulary_.items(), key=lambda item: item[1])],
            }
            for v in self.vectorizers
        ]

    @classmethod
    def from_json(cls, specs: Sequence[dict[str, Any]], idfs: Sequence[np.ndarray]) -> NgramFeatures:
        """Rebuild fitted vectorizers without refitting: fixed vocabulary plus the stored IDF weights."""
        vectorizers = []
        for spec, idf in zip(specs, idfs, strict=True):
            vectorizer = TfidfVectorizer(
                analyzer=ANALYZERS.get(spec["analyzer"], spec["analyzer"]),
                ngram_range=tuple(spec["ngram_range"]),
                token_pattern=spec["token_pattern"],
                sublinear_tf=True,
                vocabulary={term: i for i, term in enumerate(spec["terms"])},
                dtype=np.float32,
            )
            vectorizer.fit([""])  # validates the fixed vocabulary; the IDF is replaced right after
            vectorizer.idf_ = idf.astype(np.float64)
            vectorizers.append(vectorizer)
        return cls(vectorizers)


class IntentBlend:
    """Linear TF-IDF intent scores blended with ``textcat`` into calibrated ``doc.cats``."""

    def __init__(self, nlp: Language, name: str, textcat: str) -> None:
        self.name = name
        self.textcat = textcat
        self.labels: list[str] = []
        self.features: NgramFeatures | None = None
        self.coef = np.zeros((0, 0), dtype=np.float32)
        self.intercept = np.zeros(0, dtype=np.float32)
        self.embedding_coef: np.ndarray | None = None
        self.blend = Blend()

    def set_model(
        self,
        labels: Sequence[str],
        features: NgramFeatures,
        coef: np.ndarray,
        intercept: np.ndarray,
        blend: Blend,
        embedding_coef: np.ndarray | None = None,
    ) -> None:
        """Install a model fit outside spaCy (coef: n_features x n_labels, columns in ``labels`` order).

        ``embedding_coef`` (256 x n_labels, already weighted) scores the WordLlama embedding; its intercept is
        folded into ``intercept``.
        """
        if coef.shape != (features.n_features, len(labels)) or intercept.shape != (len(labels),):
            raise ValueError(f"coef {coef.shape} / intercept {intercept.shape} do not fit the features and labels")
        if embedding_coef is not None and embedding_coef.shape[1:] != (len(labels),):
            raise ValueError(f"embedding coef {embedding_coef.shape} does not fit the labels")
        self.labels = list(labels)
        self.features = features
        self.coef = coef.astype(np.float32)
        self.intercept = intercept.astype(np.float32)
        self.embedding_coef = None if embedding_coef is None else embedding_coef.astype(np.float32)
        self.blend = blend

    def linear_scores(self, texts: Sequence[str]) -> np.ndarray:
        """Decision scores of the linear models (one row per text, columns in ``labels`` order)."""
        if self.features is None:
            raise ValueError(f"component {self.name!r} has no model: train it with models/intent/train.py")
        scores = np.asarray(self.features.transform(texts) @ self.coef) + self.intercept
        if self.embedding_coef is not None:
            scores += embed(texts) @ self.embedding_coef
        return scores

    def __call__(self, doc: Doc) -> Doc:
        """Score one doc (``pipe`` is the fast path)."""
        return next(self.pipe([doc]))

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 256) -> Iterator[Doc]:
        """Score docs in batches: one sparse product per batch keeps throughput high."""
        for batch in minibatch(stream, size=batch_size):
            linear = self.linear_scores([doc.text for doc in batch])
            textcat = np.array([[doc.cats.get(label, 0.0) for label in self.labels] for doc in batch])
            probs = blend_scores(linear, textcat, self.blend)
            for doc, row in zip(batch, probs, strict=True):
                doc.cats = dict(zip(self.labels, row.tolist(), strict=True))
                yield doc

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        """Write labels, vocabularies and blend as JSON, IDF and weights as .npy (float16 weights halve the size)."""
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self.features is None:
            raise ValueError(f"component {self.name!r} has no model to save")
        meta = {
            "labels": self.labels,
            "features": self.features.to_json(),
            "blend": {
                "linear": self.blend.linear,
                "textcat": self.blend.textcat,
                "temperature": self.blend.temperature,
            },
        }
        (path / "model.json").write_text(json.dumps(meta), encoding="utf-8")
        for i, vectorizer in enumerate(self.features.vectorizers):
            np.save(path / f"idf{i}.npy", vectorizer.idf_.astype(np.float32))
        np.save(path / "coef.npy", self.coef.astype(np.float16))
        np.save(path / "intercept.npy", self.intercept.astype(np.float32))
        if self.embedding_coef is not None:
            np.save(path / "embedding_coef.npy", self.embedding_coef)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> IntentBlend:
        """Load what ``to_disk`` wrote (``allow_pickle`` stays off)."""
        path = ensure_path(path)
        meta = json.loads((path / "model.json").read_text(encoding="utf-8"))
        specs = meta["features"]
        idfs = [np.load(path / f"idf{i}.npy") for i in range(len(specs))]
        self.set_model(
            meta["labels"],
            NgramFeatures.from_json(specs, idfs),
            np.load(path / "coef.npy").astype(np.float32),
            np.load(path / "intercept.npy"),
            Blend(**meta["blend"]),
            np.load(path / "embedding_coef.npy") if (path / "embedding_coef.npy").exists() else None,
        )
        return self


@Language.factory(BLEND_FACTORY, default_config={"textcat": "textcat"})
def make_intent_blend(nlp: Language, name: str, textcat: str) -> IntentBlend:
    """Factory used by ``spacy.load`` (importing this module registers it)."""
    return IntentBlend(nlp, name, textcat)
