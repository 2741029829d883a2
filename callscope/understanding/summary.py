"""After-call summary of a contact: why the customer came, what the agent did, how it ended, what happens next.

Extractive and rule-based, so it runs offline in well under a millisecond per contact beside the analysis:
- `reason`: the sentences of the customer turn that carried the primary intent (else the first customer turn that
  carries a request), redacted as stored;
- `actions`: what the agent did or promised, from phrases in the agent's turns (an offer counts once the customer
  accepts it; a refusal or a question does not count);
- `outcome`: transferred, follow-up needed, resolved or unresolved, with the turns that show it;
- `follow_ups`: promised next steps with the dates, amounts and deadlines said with them;
- `text`: two to four plain sentences for a CRM note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from callscope.contacts import Turn
from callscope.understanding.intent import carries_request, sentences

AGENT_SPEAKERS = ("agent", "bot")
MIN_REASON_WORDS = 8  # a request this long states an issue even when no intent was found in it

# action name -> (what the note says, pattern over one agent sentence)
_ACTIONS: dict[str, tuple[str, str]] = {
    "transfer": (
        "transferred the customer to {target}",
        r"\b(?:transferr?\w*|put\w*|connect\w*|pass\w*|hand\w*)\s+(?:you|this\s+(?:conversation|chat|call)|"
        r"your\s+(?:call|chat))\s+(?:straight\s+)?(?:(?:through|over|across|on)\s*)?(?:to\b|now\b)"
        r"|\bget\s+you\s+(?:through|over)\s+to\b|\btransfer(?:ring)?\s+(?:the\s+|your\s+)?call\b",
    ),
    "block_card": (
        "blocked the card",
        r"\b(?:block|freez|froze|cancel|stopp?|lock|deactivat|suspend)\w*\s+(?:\w+\s+){0,3}?cards?\b"
        r"|\bcards?\s+(?:\w+\s+){0,2}(?:is|has\s+been|'s|are|have\s+been)\s+(?:now\s+)?(?:blocked|frozen|cancell?ed"
        r"|stopped|locked|deactivated|suspended)\b|\b(?:put|placed?)\s+a\s+(?:stop|block)\s+on\b",
    ),
    "order_card": (
        "ordered a new card",
        r"\b(?:order|send|sent|issu|dispatch|post|arrang|request)\w*\s+(?:\w+\s+){0,3}?(?:new|replacement)\s+(?:\w+\s+)?"
        r"(?:cards?|ones?)\b|\b(?:order|sent|issu|dispatch|arrang|request)\w*\s+(?:you\s+)?(?:a\s+)?replacement\b"
        r"|\b(?:new|replacement)\s+(?:\w+\s+)?(?:cards?|one)\b(?:'s)?(?:\s+[\w'-]+){0,6}?\s+(?:on\s+(?:its|the)\s+way|"
        r"with\s+you|out|sent|posted|dispatched|ordered|arriving|issued)\b",
    ),
    "raise_dispute": (
        "raised a dispute",
        r"\b(?:rais|open|log|fil|start|submit|lodg|begin|put|creat)\w*\s+(?:in\s+)?(?:a|an|the)\s+(?:\w+\s+)?"
        r"(?:dispute|chargeback|charge-back|claim|investigation|fraud\s+(?:case|claim))\b"
        r"|\bdisput\w+\s+(?:it|this|that|the\s+(?:payment|transaction|charge)s?)\b"
        r"|\binvestigat\w+\s+(?:it|this|that|the\s+(?:payment|transaction|charge))\b",
    ),
    "waive_fee": (
        "waived the fee",
        r"\bwaiv\w+\b|\b(?:refund|remov|cancel|revers|tak)\w*\s+(?:\w+\s+){0,2}?(?:fee|charge)s?\b(?!\s+(?:you\s+)?twice)"
        r"|\bgoodwill\b",
    ),
    "refund": (
        "arranged a refund",
        r"\b(?:issu|process|arrang|rais|request|authoris|authoriz|start)\w*\s+(?:a|the|your|that)\s+refund\b"
        r"|\brefund(?:ed|ing)?\s+(?:you|it|that|this|the|your)\b|\brevers\w+\s+(?:it|that|this|the|one|one\s+of)\b"
        r"|\b(?:put|pay|paid|give|send|credit)\w*\s+(?:the\s+money\s+|it\s+|that\s+|them\s+|the\s+\w+\s+)?back\b"
        r"|\bmoney\s+(?:will\s+be|is\s+being|has\s+been)\s+(?:returned|credited|refunded)\b",
    ),
    "reset_credentials": (
        "reset the customer's access",
        r"\b(?:unblock|reset|unlock|reactivat|re-?enabl|unfreez)\w*\s+(?:\w+\s+){0,2}?(?:pin|password|passcode|"
        r"online\s+banking|app|login|log-?in|access|account)\b|\b(?:clear|remov|lift)\w*\s+(?:the\s+)?(?:lock|block)\b"
        r"|\b(?:pin|password|passcode|login|access)\s+(?:\w+\s+)?"
        r"(?:is|has\s+been|'s)\s+(?:now\s+)?(?:unblocked|reset|unlocked)\b|\bnew\s+(?:pin|password|passcode)\b",
    ),
    "update_details": (
        "updated the customer's details",
        r"\b(?:updat|chang|amend|correct|add|sav)\w*\s+(?:\w+\s+){0,2}?(?:address|phone|mobile|number|e-?mail|"
        r"name|contact\s+details|details)\b(?!\s+(?:is|are)\s+(?:wrong|incorrect))|\b(?:address|number|e-?mail|details)"
        r"\s+(?:is|are|has\s+been|have\s+been|'s)\s+(?:now\s+)?(?:updated|changed|amended)\b",
    ),
    "cancel_payment": (
        "cancelled the payment",
        r"\b(?:cancel|stopp?|remov)\w*\s+(?:\w+\s+){0,2}?(?:direct\s+debit|standing\s+order|subscription|recurring"
        r"|scheduled|continuous)\b|\b(?:direct\s+debit|standing\s+order|subscription)\s+(?:\w+\s+)?(?:is|has\s+been|'s)"
        r"\s+(?:now\s+)?(?:cancell?ed|stopped|removed)\b",
    ),
    "set_up_payment": (
        "set up the payment",
        r"\bset(?:ting)?\s+(?:that\s+|it\s+)?up\s+(?:a|the|your|an)?\s*(?:new\s+)?(?:standing\s+order|direct\s+debit|"
        r"payment|transfer)\b|\b(?:set|setting)\s+(?:up\s+)?(?:a|the|your)\s+(?:standing\s+order|direct\s+debit|payment|"
        r"transfer)\s+up\b|\b(?:made|make|sent|send|process\w*|schedul\w*)\s+(?:the|a|that|your)\s+(?:\w+\s+)?"
        r"(?:payment|transfer)\b(?!\s+(?:was|is)\s+(?:made|sent))",
    ),
    "close_account": (
        "started closing the account",
        r"\b(?:clos|shut)\w*\s+(?:\w+\s+){0,2}?accounts?\b|\baccounts?\s+(?:\w+\s+)?(?:will\s+be|is|has\s+been)\s+"
        r"(?:now\s+)?closed\b",
    ),
    "escalate": (
        "escalated the case",
        r"\bescalat\w+\b|\b(?:rais|log|fil|lodg|record|register)\w*\s+(?:\w+\s+){0,2}?(?:formal\s+)?complaint\b"
        r"|\b(?:pass|refer|rais)\w*\s+(?:it|this|that)\s+(?:on\s+|up\s+)?(?:to|with)\s+(?:my|a|the|our)\s+"
        r"(?:manager|supervisor|team\s+leader|complaints)",
    ),
    "callback": (
        "promised to call back",
        r"\b(?:call|ring|phone)\s+you\s+back\b|\b(?:give|gives)\s+you\s+a\s+(?:call|ring)\b|\bget\s+back\s+to\s+you\b"
        r"|\b(?:call|ring|phone)\s+you\s+(?:tomorrow|later|on|at|this|next|within|once|when)\b|\bcall\s*back\b",
    ),
    "send_information": (
        "sent information",
        r"\b(?:send|sent|sending|email|e-mail|text|post|mail)\w*\s+(?:you\s+)?(?:over\s+)?(?:a|an|the|some|your)?\s*"
        r"(?:\w+\s+){0,2}?(?:e-?mail|text|sms|letter|form|link|confirmation|details|statement|message|information"
        r"|info|copy|guide)\b|\byou(?:'ll|\s+will|\s+should)\s+(?:\w+\s+)?(?:receive|get)\s+(?:a|an|the)\s+(?:\w+\s+)?"
        r"(?:e-?mail|text|sms|letter|confirmation|message|statement)\b|\b(?:put|sent|dropped|added|posted)\s+(?:the|a|an)\s+"
        r"(?:\w+\s+)?(?:link|form|details|information|guide|letter)\s+(?:in|to|into|on)\b",
    ),
}
_ACTION_PATTERNS = {name: re.compile(pattern, re.IGNORECASE) for name, (_, pattern) in _ACTIONS.items()}
ACTIONS = tuple(_ACTIONS)
_REFUSAL = re.compile(
    r"\b(?:can(?:not|'t)|can\s+not|could(?:n't|\s+not)|unable\s+to|not\s+able\s+to|won't\s+be\s+able|isn't\s+possible|"
    r"not\s+possible|don't|do\s+not|didn't|no\s+need\s+to|there's\s+no\s+need|won't|will\s+not|haven't|have\s+not)\b"
    r"|\b(?:you|we|i)\s+(?:can|could|should|may|might|need\s+to|'ll\s+need\s+to|will\s+need\s+to|have\s+to)\b|\bif\b",
    re.IGNORECASE,
)
_OFFER = re.compile(
    r"\b(?:would|do|shall|should|can|could)\s+(?:you\s+(?:like|want)\s+(?:me|us)\s+to|i|we)\b|\bdo\s+you\s+want\b"
    r"|\bif\s+you\s+(?:like|want|prefer)\b|\bwould\s+you\s+like\b|\bi\s+(?:can|could)\s+\w+\s+.*\bif\b",
    re.IGNORECASE,
)
_YES = re.compile(
    r"^\W*(?:yes|yeah|yep|yup|please|ok|okay|sure|go\s+ahead|do\s+it|that\s+would|that'd|absolutely|definitely|"
    r"great|perfect|that's\s+(?:great|fine|perfect)|sounds\s+good|fine)\b",
    re.IGNORECASE,
)
# a question of the customer's own account the agent only explains ("a refund takes 5 days") is no action
_EXPLAINING = re.compile(r"\b(?:usually|normally|typically|generally|policy|in\s+general|if\s+you\s+ever)\b", re.I)
_TRANSFER_TARGET = re.compile(
    r"\bto\s+(?:the\s+|our\s+|a\s+)?((?:[\w-]+\s+){0,3}?(?:team|department|desk|unit|colleagues?|specialists?|"
    r"advisers?|advisors?|line|services?))\b",
    re.IGNORECASE,
)
_TIME_PHRASE = re.compile(
    r"\b(?:within|in|up\s+to|over|about|around|the\s+next)\s+(?:\w+\s+(?:to|or)\s+)?(?:\d+|a|one|two|three|four|five|"
    r"six|seven|eight|nine|ten|fourteen|fifteen|thirty|a\s+few|several|24|48|72)\s+(?:working\s+|business\s+)?"
    r"(?:days?|hours?|weeks?)\b|\b(?:\d+|three|five|seven|ten)\s*(?:to|-|\u2013)\s*(?:\d+|five|seven|ten|fourteen)\s+"
    r"(?:working\s+|business\s+)?days?\b|\b(?:tomorrow|today|tonight|this\s+(?:afternoon|evening|week)|next\s+\w+|"
    r"by\s+(?:monday|tuesday|wednesday|thursday|friday|the\s+end\s+of\s+\w+)|on\s+(?:monday|tuesday|wednesday|"
    r"thursday|friday|saturday))\b(?:\s+(?:at|around|by)\s+\d{1,2}(?::\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.)?)?",
    re.IGNORECASE,
)
# a promise: the bank will do something, or the customer will get something (not how a process usually runs)
_FUTURE = re.compile(
    r"\b(?:i|we)(?:'ll|\s+will|\s+am\s+going\s+to|'re\s+going\s+to|\s+aim\s+to)\b|\byou(?:'ll|\s+will|\s+should)\s+"
    r"(?:receive|get|hear|see|have)\b|\b(?:should|will|'ll)\s+(?:be\s+with\s+you|reach\s+you|arrive|land|be\s+back|"
    r"be\s+refunded|be\s+credited|be\s+posted|be\s+sent|go\s+out)\b|\bon\s+its\s+way\b",
    re.IGNORECASE,
)
# follow-up needed: the issue is only settled after the contact (an investigation, a callback, money still to come)
FOLLOW_UP_ACTIONS = {"callback", "raise_dispute", "escalate"}
_CUSTOMER_UNHAPPY_END = re.compile(
    r"\b(?:still\s+(?:not|don't|doesn't|haven't)|not\s+(?:happy|good\s+enough|acceptable|helpful)|useless|"
    r"ridiculous|unacceptable|waste\s+of|forget\s+it|i'll\s+(?:go|take\s+my)|close\s+my\s+account|complain|"
    r"doesn't\s+help|didn't\s+help|no\s+help|pointless|give\s+up|whatever)\b",
    re.IGNORECASE,
)
_CUSTOMER_SATISFIED = re.compile(
    r"\b(?:thanks|thank\s+you|cheers|brilliant|great|perfect|lovely|sorted|that's\s+(?:all|everything|fine|good|it)|"
    r"thats\s+(?:all|it)|appreciate|helpful|relief|much\s+better|ta|makes\s+sense|all\s+good|no\s+worries|fair\s+enough"
    r"|got\s+it|understood)\b",
    re.IGNORECASE,
)
_AGENT_CANNOT = re.compile(
    r"\b(?:(?:i'm|i\s+am|we're|we\s+are)\s+(?:afraid|sorry)[^.?!]*\b(?:can't|cannot|unable|not\s+able)|"
    r"there's\s+nothing\s+(?:i|we)\s+can\s+do|(?:i|we)\s+(?:can't|cannot)\s+(?:help|do\s+anything|change|refund))",
    re.IGNORECASE,
)
_CALL_AGAIN = re.compile(
    r"\b(?:call|ring|contact|message|text)\s+(?:us|back|again)\b(?!\s+(?:any\s*time|anytime))|\b(?:check|look)\s+"
    r"(?:back|again)\s+(?:in|after|on|tomorrow)\b|\bwait\s+(?:for|until)\b",
    re.IGNORECASE,
)


_CLAUSE = re.compile(r"[,;:]|\b(?:and|but|so|then|also)\b", re.IGNORECASE)
_OPENING = re.compile(
    r"^(?:(?:hi|hello|hiya|hey|yeah|yes|yep|um+|uh+|er+m?|so|well|right|oh|okay|ok|good\s+(?:morning|afternoon|evening)"
    r"|morning|afternoon)\b[\s,.!-]*)+",
    re.IGNORECASE,
)
# what a follow-up waits for, by the action it came with
_NEXT = {
    "order_card": "the new card arrives", "refund": "the refund arrives", "waive_fee": "the fee is refunded",
    "callback": "a callback", "raise_dispute": "the dispute is decided", "escalate": "a reply to the complaint",
    "send_information": "information is sent", "transfer": "the other team takes over",
    "set_up_payment": "the payment is made", "reset_credentials": "new access details arrive",
    "close_account": "the account is closed", "cancel_payment": "the payment stops",
    "block_card": "the card is blocked",
    "update_details": "the details change",
}  # fmt: skip


# "That's cancelled now", "I'll cancel it": the thing done is named in the turns before
_DONE_IT = re.compile(
    r"\b(?:that's|that\s+is|that\s+has\s+been|that's\s+been|it's|it\s+is|it\s+has\s+been|it's\s+been|i've|i\s+have|"
    r"i'll|i\s+will|i'm\s+going\s+to|i\s+am\s+going\s+to|we'll|we've|we\s+have|done\s*[.,]?\s*i've)\s+(?:now\s+|just\s+|"
    r"also\s+|gone\s+ahead\s+and\s+|already\s+|been\s+)?(?P<verb>cancel\w*|block\w*|stopp?\w*|froz\w*|freez\w*|"
    r"updat\w*|chang\w*|amend\w*|reset|unblock\w*|unlock\w*|clos\w*)\b(?!\s+(?:the|your|a|my)\b)",
    re.IGNORECASE,
)
_TOPICS = {
    "card": re.compile(r"\bcards?\b", re.I),
    "payment": re.compile(r"\b(?:direct\s+debit|standing\s+order|subscription|payment|bill|membership)s?\b", re.I),
    "details": re.compile(r"\b(?:address|number|e-?mail|phone|mobile|details|surname|name)\b", re.I),
    "credentials": re.compile(r"\b(?:pin|password|passcode|login|log-in|locked|lock)\b", re.I),
    "account": re.compile(r"\baccounts?\b", re.I),
}
# verb (its first letters) -> the action it is for each topic
_DONE_ACTIONS = {
    ("cancel", "block", "stop", "froz", "freez"): {"card": "block_card", "payment": "cancel_payment",
                                                   "account": "close_account"},
    ("updat", "chang", "amend"): {"details": "update_details", "credentials": "reset_credentials"},
    ("reset", "unblock", "unlock"): {"credentials": "reset_credentials"},
    ("clos",): {"account": "close_account"},
}  # fmt: skip


def _done_it(turns: Sequence[Turn], index: int, sentence: str) -> str | None:
    """The action an anaphoric "that's cancelled" names, from the topic mentioned last before it."""
    done = _DONE_IT.search(sentence)
    if done is None:
        return None
    verb = done.group("verb").lower()
    actions = next((m for stems, m in _DONE_ACTIONS.items() if verb.startswith(stems)), {})
    context = " ".join(t.text for t in turns[max(0, index - 4) : index]) + " " + sentence[: done.end()]
    last = {topic: max((m.end() for m in _TOPICS[topic].finditer(context)), default=-1) for topic in actions}
    topic = max(last, key=lambda k: last[k], default=None)
    return actions[topic] if topic is not None and last[topic] >= 0 else None


@dataclass(frozen=True)
class Action:
    name: str
    turn: int
    text: str
    target: str | None = None  # a transfer's team


def readable_intent(label: str | None) -> str:
    """An intent label as words ("card_payment_not_recognised" -> "card payment not recognised")."""
    if not label or label == "other":
        return "a request no intent matched"
    return label.replace("_", " ").strip().lower()


def _agent_sentences(turns: Sequence[Turn]) -> list[tuple[int, str]]:
    return [(i, s) for i, t in enumerate(turns) if t.speaker in AGENT_SPEAKERS for s in sentences(t.text)]


def _accepted(turns: Sequence[Turn], index: int) -> bool:
    """Whether the customer's next turn says yes to the agent's offer in turn `index`."""
    reply = next((t for t in turns[index + 1 :] if t.speaker == "customer"), None)
    return reply is not None and bool(_YES.search(reply.text))


def agent_actions(turns: Sequence[Turn]) -> list[Action]:
    """What the agent did or promised, each once (its first turn), in the order they happened."""
    found: dict[str, Action] = {}
    for index, sentence in _agent_sentences(turns):
        for name, pattern in _ACTION_PATTERNS.items():
            match = pattern.search(sentence)
            if match is None or name in found:
                continue
            before = _CLAUSE.split(sentence[: match.start()])[-1]
            if _REFUSAL.search(before) or _EXPLAINING.search(sentence):
                continue
            if (sentence.rstrip().endswith("?") or _OFFER.search(before)) and not _accepted(turns, index):
                continue
            if name == "refund" and _ACTION_PATTERNS["waive_fee"].search(sentence):
                continue  # a fee given back is a waived fee
            target = None
            if name == "transfer":
                named = _TRANSFER_TARGET.search(sentence, match.start())
                target = named.group(1).strip() if named else None
            found[name] = Action(name=name, turn=index, text=sentence.strip(), target=target)
        named = _done_it(turns, index, sentence)
        if named and named not in found and not sentence.rstrip().endswith("?"):
            found[named] = Action(name=named, turn=index, text=sentence.strip())
    return sorted(found.values(), key=lambda a: a.turn)


def reason_turn(turns: Sequence[Turn], intents: Sequence[dict[str, Any]]) -> int | None:
    """The turn where the customer states the issue: the first request that names an intent or says enough
    (customers state the issue first and add to it later), else the primary intent's turn."""
    with_intent = {int(i["turn"]) for i in intents if 0 <= int(i.get("turn", -1)) < len(turns)}
    customer = [i for i, t in enumerate(turns) if t.speaker in ("customer", "unknown") and t.text.strip()]
    requests = [i for i in customer if carries_request(turns[i].text)]
    stated = [i for i in requests if i in with_intent or len(turns[i].text.split()) >= MIN_REASON_WORDS]
    primary = next((int(i["turn"]) for i in intents if i.get("primary") and int(i["turn"]) in with_intent), None)
    return next(iter(stated), primary if primary is not None else next(iter(requests or customer), None))


