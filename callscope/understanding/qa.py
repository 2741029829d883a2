"""Automatic quality scoring: a tenant's evaluation form answered for every contact, with evidence.

A form is a list of questions, each with a weight, the intents and channels it applies to, and the check that
answers it (`CHECKS`). Every answer is `yes`, `no` or `n/a` with the turns that show it and a confidence; the score
is the weighted share of `yes` among the questions answered yes or no (0-100; None when none applies). A
supervisor's override replaces an answer (`override`) and the score follows it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import re2
import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from callscope.contacts import Turn, check_text
from callscope.errors import InvalidInput
from callscope.understanding import compliance
from callscope.understanding.summary import AGENT_SPEAKERS
from callscope.understanding.vocabulary import SPOKEN_DIGITS, alternation

DEFAULT_FORM_PATH = Path(__file__).resolve().parent.parent / "data" / "qa_form.yaml"
Answer = Literal["yes", "no", "n/a"]
ANSWERS: tuple[str, ...] = ("yes", "no", "n/a")


MAX_PATTERN_CHARS = 500
# the checks' numeric parameters and their ranges: a form is refused when it is saved, not failed at each contact
NUMBER_PARAMS: dict[str, tuple[float, float]] = {
    "turns": (0, 1000), "within_agent_turns": (0, 1000), "last_agent_turns": (0, 1000),
    "max_agent_interruptions": (0, 1000), "silence_s": (0, 86_400), "hold_s": (0, 86_400),
    "negative_below": (-1, 1),
}  # fmt: skip


@lru_cache(maxsize=512)
def tenant_pattern(pattern: str) -> Any:
    """A tenant's phrase pattern, compiled by RE2: matching time is linear in the text whatever the pattern
    (`(a+)+$` costs what `a+$` does), and what RE2 cannot promise that for (backreferences, lookarounds) is refused."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"a phrase pattern is at most {MAX_PATTERN_CHARS} characters")
    options = re2.Options()
    options.case_sensitive = False
    options.max_mem = 8 << 20  # a pattern whose automaton needs more is refused, not built
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raise ValueError(f"phrase pattern does not compile (RE2 syntax): {exc}") from exc


class Question(BaseModel):
    id: str = Field(pattern=r"^[a-z0-9_]{1,60}$")
    text: str = Field(min_length=1, max_length=300)
    weight: float = Field(default=1.0, gt=0, le=100)
    intents: list[str] | None = Field(default=None, description="only contacts with one of these intents")
    channels: list[Literal["voice", "sms", "chat"]] | None = None
    check: dict[str, Any] = Field(description="`type` (one of CHECKS) and that check's parameters")

    @field_validator("check")
    @classmethod
    def _known_check(cls, value: dict[str, Any]) -> dict[str, Any]:
        kind = value.get("type")
        if kind not in CHECKS:
            raise ValueError(f"unknown check type {kind!r}: expected one of {', '.join(sorted(CHECKS))}")
        if kind == "phrase":
            if not value.get("pattern"):
                raise ValueError("a phrase check needs a `pattern`")
            tenant_pattern(str(value["pattern"]))
        for name, given in value.items():
            if isinstance(given, float) and not math.isfinite(given):
                raise ValueError(f"check parameter {name!r} must be a finite number")
            if isinstance(given, str) and len(given) > MAX_PATTERN_CHARS:
                raise ValueError(f"check parameter {name!r} is over {MAX_PATTERN_CHARS} characters")
            low, high = NUMBER_PARAMS.get(name, (None, None))
            if low is not None and (isinstance(given, bool) or not isinstance(given, int | float)
                                    or not low <= given <= high):  # fmt: skip
                raise ValueError(f"check parameter {name!r} must be a number from {low} to {high}")
        return value


class Form(BaseModel):
    id: str = Field(pattern=r"^[a-z0-9_-]{1,60}$")
    name: str = Field(min_length=1, max_length=200)
    version: int = 1
    channels: list[Literal["voice", "sms", "chat"]] | None = Field(
        default=None, description="the channels the form scores (all when absent)"
    )
    questions: list[Question] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _unique_ids(self) -> Form:
        ids = [q.id for q in self.questions]
        if len(ids) != len(set(ids)):
            raise ValueError("question ids must be unique within a form")
        return self


