"""Word timings and repetition loops of the live decoder."""

from __future__ import annotations

from callscope.live.streaming import Word, before_repetition, snap_to_speech


def words(*spec: tuple[float, float, str]) -> list[Word]:
    return [Word(a, b, " " + t) for a, b, t in spec]


def test_a_loop_keeps_the_phrase_heard_once() -> None:
    looped = words((0, .4, "regarding"), (.5, .8, "my"), (.9, 1.1, "order."), (2, 2, "Regarding"), (2, 2, "my"),
                   (2, 2, "order."), (2, 2, "Regarding"))  # fmt: skip
    assert [w.text for w in before_repetition(looped, shortest=2)] == [" regarding", " my", " order."]


def test_a_short_phrase_said_twice_is_speech_unless_whisper_flagged_a_loop() -> None:
    said = words((0, .3, "thank"), (.3, .6, "you,"), (.7, 1, "thank"), (1, 1.3, "you."))
    assert before_repetition(said, shortest=3) == said
    assert [w.text for w in before_repetition(said, shortest=2)] == [" thank", " you,"]


def test_word_edges_move_out_of_silence_into_their_speech() -> None:
    said = words((2.5, 5.4, "Hi"), (5.5, 5.9, "there."), (7.0, 7.2, "um"), (8.0, 9.5, "thanks"))
    snapped = snap_to_speech(said, [(5.1, 6.0), (8.1, 8.6), (9.0, 9.6)])
    assert [(w.start, w.end) for w in snapped] == [(5.1, 5.4), (5.5, 5.9), (7.0, 7.2), (8.1, 8.6)]
