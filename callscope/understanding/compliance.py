"""Compliance reminders over a live transcript: what the agent still has to do or say, each with its reason.

Rules read the turns so far (and the current intent). A reminder disappears as soon as the transcript
shows it was done: identity verified before account details; the call recording notice on voice
contacts; the card cancellation, account closure and dispute timescale disclosures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from callscope.contacts import Turn
from callscope.understanding.kb import Suggestion

AGENT_SIDE = ("agent", "bot", "unknown")  # a mono recording's single track may be the agent

_VERIFY_ASK = re.compile(
    r"\b(?:security (?:question|check|passphrase)s?|verify (?:your )?(?:identity|you)|date of birth|"
    r"first line of (?:your )?address|post ?code|zip(?: code)?|characters? (?:of|from) your (?:pass\w+|memorable \w+)|"
    r"last (?:four|4)(?: digits)? of your (?:card|account|social)|(?:one-time|\d-digit|security|verification) code|"
    r"(?:to check|to make sure) it's you|verify (?:the|your) (?:last|details))",
    re.IGNORECASE,
)
_VERIFY_DONE = re.compile(
    r"\b(?:(?:you(?:'re| are)|you have been|that's you|that's|identity (?:is )?)\s*(?:now |all |already )?"
    r"(?:verified|confirmed)|passed (?:the )?security|thank(?:s| you) for (?:confirming|verifying)|"
    r"(?:that|it) (?:all )?match(?:es|ed)|(?:you're|you are) (?:signed|logged) in)",
    re.IGNORECASE,
)
ACCOUNT_DETAILS = re.compile(
    r"\b(?:balance|account number|sort code|card number|iban|statement|transactions?|last (?:payment|transfer)s?|"
    r"overdraft)\b|\[(?:ACCOUNT|CARD|IBAN|SORT_CODE)[^\]]*\]|\b\d{6,}\b",
    re.IGNORECASE,
)
RECORDING_NOTICE = re.compile(
    r"\b(?:call|conversation)s? (?:(?:is|are|will be|may be|might be|can be) )?(?:being )?(?:recorded|monitored)|"
    r"record(?:ed|ing)? (?:this call )?for (?:training|quality|security)",
    re.IGNORECASE,
)
_BLOCK_ACTION = re.compile(r"\b(?:block|freez|froz|lock|cancel|stop)\w* (?:the |your |this )?card\b", re.IGNORECASE)
CANCEL_DISCLOSED = re.compile(
    r"\b(?:(?:card|it) (?:will be|is being|gets|is) (?:cancell?ed|permanently blocked)|"
    r"can(?:not|'t| no longer) be used (?:again|anymore)|(?:no longer|never) (?:work|be used|be usable)|"
    r"(?:gone|cancell?ed|blocked|stopped) for good|(?:won't|will not|wouldn't) work|permanently|"
    r"can(?:not|'t) be (?:reactivated|unblocked|used))",
    re.IGNORECASE,
)
CLOSURE_DISCLOSED = re.compile(
    r"\b(?:remaining balance|direct debits?(?: and standing orders?)? (?:will )?stop|cards? will be cancell?ed)",
    re.IGNORECASE,
)
TIMESCALE = re.compile(
    r"\b(?:\d+|a few|several|two|three|five|seven|ten|fifteen)\s+(?:working |business )?days?\b", re.IGNORECASE
)

CARD_BLOCK_INTENTS = {
    "lost_or_stolen_card", "compromised_card", "card_payment_not_recognised", "cash_withdrawal_not_recognised",
    "card_swallowed",
}  # fmt: skip
DISPUTE_INTENTS = {
    "transaction_charged_twice", "card_payment_not_recognised", "cash_withdrawal_not_recognised", "request_refund",
    "Refund_not_showing_up", "direct_debit_payment_not_recognised", "wrong_amount_of_cash_received",
    "extra_charge_on_statement",
}  # fmt: skip
# General questions that need no access to the customer's account (so no identity check is due for them)
NO_ACCOUNT_INTENTS = {
    "exchange_rate", "fiat_currency_support", "country_support", "supported_cards_and_currencies",
    "visa_or_mastercard", "age_limit", "why_verify_identity", "card_delivery_estimate", "top_up_limits",
    "disposable_card_limits", "apple_pay_or_google_pay", "exchange_via_app",
}  # fmt: skip


def _first(turns: Sequence[Turn], pattern: re.Pattern[str], speakers: Sequence[str] | None = None) -> int | None:
    for i, turn in enumerate(turns):
        if (speakers is None or turn.speaker in speakers) and pattern.search(turn.text):
            return i
    return None


def _quote(turn: Turn, pattern: re.Pattern[str]) -> str:
    match = pattern.search(turn.text)
    return match.group(0) if match else turn.text[:40]


def verified_at(turns: Sequence[Turn]) -> int | None:
    """Index of the turn where identity counts as verified: the agent says so, or the customer answers a check."""
    done = _first(turns, _VERIFY_DONE, AGENT_SIDE)
    asked = _first(turns, _VERIFY_ASK, AGENT_SIDE)
    if asked is not None:
        answered = next((i for i in range(asked + 1, len(turns)) if turns[i].speaker == "customer"), None)
        if answered is not None and (done is None or answered < done):
            return answered
    return done


def reminders(
    turns: Sequence[Turn], *, intent: str | None, channel: str, identity_verified: bool = False
) -> list[Suggestion]:
    """Every reminder still due for the contact so far, most urgent first."""
    due: list[Suggestion] = []
    agent_turns = [t for t in turns if t.speaker in AGENT_SIDE]

    verified = -1 if identity_verified else verified_at(turns)  # -1: verified before the contact (e.g. in the app)
    details = _first(turns, ACCOUNT_DETAILS)
    if details is not None and (verified is None or verified > details):
        said = _quote(turns[details], ACCOUNT_DETAILS)
        due.append(
            Suggestion(
                title="Verify the customer's identity now",
                kind="compliance",
                reason=f"account details were discussed ({turns[details].speaker}: \u201c{said}\u201d) "
                "before identity verification",
                score=1.0,
                ref="identity_before_account_details",
            )
        )
    elif verified is None and intent not in (None, "other") and intent not in NO_ACCOUNT_INTENTS:
        due.append(
            Suggestion(
                title="Verify identity before discussing account details",
                kind="compliance",
                reason=f"intent {intent} needs the customer's account and no identity check has been done yet",
                score=0.9,
                ref="identity_before_account_details",
            )
        )

    if channel == "voice" and _first(agent_turns, RECORDING_NOTICE) is None:
        due.append(
            Suggestion(
                title="Say the call recording notice",
                kind="compliance",
                reason="voice contacts must be told the call is recorded; the agent has not said it yet",
                score=0.8,
                ref="recording_notice",
            )
        )

    blocking = _first(agent_turns, _BLOCK_ACTION)
    if (intent in CARD_BLOCK_INTENTS or blocking is not None) and _first(agent_turns, CANCEL_DISCLOSED) is None:
        why = (
            f"the agent said \u201c{_quote(agent_turns[blocking], _BLOCK_ACTION)}\u201d"
            if blocking is not None
            else f"intent {intent} usually ends with blocking the card"
        )
        due.append(
            Suggestion(
                title="Confirm the card will be cancelled",
                kind="compliance",
                reason=f"card blocking: {why}; the customer must be told the card will be cancelled and cannot be "
                "used again",
                score=0.7,
                ref="card_cancellation_disclosure",
            )
        )

    if intent == "terminate_account" and _first(agent_turns, CLOSURE_DISCLOSED) is None:
        due.append(
            Suggestion(
                title="Explain what closing the account means",
                kind="compliance",
                reason="account closure: the remaining balance payout, direct debits stopping and card cancellation "
                "must be disclosed",
                score=0.6,
                ref="account_closure_disclosure",
            )
        )

    if intent in DISPUTE_INTENTS and _first(agent_turns, TIMESCALE) is None:
        due.append(
            Suggestion(
                title="Tell the customer how long the dispute or refund takes",
                kind="compliance",
                reason=f"intent {intent}: the customer must be given the timescale (in working days)",
                score=0.5,
                ref="dispute_timescale",
            )
        )
    return due