MAX_FORM_DATA_CHARS = 256 * 1024  # a form as data, once read: what a 256 KB text may hold, never more


class _PlainLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a 450-byte document of nested aliases expands to tens of megabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None):
            raise InvalidInput("YAML anchors and aliases are not accepted in a form: write each question out")
        return super().compose_node(parent, index)


def load_form_data(raw: str | bytes) -> Any:
    """A form's text, JSON or YAML (YAML reads JSON too), as data: no aliases, no deep nesting, no more data than
    `MAX_FORM_DATA_CHARS`."""
    try:
        data = yaml.load(raw, Loader=_PlainLoader)  # noqa: S506 (a SafeLoader without aliases)
    except RecursionError as exc:
        raise InvalidInput("the form is nested too deeply") from exc
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"the form is neither JSON nor YAML: {str(exc)[:300]}") from exc
    try:
        text = json.dumps(data, default=str, ensure_ascii=False)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"the form cannot be read as data: {str(exc)[:100]}") from exc
    check_text(text.replace("\\u0000", "\x00"), where="the form")  # no NUL byte, no lone surrogate
    if len(text) > MAX_FORM_DATA_CHARS:
        raise InvalidInput(f"the form holds more than {MAX_FORM_DATA_CHARS} characters of data", 413)
    return data


def parse_form(data: Any) -> Form:
    """A form from data (or its JSON/YAML text); a bad form raises InvalidInput with the reason."""
    if isinstance(data, str | bytes):
        data = load_form_data(data)
    try:
        return Form.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "form"
        raise InvalidInput(f"invalid form: {where}: {first['msg']}") from exc


@lru_cache(maxsize=1)
def default_form() -> Form:
    """The form that ships with Callscope, used until a tenant defines its own."""
    return parse_form(DEFAULT_FORM_PATH.read_text())


@dataclass(frozen=True)
class Contact:
    """What the checks read: the stored turns and the analysis made of them."""

    turns: Sequence[Turn]
    channel: str
    intent: str | None = None
    sentiment_scores: Sequence[float] = ()
    features: dict[str, Any] = field(default_factory=dict)
    actions: Sequence[str] = ()  # summary action names (callscope.understanding.summary)


@dataclass(frozen=True)
class Result:
    answer: Answer
    evidence: list[int]
    confidence: float
    why: str


def _agent(c: Contact) -> list[int]:
    return [i for i, t in enumerate(c.turns) if t.speaker in AGENT_SPEAKERS]


def _matches(c: Contact, indices: Iterable[int], pattern: re.Pattern[str]) -> list[int]:
    return [i for i in indices if pattern.search(c.turns[i].text)]


_GREETING = re.compile(
    r"\b(?:hello|hi|hiya|hey|good\s+(?:morning|afternoon|evening|day)|morning|afternoon|welcome|greetings|"
    r"thanks?\s+(?:you\s+)?for\s+(?:calling|contacting|getting\s+in\s+touch|reaching\s+out|waiting|holding|"
    r"your\s+(?:message|patience)))\b",
    re.IGNORECASE,
)
# A name is told by the words around it, not by capitals: recognizers write "northfield bank" as often as
# "Northfield Bank" (faster-whisper one window at a time did), and some write no capitals at all. The word before
# "Bank" (or before "customer services") must not be one that makes it any bank: "the bank", "your bank".
_NOT_A_NAME = (
    r"(?!(?:the|a|an|your|my|our|their|his|her|its|this|that|these|those|any|which|what|another|other|same|to|from|"
    r"with|at|by|for|of|in|on|into|via|and|or|is|are|was|calling|contacting|online|mobile|internet|telephone|phone|"
    r"local|new|customer|card|help|support|service|team|contact)\b)"
)
_BANK_NAME = re.compile(
    rf"\b{_NOT_A_NAME}[a-z][\w&'-]*\s+(?:bank|banking|savings|building\s+society|credit\s+union|financial|finance|"
    r"mutual|trust)\b|\b(?:welcome\s+to|you've\s+reached|you\s+have\s+reached|(?:you're|you\s+are)\s+"
    rf"(?:through|speaking)\s+to|calling|contacting|this\s+is)\s+(?:the\s+)?(?:{_NOT_A_NAME}[a-z][\w&'-]+\s+)+"
    r"(?:customer|card|help|support|service|team|contact)",
    re.IGNORECASE,
)


