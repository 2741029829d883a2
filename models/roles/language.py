"""Agent-side and customer-side call language, generated from templates, for the role model (models/roles/train.py).

Customer requests are plentiful in the vendored data (Banking77 and CLINC150 train splits); what a call adds
around them is written here: how customers open, identify themselves, confirm, thank and say goodbye, and everything
an agent says (greeting with the bank's name, offering help, verifying identity, explaining, acting, holding,
transferring, closing). Names, banks, amounts and dates are drawn at random so no single one is learned.
Both sides say some of the same things ("thank you", "have a nice day", "my name is ..."): the model learns how
much each phrase tells, and the call-level decision adds up every turn.
"""

from __future__ import annotations

import random

FIRST = ["Sarah", "James", "Priya", "Tom", "Aisha", "Mark", "Elena", "David", "Chloe", "Omar", "Grace", "Luca", "Mei",
         "John", "Fatima", "Peter", "Anna", "Kofi", "Laura", "Raj"]  # fmt: skip
LAST = ["Smith", "Jones", "Patel", "Brown", "Khan", "Williams", "Garcia", "Nowak", "Okafor", "Murphy", "Chen", "Taylor"]
BANKS = ["Northwind Bank", "Harbour Bank", "City Savings", "Greenfield Building Society", "Union Bank", "Apex Bank",
         "the bank", "Riverside Credit Union", "Oakwood Bank"]  # fmt: skip
TEAMS = ["cards team", "fraud team", "customer service", "the payments team", "the mortgage team",
         "online banking support", "customer services", "the disputes team", "the lending team"]  # fmt: skip
THINGS = ["card", "debit card", "credit card", "account", "transfer", "payment", "direct debit", "standing order",
          "statement", "PIN", "online banking", "app", "loan", "overdraft", "savings account"]  # fmt: skip
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]  # fmt: skip
FILLERS = ["", "", "", "um, ", "uh, ", "so, ", "okay, ", "right, ", "yeah, ", "well, "]


def _amount(rng: random.Random) -> str:
    value = rng.choice([rng.randint(5, 99), rng.randint(100, 2500)])
    cents = rng.randint(10, 99)
    return rng.choice([f"{value} pounds", f"£{value}", f"{value} dollars", f"{value} euros", f"${value}.{cents}"])


def _date(rng: random.Random) -> str:
    day, month, year = rng.randint(1, 28), rng.choice(MONTHS), rng.randint(1940, 2004)
    return rng.choice([f"{day} {month} {year}", f"the {day}th of {month} {year}", f"{month} {day}, {year}",
                       f"{day:02d}/{MONTHS.index(month) + 1:02d}/{year}"])  # fmt: skip


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def _name(rng: random.Random) -> str:
    return rng.choice([rng.choice(FIRST), f"{rng.choice(FIRST)} {rng.choice(LAST)}"])


def _fill(rng: random.Random, template: str) -> str:
    text = template.format(
        name=rng.choice(FIRST), full=_name(rng), bank=rng.choice(BANKS), team=rng.choice(TEAMS),
        thing=rng.choice(THINGS), amount=_amount(rng), date=_date(rng), days=rng.randint(2, 10),
        four=_digits(rng, 4), digits=_digits(rng, 8), postcode=f"{rng.choice('ABEKLMNSW')}{rng.randint(1, 20)} "
        f"{rng.randint(1, 9)}{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTUW')}", hours=rng.choice([24, 48, 72]),
        merchant=rng.choice(["Amazon", "a shop", "Tesco", "an online store", "Uber", "a petrol station", "PayPal"]),
    )  # fmt: skip
    text = rng.choice(FILLERS) + text
    return text[:1].upper() + text[1:] if rng.random() < 0.8 else text.lower()


