"""Knowledge-base suggestions for live agent assist: Markdown articles ranked by intent match and BM25.

Articles are Markdown files in a folder (`kb/` by default), each with a front-matter header naming the
Banking77 intents it serves. The BM25 index (the `bm25s` library) is built once per process and folder;
next best actions come from a YAML table of intent groups (`callscope/data/next_actions.yaml`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import bm25s
import numpy as np
import yaml
from pydantic import BaseModel
from spacy.lang.en.stop_words import STOP_WORDS

SuggestionKind = Literal["compliance", "action", "article"]
LOW_CONFIDENCE = 0.35  # the routing table's own threshold for "intent unclear"
OTHER = "other"  # what an intent model with a fallback answers when no intent is clear
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_TOKEN = re.compile(r"[a-z0-9]+")
_SUFFIXES = ("ing", "ed", "es", "s")  # light stemming: "blocked"/"blocks"/"blocking" all meet "block"


class Suggestion(BaseModel):
    """One item on the agent's panel; `reason` says why it is shown."""

    title: str
    kind: SuggestionKind
    reason: str
    score: float = 0.0
    ref: str | None = None  # article file stem or compliance rule id
    snippet: str | None = None


@dataclass(frozen=True)
class Article:
    ref: str
    title: str
    intents: tuple[str, ...]
    body: str
    terms: frozenset[str] = frozenset()  # its tokens, to say which query words matched

    @property
    def snippet(self) -> str:
        """The first lines of content after the heading, for the panel."""
        lines = [ln.strip() for ln in self.body.splitlines() if ln.strip() and not ln.startswith("#")]
        return " ".join(lines)[:280]


@dataclass
class KnowledgeBase:
    articles: list[Article]
    retriever: Any  # bm25s.BM25 over title + body tokens
    actions: dict[str, list[dict[str, str]]]  # intent -> next steps
    unclear: list[dict[str, str]] = field(default_factory=list)


def tokenize(text: str) -> list[str]:
    """Lowercase words minus stop words, lightly stemmed; the same for articles and queries."""
    tokens = []
    for word in _TOKEN.findall(text.lower()):
        if word in STOP_WORDS:
            continue
        for suffix in _SUFFIXES:
            if len(word) > len(suffix) + 3 and word.endswith(suffix):
                word = word[: -len(suffix)]
                break
        tokens.append(word)
    return tokens