def greeting(c: Contact, params: dict[str, Any]) -> Result:
    """The agent greeted the customer and named the bank in their first turns."""
    first = _agent(c)[: int(params.get("within_agent_turns", 2))]
    greeted = _matches(c, first, _GREETING)
    name = re.compile(re.escape(params["bank_name"]), re.IGNORECASE) if params.get("bank_name") else _BANK_NAME
    named = _matches(c, first, name)
    if greeted and named:
        return Result("yes", sorted({greeted[0], named[0]}), 0.9, "greeted and gave the bank's name")
    missing = "a greeting" if not greeted else "the bank's name"
    return Result("no", first[:1], 0.75, f"no {missing} in the agent's first turns")


# the agent talking about this customer's own account (not products in general)
_OWN_ACCOUNT = re.compile(
    r"\bI\s+can\s+see\s+(?:the|your|a|an|that|two|three|\d)|\bI've\s+got\s+(?:your|a|the)\b|\byour\s+(?:\w+\s+)?(?:balance|"
    r"statement|transactions?|direct\s+debits?|standing\s+orders?|overdraft\s+(?:line|limit)|account\s+balance)\b|"
    rf"\b(?:ending|ends\s+in)\s+(?:\d|(?:{alternation(SPOKEN_DIGITS)})\b)|"
    r"\[(?:ACCOUNT|CARD|IBAN|SORT_CODE)[^\]]*\]|\bthere's\s+a\s+balance\b|\bon\s+(?:your|the)\s+account\b",
    re.IGNORECASE,
)


def identity_check(c: Contact, params: dict[str, Any]) -> Result:
    """Identity verified before account details were discussed or the account was acted on."""
    verified = compliance.verified_at(c.turns)
    details = [i for i in _agent(c) if _OWN_ACCOUNT.search(c.turns[i].text)]
    account_actions = {"block_card", "order_card", "raise_dispute", "refund", "waive_fee", "reset_credentials",
                       "update_details", "cancel_payment", "set_up_payment", "close_account"}  # fmt: skip
    acted = bool(account_actions & set(c.actions))
    if not details and not acted:
        if verified is not None:
            return Result("yes", [verified], 0.6, "identity was checked (no account details came up)")
        return Result("n/a", [], 0.7, "the contact did not touch the customer's account")
    if verified is None:
        return Result("no", details[:1], 0.8, "account details or actions without an identity check")
    early = [i for i in details if i < verified]
    if early:
        return Result("no", [early[0], verified], 0.7, "the agent discussed account details before the check")
    return Result("yes", [verified], 0.85, "identity verified before account details")


_UPSET = re.compile(
    r"\b(?:ridiculous|frustrat\w*|annoy\w*|angry|furious|upset|worr(?:ied|ying)|stress\w*|unacceptable|fed\s+up|"
    r"joke|panic\w*|scared|disgust\w*|appalling|terrible|awful|livid|sick\s+of|nightmare|shocking|disgrace\w*|"
    r"not\s+happy|really\s+bad|can't\s+believe|cannot\s+believe|third\s+time|again\?|anxious|concerned|distress\w*|"
    r"really\s+need|urgent\w*|desperate\w*|seriously\?*|honestly|passed\s+around|no\s+idea|oh\s+no|help\s+me)\b",
    re.IGNORECASE,
)
_EMPATHY = re.compile(
    r"\b(?:sorry|apologi[sz]e|apologies|(?:i|i\s+completely|i\s+totally|i\s+fully)\s+understand|understandabl[ey]|"
    r"i\s+can\s+(?:imagine|see\s+why|appreciate)|must\s+(?:be|have\s+been)\s+\w+|that's\s+(?:awful|not\s+good|"
    r"frustrating|worrying|horrible|terrible|really\s+\w+)|i\s+hear\s+you|don't\s+worry|rest\s+assured|"
    r"that\s+sounds\s+(?:\w+\s+)?(?:stressful|frustrating|worrying|awful|difficult|horrible)|i\s+know\s+how)\b",
    re.IGNORECASE,
)