AGENT = {
    "greet": [
        "Thank you for calling {bank}, my name is {name}, how can I help you today?",
        "Good morning, {bank}, {name} speaking. How may I help?",
        "Hello, you're through to {team}, how can I help?",
        "Yes, well, how can I help you?",
        "Yes, speaking. What can I do for you?",
        "Hello, {name} here, can I help you?",
        "Yes, this is {team}. What can I do for you today?",
        "Welcome to {bank}. You're speaking with {name}.",
        "Good afternoon, thanks for holding, this is {name}.",
        "Yes, can I help you?",
        "Hello, yes, it is. How can I help?",
        "Hi there, you've reached {bank}. What's the reason for your call today?",
        "Thanks for calling, how can I help?",
        "Yes, it's {team} here, who am I speaking to?",
    ],
    "verify": [
        "Can I take your full name, please?",
        "Could you confirm your date of birth for me?",
        "For security, can you give me the first line of your address and your postcode?",
        "Can I have the last four digits of the {thing} number?",
        "Before we go on, I need to verify your identity.",
        "Can you confirm the postcode on the account?",
        "What's the email address we have on file for you?",
        "And can you confirm your date of birth, please?",
        "Thank you, and the first line of your address?",
        "I just need to ask you a couple of security questions.",
        "Could you spell your surname for me?",
        "Can you confirm the amount of your last payment in?",
        "Thank you, you've passed security.",
        "Lovely, that's all verified, thank you.",
        "Can I get a contact number in case we get cut off?",
        "Who am I speaking with today?",
        "And may I ask who's calling?",
        "Can I take the long number on the card, please?",
        "Could you read me the card number?",
        "And the expiry date on the card?",
        "Go on.",
        "Mm-hm, and the next four?",
        "Okay, and the rest?",
        "Can you read me the number on the front of the card?",
        "And the sort code and account number?",
    ],
    "listen": [
        "I'm sorry to hear that.",
        "I understand, that must be worrying.",
        "Okay, I can help you with that.",
        "No problem at all.",
        "Let me check that for you.",
        "Bear with me one moment while I look at the account.",
        "Let me have a look.",
        "I can see the payment of {amount} to {merchant} on {date}.",
        "I'm just going to put you on hold for a moment, is that okay?",
        "Thank you for holding.",
        "Sorry to keep you waiting.",
        "Right, I can see what's happened here.",
        "Okay, let me just pull that up.",
        "I can certainly look into that for you.",
        "I do apologise for the inconvenience.",
        "That's no problem, I'll sort that out for you now.",
        "Can you tell me when you last used the {thing}?",
        "Do you still have the card with you?",
        "And did you make that payment yourself?",
        "Can you tell me roughly when this happened?",
        "Is that the payment of {amount}?",
        "Okay, and was that online or in a shop?",
        "Just to confirm, you didn't authorise this payment?",
    ],
    "act": [
        "I've blocked the card so no further payments can be made.",
        "I'll block that card right away.",
        "I've ordered you a replacement card, it should arrive in {days} working days.",
        "I've raised a dispute for the payment of {amount}.",
        "I'm going to transfer you to {team} now.",
        "I've reset your PIN, you'll get a new one in the post.",
        "I've updated your address on the account.",
        "I've refunded the fee of {amount} back to your account.",
        "I've cancelled that direct debit for you.",
        "I'll send you a text with a link to reset your password.",
        "I've unlocked your online banking.",
        "I've put a note on the account.",
        "I've sent the form to your email address.",
        "The refund of {amount} will reach your account within {days} working days.",
        "I'll arrange a callback from our specialist team tomorrow.",
        "I've increased your limit to {amount}.",
        "I will block the card right away and order you a new one.",
        "I will cancel it now.",
        "I can order a new card for you today.",
        "We will refund {amount} to your account.",
        "I can send that out to you.",
        "I'm going to raise that with the merchant.",
    ],
    "explain": [
        "The payment is still pending and should clear within {hours} hours.",
        "Transfers to another bank can take up to two working days.",
        "There's a fee of {amount} for that service.",
        "The exchange rate is set at the time of the payment.",
        "Your card will be sent to the address we hold.",
        "Once the dispute is raised it usually takes around {days} days.",
        "You can also do this in the app.",
        "The merchant has up to {days} days to respond.",
        "For your security we never ask for your full PIN.",
        "You won't be liable for any fraudulent transactions.",
        "That should now be showing on your statement.",
        "You can freeze the card yourself in the app next time.",
        "Your new card will have a new number.",
        "It's {amount} in total.",
        "Your balance is {amount} and the overdraft limit is {amount}.",
        "The money should be back in your account by {date}.",
        "That payment went out on {date}.",
        "You'll get a text to confirm.",
        "You're covered for that, so you won't lose any money.",
    ],
    "ack": [  # what both sides say: these must tell little
        "Okay.",
        "Yes.",
        "Right.",
        "Sure.",
        "Mm-hmm.",
        "Alright.",
        "Perfect.",
        "Great.",
        "Lovely.",
        "No problem.",
        "Okay, thank you.",
        "Yes, that's right.",
        "Thank you.",
        "Okay, bye.",
        "Have a nice day.",
        "Thanks, bye.",
        "Sorry, could you repeat that?",
        "Sorry, I didn't catch that.",
        "Hello?",
        "Are you still there?",
        "Hello? Are you still there?",
    ],
    "curt": [  # agents who say as little as they can: a department's name, one-word questions, "done"
        "{team}.",
        "Card services.",
        "Fraud.",
        "Payments.",
        "{bank}.",
        "{bank}, go ahead.",
        "Date of birth?",
        "Postcode?",
        "Full name?",
        "Name?",
        "Account number?",
        "Card number?",
        "Last four digits?",
        "Sort code?",
        "Name and date of birth?",
        "And the postcode?",
        "What's the problem?",
        "What do you need?",
        "Reason for the call?",
        "Which card?",
        "Which payment?",
        "How much?",
        "When?",
        "Okay. I will stop the card.",
        "I'll stop the card.",
        "Stopping it now.",
        "Done.",
        "Yes. Done.",
        "It's done.",
        "Card's blocked.",
        "Blocked.",
        "New card in {days} days.",
        "Hold on.",
        "One moment.",
        "Wait.",
        "Anything else?",
        "Is that it?",
        "Bye.",
    ],
    "close": [
        "Is there anything else I can help you with today?",
        "Is there anything else at all?",
        "Thank you for calling {bank}, have a lovely day.",
        "You're welcome, take care, goodbye.",
        "Thanks for your patience today.",
        "Have a good rest of your day.",
        "Thank you, {name}, goodbye now.",
        "Is there anything else I can do for you?",
        "You're very welcome. Bye bye.",
        "Thanks for calling, and sorry again for the trouble.",
    ],
}
CUSTOMER = {
    "open": [
        "Hello, is that customer service?",
        "Hi, is this {bank}?",
        "Hello?",
        "Hi, yes, I'm calling about my {thing}.",
        "Hello, I need some help with my {thing}.",
        "Hi there, I've got a problem with my {thing}.",
        "Yes, hello, I'm ringing because of a payment on my {thing}.",
        "Hi, can you help me with something?",
        "Hello, am I through to the right department?",
        "Hi, I was told to call this number.",
        "Good morning, I'm calling about a transaction I don't recognise.",
        "Yes hi, it's about my {thing} again.",
        "Hi, I'd like to speak to someone about my {thing}.",
        "Hello, yes, I've been waiting ages.",
        "Hello? Are you still there?",
        "Hello? Hello, can you hear me?",
        "Are you still there?",
    ],
    "identify": [
        "My name is {full}.",
        "Yes, it's {full}.",
        "It's {date}.",
        "My date of birth is {date}.",
        "The postcode is {postcode}.",
        "The last four digits are {four}.",
        "My account number is {digits}.",
        "It's {full}, and my date of birth is {date}.",
        "Yes, that's me.",
        "It's spelled {name}, with a y.",
        "Sure, it's {postcode}.",
        "The card ends in {four}.",
        "My number is 07{digits}.",
        "It's {name} at gmail dot com.",
        "I live at {days} High Street.",
        "Hi, my name is {full}, I'm a customer.",
        "Yes, it is {four}.",
        "{four}.",
        "{four} {four}.",
        "It's {four} {four} {four} {four}.",
        "And then {four}.",
        "The long number is {four} {four}.",
        "Expiry is {days} {hours}.",
        "The {date}.",
        "{date}.",
        "{postcode}.",
        "{full}.",
    ],
    "confirm": [
        "Yes.",
        "Yes please.",
        "Okay.",
        "That's right.",
        "No, I didn't.",
        "Yes, I've still got it.",
        "Sure.",
        "No, it wasn't me.",
        "Yeah, that's the one.",
        "Okay, thank you.",
        "Alright.",
        "I think so, yes.",
        "No, I've never been there.",
        "Yes, that's fine.",
        "Okay, I'll hold.",
        "Mm-hmm.",
        "Yes, go ahead.",
    ],
    "ask": [
        "How long will that take?",
        "Will I get my money back?",
        "Can you check if it went through?",
        "Why was I charged {amount}?",
        "When will the new card arrive?",
        "Is my account safe?",
        "Do I need to do anything else?",
        "Can I still use my card?",
        "What happens now?",
        "Will it affect my credit score?",
        "Can you tell me why my {thing} was declined?",
        "Is there a fee for that?",
        "So I'll see {amount} back in my account?",
    ],
    "tell": [
        "Someone used my card at {merchant} and I didn't make that payment.",
        "I lost my card yesterday.",
        "I see two payments of {amount} that I didn't make.",
        "The shop took the money two times.",
        "My transfer hasn't arrived yet.",
        "I sent {amount} to my brother and he hasn't got it.",
        "I think my card has been stolen.",
        "I can't log in to the app.",
        "The cash machine didn't give me my money.",
        "I was charged twice for the same thing.",
        "My card was declined at {merchant}.",
        "I moved house and need to change my address.",
        "I forgot my PIN.",
        "I want to close my account.",
        "It was on {date}, I think.",
        "I only bought the one thing.",
        "I noticed it this morning on my statement.",
    ],
    "close": [
        "Thank you very much, have a nice day.",
        "Thanks, bye.",
        "Great, thanks for your help.",
        "Brilliant, thank you.",
        "No, that's everything, thanks.",
        "That's all, thank you so much.",
        "Okay, cheers, bye.",
        "Thank you, you've been really helpful.",
        "No, that's it. Have a good day.",
        "Lovely, thanks, goodbye.",
    ],
}