def _reason_text(text: str, *, max_chars: int = 240) -> str:
    """One or two sentences of the turn that carry the request (greetings and identity details left out)."""
    kept = [s for s in sentences(text) if carries_request(s)] or [text.strip()]
    chosen = " ".join(kept[:2])
    trimmed = _OPENING.sub("", chosen)
    chosen = trimmed[:1].upper() + trimmed[1:] if len(trimmed) > 10 else chosen
    return chosen if len(chosen) <= max_chars else chosen[: max_chars - 1].rsplit(" ", 1)[0] + "\u2026"


def follow_ups(
    turns: Sequence[Turn], actions: Sequence[Action], entities: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Promised next steps: an action said with a time, or any agent promise of something still to come."""
    steps: list[dict[str, Any]] = []
    by_turn: dict[int, list[dict[str, Any]]] = {}
    for entity in entities:
        if entity.get("type") in ("DATE", "MONEY"):
            by_turn.setdefault(int(entity["turn"]), []).append(entity)
    acted = {a.turn: a for a in actions}
    for index, sentence in _agent_sentences(turns):
        when = next(reversed(list(_TIME_PHRASE.finditer(sentence))), None)  # the deadline comes last
        action = acted.get(index)
        promised = when is not None and (_FUTURE.search(sentence) or action is not None)
        if not promised and not (action is not None and action.name in FOLLOW_UP_ACTIONS):
            continue
        if any(s["turn"] == index and s["text"] == sentence for s in steps):
            continue
        said = [e for e in by_turn.get(index, []) if e["text"] in sentence]
        steps.append({
            "what": _waits_for(sentence, when.start() if when else len(sentence))
            or (action.name if action else "promise"),
            "turn": index,
            "text": sentence.strip(),
            "when": when.group(0) if when else None,
            "dates": [e["value"] for e in said if e["type"] == "DATE" and e.get("value")],
            "amounts": [e["value"] for e in said if e["type"] == "MONEY" and e.get("value")],
        })  # fmt: skip
    return steps


def _waits_for(sentence: str, at: int) -> str | None:
    """The action named in `sentence` nearest before position `at` (what a time phrase belongs to)."""
    found = [(m.start(), name) for name, p in _ACTION_PATTERNS.items() for m in p.finditer(sentence[:at])]
    return max(found)[1] if found else None


def outcome(turns: Sequence[Turn], actions: Sequence[Action], steps: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Transferred, follow-up needed, resolved or unresolved, with the turns that show it."""
    transfer = next((a for a in actions if a.name == "transfer"), None)
    if transfer is not None and all(a.turn <= transfer.turn for a in actions if a.name not in FOLLOW_UP_ACTIONS):
        return {"status": "transferred", "evidence": [transfer.turn], "why": transfer.text}
    pending = [a for a in actions if a.name in FOLLOW_UP_ACTIONS]
    pending_refund = [s for s in steps if s["what"] == "refund" and s["when"]]
    if pending or pending_refund:
        first = (pending or [])[:1] or []
        turn = first[0].turn if first else pending_refund[0]["turn"]
        return {"status": "follow_up", "evidence": [turn], "why": first[0].text if first else pending_refund[0]["text"]}
    customer = [(i, t) for i, t in enumerate(turns) if t.speaker == "customer"]
    last = customer[-2:]
    unhappy = [i for i, t in last if _CUSTOMER_UNHAPPY_END.search(t.text)]
    cannot = [i for i, t in enumerate(turns) if t.speaker in AGENT_SPEAKERS and _AGENT_CANNOT.search(t.text)]
    satisfied = [i for i, t in last if _CUSTOMER_SATISFIED.search(t.text)]
    call_again = [i for i, t in enumerate(turns) if t.speaker in AGENT_SPEAKERS and _CALL_AGAIN.search(t.text)]
    if unhappy:
        return {"status": "unresolved", "evidence": unhappy, "why": turns[unhappy[-1]].text}
    if cannot and not actions:
        return {"status": "unresolved", "evidence": cannot[:1], "why": turns[cannot[0]].text}
    if call_again and not actions and not satisfied:
        return {"status": "follow_up", "evidence": call_again[:1], "why": turns[call_again[0]].text}
    if actions or satisfied:
        evidence = sorted({*(a.turn for a in actions[-1:]), *satisfied[-1:]})
        return {"status": "resolved", "evidence": evidence, "why": turns[evidence[-1]].text}
    return {"status": "unresolved", "evidence": [], "why": "no action by the agent and no sign the customer was helped"}


_OUTCOME_TEXT = {
    "transferred": "The contact ended with a transfer",
    "follow_up": "A follow-up is needed",
    "resolved": "The issue was resolved",
    "unresolved": "The issue was not resolved",
}


def _note(intent: str | None, reason: str | None, actions: Sequence[Action], status: str, steps: Sequence[Any]) -> str:
    """Two to four plain sentences for a CRM note."""
    parts = [f"Customer contacted us about {readable_intent(intent)}" + (f': "{reason}"' if reason else "") + "."]
    if actions:
        said = [_ACTIONS[a.name][0].format(target=a.target or "another team") for a in actions]
        parts.append("The agent " + (", ".join(said[:-1]) + " and " + said[-1] if len(said) > 1 else said[0]) + ".")
    else:
        parts.append("The agent took no recorded action.")
    parts.append(_OUTCOME_TEXT[status] + ".")
    dated = [s for s in steps if s["when"]]
    if dated:
        waits = [f"{_NEXT.get(s['what'], 'as promised')} {s['when']}" for s in dated[:3]]
        parts.append("Next: " + "; ".join(waits) + ".")
    return " ".join(parts)


def summarize(
    turns: Sequence[Turn],
    *,
    intents: Sequence[dict[str, Any]],
    entities: Sequence[dict[str, Any]],
    intent: str | None = None,
) -> dict[str, Any]:
    """The contact's `summary`: `reason`, `actions`, `outcome`, `follow_ups` and `text` (see the module doc);
    `intent` is the contact's label when no single turn named one (`intents` empty)."""
    index = reason_turn(turns, intents)
    primary = next((i["label"] for i in intents if i.get("primary")), intent)
    reason = _reason_text(turns[index].text) if index is not None else None
    actions = agent_actions(turns)
    steps = follow_ups(turns, actions, entities)
    ended = outcome(turns, actions, steps)
    return {
        "reason": {"text": reason, "turn": index, "intent": primary} if reason else None,
        "actions": [
            {"action": a.name, "turn": a.turn, "text": a.text, **({"target": a.target} if a.target else {})}
            for a in actions
        ],
        "outcome": ended,
        "follow_ups": steps,
        "text": _note(primary, reason, actions, ended["status"], steps),
    }