def empathy(c: Contact, params: dict[str, Any]) -> Result:
    """When the customer was upset, the agent acknowledged it."""
    threshold = float(params.get("negative_below", -0.4))
    upset = [
        i for i, t in enumerate(c.turns)
        if t.speaker == "customer"
        and (_UPSET.search(t.text) or (i < len(c.sentiment_scores) and c.sentiment_scores[i] <= threshold))
    ]  # fmt: skip
    if not upset:
        return Result("n/a", [], 0.7, "the customer was not upset")
    first_said = next((i for i, t in enumerate(c.turns) if t.speaker == "customer"), 0)  # agents may answer the issue
    shown = [i for i in _agent(c) if i > first_said and _EMPATHY.search(c.turns[i].text)]
    if shown:
        return Result("yes", [upset[0], shown[0]], 0.85, "the agent acknowledged how the customer felt")
    return Result("no", [upset[0]], 0.75, "the customer was upset and the agent did not acknowledge it")


_HOLD_ASK = re.compile(
    r"\b(?:hold|bear\s+with\s+me|(?:one|a|just\s+a)\s+(?:moment|minute|sec(?:ond)?|mo)|give\s+me\s+(?:a|one)\s+"
    r"(?:moment|minute|sec(?:ond)?)|let\s+me\s+(?:just\s+)?(?:check|look|have\s+a\s+look|pull|find|see|go)|"
    r"while\s+i\s+(?:check|look|pull|find|speak|see)|i'll\s+(?:just\s+)?(?:check|look|be\s+right\s+back)|"
    r"(?:pop|put)\s+you\s+on\s+hold|bear\s+with\s+us|won't\s+be\s+long)\b",
    re.IGNORECASE,
)
_HOLD_THANKS = re.compile(
    r"\b(?:thanks?\s+(?:you\s+)?(?:so\s+much\s+|very\s+much\s+)?(?:for\s+(?:holding|waiting|your\s+patience|bearing"
    r"|hanging\s+on|being\s+patient)|for\s+that)|sorry\s+(?:to\s+keep|for\s+(?:keeping|the\s+wait|the\s+delay|making))|"
    r"appreciate\s+(?:your\s+patience|you\s+waiting)|thanks\s+for\s+bearing)\b",
    re.IGNORECASE,
)


def _gaps(c: Contact, min_s: float) -> list[tuple[int, int, float]]:
    """(turn before, turn after, seconds) for every stretch over `min_s` with nobody talking (voice)."""
    order = sorted(range(len(c.turns)), key=lambda i: c.turns[i].start)
    gaps, talking_until, last = [], None, None
    for i in order:
        turn = c.turns[i]
        if talking_until is not None and last is not None and turn.start - talking_until >= min_s:
            gaps.append((last, i, turn.start - talking_until))
        if talking_until is None or max(turn.start, turn.end) >= talking_until:
            talking_until, last = max(turn.start, turn.end), i
    return gaps


def _announced(c: Contact, before: int) -> bool:
    """The agent's last turn up to `before` says a hold or a check is coming."""
    agent = [i for i in _agent(c) if i <= before][-1:]
    return bool(_matches(c, agent, _HOLD_ASK))


def hold_etiquette(c: Contact, params: dict[str, Any]) -> Result:
    """Before a hold the agent said so, after it the agent thanked the customer."""
    holds = _gaps(c, float(params.get("hold_s", 20)))
    if c.channel != "voice" or not holds:
        return Result("n/a", [], 0.8, "no hold")
    for before, after, seconds in holds:
        thanked = [i for i in _agent(c) if i >= after][:1]
        if not _announced(c, before):
            return Result("no", [before, after], 0.75, f"a {seconds:.0f} s hold without telling the customer")
        if not _matches(c, thanked, _HOLD_THANKS):
            return Result("no", [before, after], 0.7, f"no thanks after a {seconds:.0f} s hold")
    return Result("yes", [holds[0][0], holds[0][1]], 0.8, "every hold announced and thanked for")


