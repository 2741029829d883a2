"""The second hearing primed for digits: which turns are heard again, and how its numbers redact the first hearing."""

import numpy as np
import pytest

from callscope.contacts import Turn
from callscope.interactions.intake import redactions_of
from callscope.voice.audio_redaction import pii_spans
from callscope.voice.number_pass import DIGIT_PROMPT, hear_digits, may_hold_number, number_regions
from callscope.voice.transcribe import WhisperOptions, decode_kwargs, load_whisper, transcribe
from tests.audio import encode
from tests.speech import speak


def timed(words: list[str], start: float, step: float = 0.4) -> list[tuple[float, float, str]]:
    return [(start + i * step, start + i * step + 0.3, w) for i, w in enumerate(words)]


@pytest.mark.parametrize(
    ("text", "heard_again"),
    [
        ("The account is made time for 8, level 1, 3, 1", True),  # digits among misheard words
        ("It's a count of 824, I'm Nero for Nero.", True),  # three digits
        ("My mobile nearo family for one family", True),  # a number cue
        ("one nine one two", True),  # digit words
        ("I'd like to check my balance, please.", False),
        ("No one told me about the fee.", False),  # a lone digit word is speech
    ],
)
def test_turns_that_may_hold_a_number_are_heard_again(text, heard_again):
    assert may_hold_number(text) is heard_again


def misheard_account() -> Turn:
    """A turn the recognizer wrote as words, and its digit hearing (the words' times as a recognizer gives them)."""
    words = timed([" The", " account", " is", " made", " time", " for", " 8,", " level", " 1,", " 3,", " 1"], 2.0)
    digits = [(2.0, 2.3, " Account"), (2.4, 2.7, " number"), (3.2, 6.3, " 8-481131.")]
    text = "".join(w for *_, w in words).strip()
    return Turn(speaker="customer", start=2.0, end=6.3, text=text, words=words, digit_words=digits)


def test_a_number_found_by_the_digit_hearing_redacts_the_words_heard_there():
    turn = misheard_account()
    speakers = [(0, "customer")]
    assert number_regions([turn], speakers) == [[(15, len(turn.text), "ACCOUNT", None)]]  # "made time ... 1"
    [plain] = redactions_of([turn.model_copy(update={"digit_words": []})])
    assert plain.text == turn.text  # the first hearing alone holds no number a rule can see
    [stored] = redactions_of([turn])
    assert stored.text == "The account is [ACCOUNT]" and [s.type for s in stored.spans] == ["ACCOUNT"]
    # and the recording is cut where those words were said
    spans = pii_spans([turn], [stored], channel_of=lambda t: 1, margin_s=0.25)
    assert [(s.start, s.end, s.kinds) for s in spans] == [(2.95, 6.55, ("ACCOUNT",))]


def test_the_digit_hearing_of_a_card_read_over_turns_is_one_card_and_keeps_its_last_four():
    groups = ["4539", "1488", "0343", "6467"]
    misheard = ["for five free nine", "one for eight eight", "oh free for free", "six for six seven"]
    turns = []
    for k, (said, digits) in enumerate(zip(misheard, groups, strict=True)):
        start = 3.0 * k
        words = timed([f" {w}" for w in said.split()], start)
        turns.append(Turn(speaker="customer", start=start, end=start + 1.5, text=said, words=words,
                          digit_words=[(start, start + 1.5, f" {digits}.")]))  # fmt: skip
    first_hearing = redactions_of([t.model_copy(update={"digit_words": []}) for t in turns])
    assert [r.text for r in first_hearing] != ["[CARD]"] * 4  # "free for free" is left of the third group
    stored = redactions_of(turns)
    assert [r.text for r in stored] == ["[CARD]"] * 4
    assert stored[-1].spans[0].last4 == "6467"


def test_other_speakers_words_and_words_outside_the_number_are_kept():
    turn = misheard_account()
    agent = Turn(speaker="agent", start=0.0, end=1.5, text="And the account number?",
                 words=timed([" And", " the", " account", " number?"], 0.0))  # fmt: skip
    thanks = timed([" Thanks", " a", " lot."], 7.0)
    after = Turn(speaker="customer", start=7.0, end=8.0, text="Thanks a lot.", words=thanks)
    stored = redactions_of([agent, turn, after])
    assert [r.text for r in stored] == ["And the account number?", "The account is [ACCOUNT]", "Thanks a lot."]