def parse_article(path: Path) -> Article:
    """Front matter (`title`, `intents`) then the Markdown body; the first `# ` heading is the fallback title."""
    text = path.read_text(encoding="utf-8")
    meta: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            meta = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: the front matter is not valid YAML: {exc}") from exc
        text = text[match.end() :]
    heading = next((ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")), path.stem)
    intents = meta.get("intents") or []
    if isinstance(intents, str):
        intents = [i.strip() for i in intents.split(",") if i.strip()]
    title = str(meta.get("title") or heading)
    return Article(path.stem, title, tuple(intents), text, frozenset(tokenize(f"{title} {text}")))


@lru_cache(maxsize=4)
def load_kb(folder: str | Path, actions_path: str | Path) -> KnowledgeBase:
    """Read every article and build the BM25 index once per process (per folder and table)."""
    paths = sorted(p for p in Path(folder).glob("*.md") if p.name.lower() != "readme.md")
    if not paths:
        raise FileNotFoundError(f"no knowledge-base articles (*.md) in {folder}")
    articles = [parse_article(p) for p in paths]
    retriever = bm25s.BM25()
    retriever.index([tokenize(f"{a.title} {a.title} {a.body}") or ["-"] for a in articles], show_progress=False)
    table = yaml.safe_load(Path(actions_path).read_text()) or {}
    actions: dict[str, list[dict[str, str]]] = {}
    for group in table.get("actions") or []:
        for intent in group.get("intents", []):
            actions.setdefault(intent, []).extend(group.get("steps", []))
    return KnowledgeBase(articles=articles, retriever=retriever, actions=actions, unclear=table.get("unclear") or [])


def next_actions(kb: KnowledgeBase, *, intent: str | None, confidence: float) -> list[Suggestion]:
    """The intent's steps from the table; an unclear intent gets the table's clarifying steps."""
    if intent is None or intent == OTHER or confidence < LOW_CONFIDENCE:
        why = "no customer words yet" if intent is None else f"intent unclear ({intent} at {confidence:.2f})"
        return [Suggestion(title=s["title"], kind="action", reason=f"{why}: {s['reason']}") for s in kb.unclear]
    return [
        Suggestion(title=s["title"], kind="action", reason=f"{intent}: {s['reason']}", score=round(confidence, 3))
        for s in kb.actions.get(intent, [])
    ]


def rank_articles(
    kb: KnowledgeBase, *, intent: str | None, entities: Sequence[str], text: str, k: int = 3
) -> list[Suggestion]:
    """Articles written for the intent first, then by BM25 over the customer's words, the entities and the intent."""
    query = tokenize(" ".join([text, *entities, (intent or "").replace("_", " ")]))
    scores = np.asarray(kb.retriever.get_scores(query), dtype=float) if query else np.zeros(len(kb.articles))
    top = float(scores.max()) if scores.size and scores.max() > 0 else 1.0
    combined = [
        (float(intent is not None and intent in article.intents) + float(score) / top, i)
        for i, (article, score) in enumerate(zip(kb.articles, scores, strict=True))
        if score > 0 or (intent is not None and intent in article.intents)
    ]
    query_set = set(query)
    ranked: list[Suggestion] = []
    for score, i in sorted(combined, key=lambda item: -item[0])[:k]:
        article = kb.articles[i]
        matched = sorted(query_set & article.terms)[:5]
        parts = [f"written for intent {intent}"] if intent is not None and intent in article.intents else []
        if matched:
            parts.append("matches " + ", ".join(matched))
        ranked.append(
            Suggestion(
                title=article.title,
                kind="article",
                reason="; ".join(parts),
                score=round(score, 3),
                ref=article.ref,
                snippet=article.snippet,
            )
        )
    return ranked


def suggest(
    kb: KnowledgeBase,
    *,
    intent: str | None,
    entities: Sequence[str],
    text: str,
    confidence: float = 1.0,
    k: int = 3,
) -> list[Suggestion]:
    """Next best actions for the intent, then the top `k` articles (intent match plus BM25 rank)."""
    clear = intent if intent != OTHER and confidence >= LOW_CONFIDENCE else None
    articles = rank_articles(kb, intent=clear, entities=entities, text=text, k=k)
    return [*next_actions(kb, intent=intent, confidence=confidence), *articles]


_AMOUNT = re.compile(r"(?:[£$€]\s?\d[\d,]*(?:\.\d\d)?|\b\d[\d,]*(?:\.\d\d)?\s?(?:pounds|euros?|dollars|gbp|eur|usd)\b)",
                     re.IGNORECASE)  # fmt: skip
_CURRENCY = re.compile(r"\b(?:gbp|eur|usd|chf|jpy|pounds?|euros?|dollars?|yen|francs?|sterling)\b", re.IGNORECASE)
_PRODUCTS = re.compile(
    r"\b(?:atm|cash machine|apple pay|google pay|direct debit|standing order|contactless|pin|top[ -]?up|"
    r"transfer|refund|virtual card|disposable card|credit card|debit card|card|account|app|cheque|iban)s?\b",
    re.IGNORECASE,
)


def extract_entities(text: str) -> list[dict[str, str]]:
    """Amounts, currencies and banking products named so far (each once, in order), for ranking and the panel."""
    found: dict[tuple[str, str], None] = {}
    for kind, pattern in (("amount", _AMOUNT), ("currency", _CURRENCY), ("product", _PRODUCTS)):
        for match in pattern.finditer(text):
            value = match.group(0).strip()
            found.setdefault((kind, value if kind == "amount" else value.lower()), None)
    return [{"type": kind, "text": value} for kind, value in found]