def recording_notice(c: Contact, params: dict[str, Any]) -> Result:
    """A voice call was told it is recorded."""
    if c.channel != "voice":
        return Result("n/a", [], 0.95, "not a call")
    said = _matches(c, _agent(c), compliance.RECORDING_NOTICE)
    if said:
        return Result("yes", said[:1], 0.9, "the agent said the call is recorded")
    return Result("no", [], 0.8, "no recording notice")


def disclosure(c: Contact, params: dict[str, Any]) -> Result:
    """The disclosure the contact needs: card cancellation, dispute or refund timescale, account closure terms."""
    agent = _agent(c)
    due: list[tuple[str, re.Pattern[str]]] = []
    if "block_card" in c.actions:
        due.append(("card cancellation", compliance.CANCEL_DISCLOSED))
    if {"raise_dispute", "refund"} & set(c.actions):
        due.append(("timescale", compliance.TIMESCALE))
    if "close_account" in c.actions or c.intent == "terminate_account":
        due.append(("closure terms", compliance.CLOSURE_DISCLOSED))
    if not due:
        return Result("n/a", [], 0.75, "no disclosure needed")
    missing = [name for name, pattern in due if not _matches(c, agent, pattern)]
    evidence = sorted({i for _, pattern in due for i in _matches(c, agent, pattern)[:1]})
    if missing:
        return Result("no", evidence, 0.7, "not disclosed: " + ", ".join(missing))
    return Result("yes", evidence, 0.8, "disclosed: " + ", ".join(name for name, _ in due))


_FURTHER_HELP = re.compile(
    r"\b(?:anything\s+else|something\s+else|any(?:thing)?\s+more|any\s+other\s+\w+|is\s+there\s+more|"
    r"further\s+(?:help|assistance|questions?)|help\s+(?:you\s+)?with\s+(?:anything|today)|else\s+i\s+can|"
    r"all\s+you\s+needed|that\s+everything)\b",
    re.IGNORECASE,
)
_POLITE_CLOSE = re.compile(
    r"\b(?:bye|goodbye|good\s+bye|have\s+a\s+(?:good|great|nice|lovely|wonderful)|take\s+care|enjoy\s+(?:the|your)|"
    r"thanks?\s+(?:you\s+)?(?:so\s+much\s+|very\s+much\s+)?for\s+(?:calling|contacting|getting\s+in\s+touch|your\s+"
    r"(?:call|time|patience|message)|choosing|banking|being)|all\s+the\s+best|speak\s+soon|cheers|you're\s+welcome)\b",
    re.IGNORECASE,
)


def closing(c: Contact, params: dict[str, Any]) -> Result:
    """At the end the agent offered further help and closed politely."""
    last = _agent(c)[-int(params.get("last_agent_turns", 3)) :]
    offered = _matches(c, last, _FURTHER_HELP)
    polite = _matches(c, last, _POLITE_CLOSE)
    if offered and polite:
        return Result("yes", sorted({offered[0], polite[-1]}), 0.85, "offered further help and closed politely")
    missing = " and ".join(n for n, ok in (("further help", offered), ("a polite close", polite)) if not ok)
    return Result("no", last[-1:], 0.75, f"no {missing} at the end")


def no_interruptions(c: Contact, params: dict[str, Any]) -> Result:
    """The agent did not cut into the customer repeatedly."""
    if c.channel != "voice":
        return Result("n/a", [], 0.95, "not a call")
    limit = int(params.get("max_agent_interruptions", 1))
    cuts = _agent_cuts(c)
    if len(cuts) > limit:
        return Result("no", cuts[:3], 0.8, f"the agent interrupted the customer {len(cuts)} times")
    return Result("yes", cuts, 0.8, f"the agent interrupted {len(cuts)} time(s)")


def _agent_cuts(c: Contact, min_overlap_s: float = 0.3) -> list[int]:
    """Agent turns that start while a customer turn is going and overlap it (features.INTERRUPTION_MIN_OVERLAP_S)."""
    customer = [t for t in c.turns if t.speaker == "customer"]
    return [
        i for i in _agent(c)
        if any(o.start < c.turns[i].start < o.end and min(c.turns[i].end, o.end) - c.turns[i].start > min_overlap_s
               for o in customer)
    ]  # fmt: skip