def test_the_pass_hears_a_read_out_number_again_with_the_real_model():
    """A number said on a phone line, through the real Whisper: the turn gets a digit hearing whose words are
    timed inside the turn, and a turn without a number is left alone."""
    line = speak("the account is four six three three, one nine one two.", voice="en-us+f3", wpm=145)
    audio = np.concatenate([np.zeros(8000, np.float32), line, np.zeros(8000, np.float32)])
    options = WhisperOptions()
    model = load_whisper(options)
    said = Turn(speaker="unknown", start=0.5, end=0.5 + line.size / 16000,
                text="The accounted for big free free one nine one two", words=[(0.5, 1.0, " The")])  # fmt: skip
    chat = Turn(speaker="unknown", start=0.5, end=1.0, text="Thanks so much.", words=[(0.5, 1.0, " Thanks")])
    again, untouched = hear_digits(model, audio, [said, chat], 0.0, decode_kwargs(options))
    assert untouched.digit_words == []
    heard = "".join(w for *_, w in again.digit_words)
    assert sum(c.isdigit() for c in heard) >= 6, heard
    assert all(0.0 <= s <= e <= audio.size / 16000 for s, e, _ in again.digit_words)


def test_transcribe_sets_the_digit_hearing_only_when_the_setting_is_on():
    line = speak("my card number is four five three nine, one four eight eight, oh three four three, six four six "
                 "seven.", voice="en-gb")  # fmt: skip
    recording = encode(np.stack([line, line]), rate=16000, fmt="wav", codec="pcm_s16le")
    on = transcribe(recording, options=WhisperOptions())
    off = transcribe(recording, options=WhisperOptions(number_pass=False))
    assert any(t.digit_words for t in on.turns)
    assert not any(t.digit_words for t in off.turns)
    assert [t.text for t in on.turns] == [t.text for t in off.turns]  # the stored words stay the first hearing's


def test_what_the_first_hearing_found_keeps_its_kind_and_the_digit_hearings_echoes_change_nothing():
    """The digit hearing of a card ("5568. 4934. Call me on 022.": the prompt echoed) must not turn the first
    hearing's card into two numbers, nor leave a digit of it."""
    words = timed([" And", " my", " card", " number", " is", " 5.668.4934.1222.4808."], 0.0)
    words[-1] = (2.0, 6.0, " 5.668.4934.1222.4808.")
    digits = [(0.0, 0.3, " And"), (0.4, 0.7, " my"), (0.8, 1.1, " card"), (1.2, 1.5, " number"), (1.6, 1.9, " is"),
              (2.0, 3.0, " 5568."), (3.0, 4.0, " 4934."), (4.0, 4.5, " Call"), (4.5, 4.8, " me"), (4.8, 5.0, " on"),
              (5.0, 6.0, " 022.")]  # fmt: skip
    turn = Turn(speaker="customer", start=0.0, end=6.0, text="And my card number is 5.668.4934.1222.4808.", words=words,
                digit_words=digits)  # fmt: skip
    [stored] = redactions_of([turn])
    assert stored.text == "And my card number is [CARD]."
    assert [(s.type, s.last4) for s in stored.spans] == [("CARD", "4808")]


def test_words_the_rules_left_beside_a_number_join_it():
    words = timed([" My", " mobile", " is", " O-7-7-7-1", " for", " code", " perfect,", " 14-00."], 0.0)
    digits = [(0.0, 0.3, " My"), (0.4, 0.7, " mobile"), (0.8, 1.1, " is"), (1.2, 3.5, " 07751"), (3.5, 4.0, " 40026,"),
              (4.0, 4.4, " 1400.")]  # fmt: skip
    text = "".join(w for *_, w in words).strip()
    turn = Turn(speaker="customer", start=0.0, end=4.4, text=text, words=words, digit_words=digits)
    [first] = redactions_of([turn.model_copy(update={"digit_words": []})])
    assert first.text == "My mobile is [NUMBER] for code perfect, 14-00."  # five digits: a number of no kind
    [stored] = redactions_of([turn])
    assert stored.text == "My mobile is [PHONE]."  # one placeholder, of the kind the digit hearing heard


