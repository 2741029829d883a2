"""The after-call summary: the issue in the customer's words, the agent's actions, the outcome, follow-ups."""

from callscope.contacts import Turn
from callscope.understanding.summary import agent_actions, summarize


def turns(*said: tuple[str, str]) -> list[Turn]:
    return [Turn(speaker=speaker, start=float(i), end=float(i), text=text) for i, (speaker, text) in enumerate(said)]


LOST_CARD = turns(
    ("agent", "Good morning, Northfield Bank, Sam speaking."),
    ("customer", "Hi, um, so I think I've lost my debit card somewhere in town yesterday."),
    ("agent", "Sorry to hear that. Can I take your date of birth and postcode?"),
    ("customer", "Yes, 4 May 1980, LS6 4QT."),
    ("agent", "Thanks, that all matches. I've blocked the card now, so it can't be used again."),
    ("agent", "A new card will be posted today and should be with you within 3 to 5 working days."),
    ("customer", "Brilliant, thank you."),
    ("agent", "Anything else I can help with? Have a lovely day."),
)


def test_a_lost_card_call_is_summarized_with_its_reason_actions_outcome_and_follow_up():
    summary = summarize(LOST_CARD, intents=[{"label": "lost_or_stolen_card", "turn": 1, "primary": True}], entities=[])
    assert summary["reason"] == {
        "text": "I think I've lost my debit card somewhere in town yesterday.",
        "turn": 1,
        "intent": "lost_or_stolen_card",
    }
    assert [(a["action"], a["turn"]) for a in summary["actions"]] == [("block_card", 4), ("order_card", 5)]
    assert summary["outcome"]["status"] == "resolved" and 6 in summary["outcome"]["evidence"]
    [step] = summary["follow_ups"]
    assert step["what"] == "order_card" and step["when"] == "within 3 to 5 working days" and step["turn"] == 5
    text = summary["text"]
    assert 2 <= text.count(". ") + 1 <= 5
    assert "lost or stolen card" in text and "blocked the card and ordered a new card" in text
    assert "the new card arrives within 3 to 5 working days" in text


def test_offers_count_only_once_accepted_and_refusals_or_instructions_never():
    declined = turns(
        ("customer", "There's a payment I don't recognise."),
        ("agent", "Would you like me to block the card?"),
        ("customer", "No, leave it for now."),
        ("agent", "I can't refund it myself, but you can freeze the card yourself in the app."),
    )
    assert agent_actions(declined) == []
    accepted = turns(
        ("customer", "There's a payment I don't recognise."),
        ("agent", "Would you like me to block the card?"),
        ("customer", "Yes please."),
    )
    assert [a.name for a in agent_actions(accepted)] == ["block_card"]


def test_an_action_said_of_something_named_earlier_is_found():
    said = turns(
        ("customer", "I want to cancel the direct debit to my gym."),
        ("agent", "I can see the direct debit to PureFit."),
        ("agent", "Right, that's cancelled for you now."),
        ("customer", "And my new mobile number is 07700 900461."),
        ("agent", "That's updated now."),
    )
    assert [(a.name, a.turn) for a in agent_actions(said)] == [("cancel_payment", 2), ("update_details", 4)]


def test_outcomes_transferred_follow_up_and_unresolved():
    transferred = turns(
        ("customer", "My international payment never arrived."),
        ("agent", "I'll pass you straight to our International Payments team now."),
    )
    summary = summarize(transferred, intents=[], entities=[])
    assert summary["outcome"]["status"] == "transferred"
    assert summary["actions"] == [
        {
            "action": "transfer",
            "turn": 1,
            "target": "International Payments team",
            "text": "I'll pass you straight to our International Payments team now.",
        }
    ]
    callback = turns(
        ("customer", "My refund from the shop still hasn't shown up."),
        ("agent", "I'll give you a call back tomorrow at 3pm to check it has landed."),
        ("customer", "Okay, thanks."),
    )
    summary = summarize(callback, intents=[], entities=[])
    assert summary["outcome"]["status"] == "follow_up"
    assert summary["follow_ups"][0]["what"] == "callback" and summary["follow_ups"][0]["when"] == "tomorrow at 3pm"
    refused = turns(
        ("customer", "Can you release the hotel's hold on my money?"),
        ("agent", "I'm afraid we can't release a pre-authorisation from our side."),
        ("customer", "This is ridiculous, I'm being passed around."),
    )
    assert summarize(refused, intents=[], entities=[])["outcome"]["status"] == "unresolved"


def test_the_reason_skips_greetings_and_identity_turns():
    said = turns(
        ("customer", "Hello."),
        ("agent", "Hi, how can I help?"),
        ("customer", "Yes, my name is John Smith and my date of birth is 4 May 1980."),
        ("customer", "I sent money to my landlord on Monday and it still hasn't arrived."),
    )
    summary = summarize(said, intents=[], entities=[])
    assert summary["reason"]["turn"] == 3
    assert summary["outcome"]["status"] == "unresolved" and summary["actions"] == []
