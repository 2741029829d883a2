"""Typed requests rewritten into what a customer says in a call or a chat (issue 17): a greeting and fillers
before the request, "wanna", identity details or a number in the same turn, thanks after it, lower case without
punctuation. Used to train the intent model on natural turns (`train.py --natural N`, on
training texts only) and to measure it (`bench/bench_natural_turns.py`, on the validation texts, another seed).
"""

from __future__ import annotations

import random

OPENINGS = ["hi", "hello", "yeah hi", "hi there um", "hello yes so", "morning", "hiya so basically", "um yeah",
            "hello good afternoon", "right so"]  # fmt: skip
DETAILS = ["my name is [PERSON]", "it's [PERSON], date of birth 4 May 1980", "my account number is [ACCOUNT]",
           "the card ends in 4 4 1 2", "I'm calling from [PHONE]"]  # fmt: skip
CLOSINGS = ["thanks", "thank you", "cheers", "thanks bye", "can you help", "please", "if you can"]


def natural(text: str, rng: random.Random) -> str:
    """One typed request as a customer might say it in a call or a chat."""
    request = text.rstrip("?.! ")
    if rng.random() < 0.3:
        request = request.replace("want to", "wanna").replace("going to", "gonna")
    words = request.split()
    if len(words) > 5 and rng.random() < 0.4:
        words.insert(rng.randrange(2, len(words) - 1), rng.choice(["um", "like", "uh", "you know"]))
    parts = [rng.choice(OPENINGS), " ".join(words)]
    if rng.random() < 0.4:
        parts.insert(1, rng.choice(DETAILS))
    if rng.random() < 0.6:
        parts.append(rng.choice(CLOSINGS))
    said = ", ".join(parts)
    return said.lower().replace(",", "") if rng.random() < 0.5 else said[0].upper() + said[1:] + "."
