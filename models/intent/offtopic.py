"""Customer turns that no Banking77 intent answers (issue 30): what a bank's callers also say, written here.

A bank's callers ask about mortgages, loans, branches and tax letters, talk about the line and the weather, and
answer the agent's questions; none of it has a Banking77 counterpart, so the model must answer ``other``. These
templates are filled at random (a seed per use) and teach the ``other`` class alongside CLINC150's out-of-scope
training texts (`train.py`); the evaluation never sees them (it uses CLINC150's validation texts).
"""

from __future__ import annotations

import random

TOPICS = {
    "{ask} {loan} {detail}": {
        "loan": ["a mortgage", "a personal loan", "a car loan", "a remortgage", "a business loan", "a student loan",
                 "a loan for a new kitchen", "a mortgage holiday", "an overdraft extension", "a home equity loan"],
        "detail": ["", "and what the rate would be", "over five years", "for about twenty thousand",
                   "and how long the approval takes", "what documents you need"],
    },
    "{ask} {product}": {
        "product": ["a savings account", "an ISA", "a joint account with my wife", "a business account",
                    "a pension", "home insurance", "travel insurance", "life insurance", "an investment fund",
                    "a safe deposit box", "a chequebook", "a kids account for my son", "a fixed term deposit",
                    "shares in the bank", "a financial advisor appointment"],
    },
    "{question}": {},
}
ASKS = ["I'd like to ask about", "I want to apply for", "can you tell me about", "I'm interested in",
        "how do I get", "what do I need for", "do you offer", "I'm calling about"]  # fmt: skip
QUESTIONS = [
    "what time does the branch on the high street close", "is the branch open on saturday",
    "where is your nearest branch", "can I make an appointment at the branch", "when is my mortgage payment due",
    "what's the interest rate on my mortgage", "how do I pay off my loan early", "I need a letter for my tax return",
    "can you send me my annual tax statement", "how do I register a power of attorney", "my father passed away and "
    "I need to deal with his estate", "I want to make a complaint about the branch staff",
    "can I speak to a manager", "hello can you hear me", "sorry you're breaking up", "hold on a second let me get "
    "my glasses", "I'm just driving give me a minute", "can you call me back later", "what's the weather like "
    "there", "is this line being recorded", "sorry I was on hold for ages", "how long will this call take",
    "I can't hear you very well", "yes that's right", "no that's not it", "okay let me check",
    "my internet provider is charging me too much", "I need a plumber", "can you book me a taxi",
    "what's the score in the football", "my dog ate my post", "I'm looking for a job at the bank",
    "how do I buy shares", "what's the stock price today", "is the stock market open",
    "I want to sell my house", "can you recommend a good accountant", "I got a letter about jury duty",
    "my phone bill is wrong", "the electricity company took too much", "I'd like to order a pizza",
    "how do I reset my router", "what's my credit score", "how can I improve my credit rating",
    "what's the minimum payment on my credit card bill", "when is my credit card bill due",
    "can I get a higher credit limit", "how many reward points do I have", "what is the APR on my card",
    "I'd like to order cheques", "what's the routing number", "can you read me my last five payments",
]  # fmt: skip


def offtopic_turns(count: int, seed: int) -> list[str]:
    """``count`` off-topic customer requests, each a filled template (``seed`` picks them)."""
    rng = random.Random(seed)
    turns = []
    for _ in range(count):
        template = rng.choice(list(TOPICS))
        if template == "{question}":
            turns.append(rng.choice(QUESTIONS))
            continue
        slots = {name: rng.choice(values) for name, values in TOPICS[template].items()}
        turns.append(" ".join(template.format(ask=rng.choice(ASKS), **slots).split()))
    return turns