_MIRROR = {
    "i": "you",
    "my": "your",
    "me": "you",
    "mine": "yours",
    "myself": "yourself",
    "i'm": "you're",
    "i've": "you've",
    "i'd": "you'd",
    "i'll": "you'll",
    "am": "are",
    "we": "you",
    "our": "your",
    "us": "you",
}
_MIRROR_LEADS = ["So ", "Okay, so ", "Just to confirm, ", "Right, so ", "I understand ", "So you're saying ", "I see, "]
_MIRROR_TAILS = ["", "", ", is that right?", "?", ", yes?", ". Let me look into that."]


def mirror(request: str, rng: random.Random) -> str:
    """A customer's request as the agent restates it ("I lost my card" -> "So you lost your card, is that right?").

    Agents talk about the same cards and payments as customers; turning requests round teaches the model the
    framing (who is "I", who is "you") instead of the banking words both sides use."""
    words = [_MIRROR.get(w.lower(), w) for w in request.rstrip("?.! ").split()]
    return rng.choice(_MIRROR_LEADS) + " ".join(words)[:1].lower() + " ".join(words)[1:] + rng.choice(_MIRROR_TAILS)


def mirrored(requests: list[str], n: int, *, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [mirror(rng.choice(requests), rng) for _ in range(n)]


def generate(side: dict[str, list[str]], n: int, *, seed: int) -> list[str]:
    """n turns of one side, each a filled template (several joined sometimes, as one turn of speech often is)."""
    rng = random.Random(seed)
    kinds = list(side)
    out = []
    for _ in range(n):
        parts = [_fill(rng, rng.choice(side[rng.choice(kinds)])) for _ in range(rng.choice([1, 1, 1, 2, 2, 3]))]
        out.append(" ".join(parts))
    return out
