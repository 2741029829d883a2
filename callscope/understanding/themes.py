"""Themes: groups of similar customer requests that nobody named, found without being told how many there are.

Each request (small talk cut, `strip_small_talk`) is embedded by the shipped sentence encoder; the texts form a graph
in which each is joined to its nearest neighbours by cosine similarity, and the number of themes is where the graph's
normalized Laplacian has its largest eigengap (the number of well-separated groups). Spectral clustering then cuts the
graph into that many groups; groups under `min_size` are left unassigned. A theme is named by its most distinctive
words (class-based TF-IDF: frequent in the theme, rare in the others), and shows the members nearest its centre.
Chosen on CLINC150 train utterances; measured against k-means given the true number of groups in
`bench/bench_themes.py`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import eigsh
from sklearn.cluster import SpectralClustering
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from sklearn.neighbors import kneighbors_graph

from callscope.understanding.custom_intents import embed_requests
from callscope.understanding.intent import normalize_text

NEIGHBOURS = 15  # at most; fewer for few texts: a neighbour list longer than a group reaches into other groups
EXAMPLES = 3
NAME_WORDS = 3
_DENSE_UP_TO = 2000  # texts whose Laplacian is solved whole; above, the leading eigenvalues only
_NOT_NAMES = frozenset({"0", "like", "want", "need", "just", "know", "can", "could", "would", "please", "hi", "hello"})


@dataclass(frozen=True)
class Theme:
    name: str
    size: int
    members: list[int]  # positions in the texts given
    examples: list[str]


def _affinity(embedded: np.ndarray, min_size: int) -> sparse.csr_matrix:
    neighbours = min(NEIGHBOURS, max(min_size, len(embedded) // 25), len(embedded) - 1)
    graph = kneighbors_graph(embedded, neighbours, metric="cosine", include_self=False)
    return sparse.csr_matrix(0.5 * (graph + graph.T))


def _eigengap_groups(affinity: sparse.csr_matrix, most: int) -> int:
    """How many well-separated groups the graph holds: the largest gap among its Laplacian's smallest eigenvalues."""
    degree = np.asarray(affinity.sum(axis=1)).ravel()
    scale = sparse.diags(1 / np.sqrt(np.maximum(degree, 1e-12)))
    normalized = scale @ affinity @ scale  # eigenvalues 1 - those of the normalized Laplacian
    wanted = min(most + 1, affinity.shape[0] - 1)
    if affinity.shape[0] <= _DENSE_UP_TO:
        values = 1 - np.linalg.eigvalsh(normalized.toarray())[::-1][:wanted]
    else:
        values = np.sort(1 - eigsh(normalized, k=wanted, which="LA", return_eigenvectors=False))
    gaps = np.diff(values)
    return int(np.argmax(gaps[1:]) + 2) if len(gaps) > 1 else 1  # at least two groups once there is a choice


def _names(texts: Sequence[str], groups: list[list[int]]) -> list[str]:
    """Each group's most distinctive words (class-based TF-IDF over the groups' joined texts)."""
    counter = CountVectorizer(stop_words=sorted(ENGLISH_STOP_WORDS | _NOT_NAMES), token_pattern=r"(?u)\b[a-z]{3,}\b")
    try:
        counts = counter.fit_transform([" ".join(normalize_text(texts[i]) for i in g) for g in groups]).toarray()
    except ValueError:  # no word left to name anything by
        return [f"theme {n + 1}" for n in range(len(groups))]
    words = counter.get_feature_names_out()
    frequency = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    weight = np.log(1 + counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1))
    names = []
    for n, row in enumerate(frequency * weight):
        top = [words[i] for i in np.argsort(-row)[:NAME_WORDS] if row[i] > 0]
        names.append(" ".join(top) or f"theme {n + 1}")
    return names


def find_themes(texts: Sequence[str], *, min_size: int = 5) -> tuple[list[Theme], list[int]]:
    """The themes among `texts`, largest first, and the positions of the texts in none of them."""
    if min_size < 2:
        raise ValueError("min_size must be at least 2")
    usable = [i for i, t in enumerate(texts) if t.strip()]
    if len(usable) < 2 * min_size:
        return [], list(range(len(texts)))
    embedded = embed_requests([texts[i] for i in usable])
    affinity = _affinity(embedded, min_size)
    count = _eigengap_groups(affinity, most=max(2, len(usable) // min_size))
    with warnings.catch_warnings():  # a graph in pieces is what well-separated themes make: nothing to warn about
        warnings.filterwarnings("ignore", message="Graph is not fully connected")
        spectral = SpectralClustering(count, affinity="precomputed", assign_labels="cluster_qr", random_state=0)
        labels = spectral.fit_predict(affinity)
    groups = [[usable[j] for j in np.flatnonzero(labels == g)] for g in range(count)]
    groups = sorted((g for g in groups if len(g) >= min_size), key=len, reverse=True)
    assigned = {i for g in groups for i in g}
    position = {i: j for j, i in enumerate(usable)}
    themes = []
    for name, group in zip(_names(texts, groups), groups, strict=True):
        rows = embedded[[position[i] for i in group]]
        nearest = np.argsort(-(rows @ rows.mean(axis=0)))[:EXAMPLES]
        themes.append(Theme(name, len(group), sorted(group), [texts[group[k]] for k in nearest]))
    return themes, [i for i in range(len(texts)) if i not in assigned]