def no_long_silence(c: Contact, params: dict[str, Any]) -> Result:
    """No long silence that the agent had not announced as a hold."""
    if c.channel != "voice":
        return Result("n/a", [], 0.95, "not a call")
    silent = [(b, a, s) for b, a, s in _gaps(c, float(params.get("silence_s", 30))) if not _announced(c, b)]
    if silent:
        before, after, seconds = max(silent, key=lambda g: g[2])
        return Result("no", [before, after], 0.8, f"{seconds:.0f} s of unexplained silence")
    return Result("yes", [], 0.75, "no unexplained long silence")


def phrase(c: Contact, params: dict[str, Any]) -> Result:
    """A tenant's own question: a pattern said by a speaker (in the first or last N of their turns)."""
    pattern = tenant_pattern(str(params["pattern"]))
    speaker = params.get("speaker", "agent")
    mine = [i for i, t in enumerate(c.turns) if t.speaker == speaker or (speaker == "agent" and t.speaker == "bot")]
    n = int(params.get("turns", 0))
    where = params.get("where", "any")
    scope = mine[:n] if where == "first" and n else mine[-n:] if where == "last" and n else mine
    found = _matches(c, scope, pattern)
    expected = bool(params.get("expected", True))  # False: a phrase that must not be said
    if bool(found) == expected:
        return Result("yes", found[:1], 0.85, "said" if found else "not said")
    return Result("no", found[:1], 0.8, "said" if found else "not said")


CHECKS: dict[str, Callable[[Contact, dict[str, Any]], Result]] = {
    "greeting": greeting,
    "identity_check": identity_check,
    "empathy": empathy,
    "hold_etiquette": hold_etiquette,
    "recording_notice": recording_notice,
    "disclosure": disclosure,
    "closing": closing,
    "no_interruptions": no_interruptions,
    "no_long_silence": no_long_silence,
    "phrase": phrase,
}


def _applies(question: Question, c: Contact) -> bool:
    return (question.channels is None or c.channel in question.channels) and (
        question.intents is None or c.intent in question.intents
    )


def score(answers: Sequence[dict[str, Any]]) -> float | None:
    """Weighted share of `yes` among the answers that are yes or no, 0-100; None when every answer is n/a."""
    counted = [a for a in answers if a["answer"] in ("yes", "no")]
    total = sum(a["weight"] for a in counted)
    if not total:
        return None
    return round(100 * sum(a["weight"] for a in counted if a["answer"] == "yes") / total, 1)


def evaluate(form: Form, contact: Contact) -> dict[str, Any]:
    """The contact's `qa`: the form's id and version, a score 0-100 and each answer with its evidence."""
    answers = []
    for q in form.questions:
        if _applies(q, contact):
            result = CHECKS[q.check["type"]](contact, q.check)
        else:
            result = Result("n/a", [], 1.0, "the question does not apply to this contact's channel or intent")
        answers.append({
            "question": q.id, "text": q.text, "weight": q.weight, "answer": result.answer,
            "evidence": result.evidence, "confidence": result.confidence, "why": result.why,
        })  # fmt: skip
    return {"form": form.id, "version": form.version, "score": score(answers), "answers": answers}


def override(qa: dict[str, Any], *, question: str, answer: str, by: str, at: str) -> dict[str, Any]:
    """The qa with a supervisor's answer to one question (the automatic one kept as `automatic`), score redone."""
    if answer not in ANSWERS:
        raise InvalidInput(f"answer must be one of {', '.join(ANSWERS)}")
    if not any(a["question"] == question for a in qa.get("answers", [])):
        raise InvalidInput(f"the contact's form {qa.get('form')!r} has no question {question!r}")
    answers = [
        {**a, "answer": answer, "automatic": a.get("automatic", a["answer"]), "override": {"by": by, "at": at}}
        if a["question"] == question else a
        for a in qa["answers"]
    ]  # fmt: skip
    first = qa.get("automatic_score", qa["score"])
    return {**qa, "answers": answers, "score": score(answers), "automatic_score": first}


def form_for(forms: Sequence[Form], channel: str) -> Form:
    """The tenant's newest form for the channel (forms newest first); the shipped default when it has none."""
    return next((f for f in forms if f.channels is None or channel in f.channels), default_form())