@pytest.mark.parametrize(
    ("heard", "found"),
    [
        ("It's account payment for all payment, 12381.", "12381"),  # five digits after the cue: the account
        ("The account in 8x48, number 131.", "8x48, number 131"),
        ("My card was charged 25.99 on 12/03/2024, 10:30 am.", None),  # amounts, dates and times stay
        ("I paid 10000 pounds with my card.", None),
        ("Account number 4148, the rest.", "4148"),  # four digits after a cue: the number, or what was heard of it
        ("My account number is 123.", None),  # three: not yet
        ("Account in 1320M, or the 2-31.", "1320M, or the 2-31"),  # dashed groups are digits here, not a date
        ("It's 037. I'm 043. I'm 103.", "037. I'm 043. I'm 103"),  # no cue: seven digits or more in close groups
        ("They can't be made high in 48, number 131.", "48, number 131"),  # the cue inside the groups
        ("I rang at 10, then 11, then twice more at 12, 13 and 14.", None),  # groups far apart, under seven digits
    ],
)
def test_a_number_the_digit_hearing_wrote_after_a_cue_or_in_close_groups_is_redacted(heard, found):
    words = [(float(k), k + 0.9, f" {w}") for k, w in enumerate(heard.split())]
    turn = Turn(speaker="customer", start=0.0, end=len(words), text=heard, words=words, digit_words=words)
    [regions] = number_regions([turn], [(0, "customer")])
    assert [heard[a:b].rstrip(".,") for a, b, *_ in regions] == ([found] if found else [])


def test_a_number_region_takes_whole_words_though_whisper_timed_their_pieces_apart():
    words = [(0.0, 0.4, " My"), (0.4, 0.7, " model"), (0.7, 1.0, " is"), (1.0, 1.3, " Nero"), (1.3, 2.7, "-Kamon246,"),
             (3.0, 3.3, " or"), (3.3, 3.7, " Nero"), (3.7, 4.3, "-Nero"), (5.0, 5.7, "-Kamon246.")]  # fmt: skip
    digits = [(0.0, 0.4, " My"), (0.4, 0.7, " number"), (0.7, 1.0, " is"), (1.0, 2.7, " 0224x,"), (3.1, 3.3, " or"),
              (3.3, 3.9, " 0"), (3.9, 5.1, " 08x"), (5.1, 5.4, " high.")]  # fmt: skip
    text = "".join(w for *_, w in words).strip()
    turn = Turn(speaker="customer", start=0.0, end=5.7, text=text, words=words, digit_words=digits)
    [stored] = redactions_of([turn])
    assert stored.text == "My model is [NUMBER]."  # "-Kamon246" ends after the digit hearing's last digit


class _ScriptedModel:
    """Whisper's `transcribe` as the number pass calls it: records each call, answers words at given times."""

    def __init__(self, words: list[tuple[float, float, str]]) -> None:
        self.words, self.calls = words, []

    def transcribe(self, audio: np.ndarray, **kwargs):
        from types import SimpleNamespace

        self.calls.append((audio.size / 16000, kwargs["initial_prompt"], kwargs["max_new_tokens"]))
        return [SimpleNamespace(words=[SimpleNamespace(start=a, end=b, word=w) for a, b, w in self.words])], None


def test_turns_heard_again_share_one_window_and_each_gets_its_own_words_back():
    turns = [Turn(speaker="customer", start=1.0, end=2.0, text="my number is 1234", words=[(1.0, 2.0, " x")]),
             Turn(speaker="customer", start=5.0, end=6.0, text="Hello there.", words=[(5.0, 6.0, " x")]),
             Turn(speaker="customer", start=10.0, end=11.0, text="5678", words=[(10.0, 11.0, " x")])]  # fmt: skip
    model = _ScriptedModel([(0.5, 1.2, " 1234"), (3.0, 3.8, " 5678.")])  # in the joined audio: 1.6 s, 1 s gap, 1.6 s
    first, hello, last = hear_digits(model, np.zeros(20 * 16000, np.float32), turns, 0.0, {})
    assert [(round(seconds, 2), prompt) for seconds, prompt, _ in model.calls] == [(4.2, DIGIT_PROMPT)]  # one window
    assert [(round(a, 2), round(b, 2), w) for a, b, w in first.digit_words] == [(1.2, 1.9, " 1234")]
    assert [(round(a, 2), round(b, 2), w) for a, b, w in last.digit_words] == [(10.1, 10.9, " 5678.")]
    assert hello.digit_words == []  # nothing in it that may be a number: not heard again


def test_turns_too_long_to_share_a_window_are_heard_in_the_next():
    turns = [Turn(speaker="customer", start=k * 20.0, end=k * 20.0 + 12, text="account 12345678", words=[(0, 1, " x")])
             for k in range(3)]  # fmt: skip
    model = _ScriptedModel([])
    hear_digits(model, np.zeros(80 * 16000, np.float32), turns, 0.0, {})
    assert [round(seconds, 1) for seconds, *_ in model.calls] == [25.9, 12.6]  # 12.3 + 1 + 12.6, then the third
    assert all(abs(tokens - (10 * seconds + 16)) <= 1 for seconds, _, tokens in model.calls)  # loops stop there
