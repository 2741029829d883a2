"""Transcription with the real bundled tiny.en model on real (synthesized) speech in several formats."""

import numpy as np
import pytest

from callscope.errors import AudioError
from callscope.voice.transcribe import WhisperOptions, decode, load_whisper, probe, resolve_model_path, transcribe
from tests.audio import encode, line_noise
from tests.conftest import SAMPLES

CALL = SAMPLES / "call_dual_channel.wav"
OPTIONS = WhisperOptions()


@pytest.fixture(scope="module")
def call_audio():
    left, right = decode(CALL)
    return left, right


def test_dual_channel_call_is_two_labelled_tracks_merged_by_time():
    result = transcribe(CALL.read_bytes(), options=OPTIONS, agent_channel="left")
    speakers = [t.speaker for t in result.turns]
    assert result.channels == 2
    assert speakers[0] == "agent" and "customer" in speakers
    assert [t.start for t in result.turns] == sorted(t.start for t in result.turns)
    agent_text = " ".join(t.text for t in result.turns if t.speaker == "agent").lower()
    customer_text = " ".join(t.text for t in result.turns if t.speaker == "customer").lower()
    assert "calling" in agent_text and "sarah" in agent_text
    assert "lost my card" in customer_text and "recogni" in customer_text
    assert "lost my card" not in agent_text  # nothing of the customer's channel bleeds into the agent's
    first_customer = next(t for t in result.turns if t.speaker == "customer")
    assert 5.0 < first_customer.start < 7.0  # the customer starts speaking at about 5.6 s
    assert result.duration == pytest.approx(23.65, abs=0.1)


def test_agent_channel_can_be_the_right_one():
    result = transcribe(CALL.read_bytes(), options=OPTIONS, agent_channel="right")
    assert result.turns[0].speaker == "customer"  # the greeting is on the left channel, now the customer's


def test_identical_channels_are_one_track(call_audio):
    left, _ = call_audio
    stereo_same = encode(np.stack([left, left]), rate=16000, fmt="wav", codec="pcm_s16le")
    mono_left, right = decode(stereo_same)
    assert right is None and mono_left.size == left.size


@pytest.mark.parametrize(
    ("fmt", "codec", "rate"),
    [("wav", "pcm_mulaw", 8000), ("wav", "pcm_alaw", 8000), ("flac", "flac", 16000), ("mp3", "libmp3lame", 16000),
     ("ogg", "libopus", 16000), ("ipod", "aac", 16000)],
)  # fmt: skip
def test_common_recorder_formats_decode_to_both_channels(call_audio, fmt, codec, rate):
    left, right = call_audio
    step = 2 if rate == 8000 else 1
    data = encode(np.stack([left, right])[:, ::step], rate=16000 // step, fmt=fmt, codec=codec)
    assert probe(data) == pytest.approx(23.6, abs=0.3)
    got_left, got_right = decode(data)
    assert got_right is not None
    assert got_left.size / 16000 == pytest.approx(23.6, abs=0.3)


def test_8khz_mulaw_telephone_call_is_transcribed(call_audio):
    left, right = call_audio
    data = encode(np.stack([left, right])[:, ::2], rate=8000, fmt="wav", codec="pcm_mulaw")
    result = transcribe(data, options=OPTIONS, agent_channel="left")
    customer_text = " ".join(t.text for t in result.turns if t.speaker == "customer").lower()
    assert "card" in customer_text and result.channels == 2


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty"), (b"hello, this is not audio at all" * 10, "not a readable audio"),
     (CALL.read_bytes()[:4000], "truncated")],
)  # fmt: skip
def test_bad_uploads_are_refused_with_a_reason(data, reason):
    with pytest.raises(AudioError, match=reason):
        probe(data)


def test_undecodable_recording_raises_audio_error():
    with pytest.raises(AudioError, match="cannot be decoded"):
        decode(b"RIFF\x00\x00\x00\x00WAVEgarbage" * 3)


def test_model_is_loaded_once_per_process_and_is_the_bundled_tiny_en():
    assert load_whisper(OPTIONS) is load_whisper(WhisperOptions())
    assert resolve_model_path("").endswith("model")
    assert resolve_model_path("/models/large-v3") == "/models/large-v3"


def test_batched_decoding_gives_the_words_of_one_window_at_a_time():
    """Batched decoding (a GPU's choice; the default decodes one window at a time) says on the sample call exactly
    what sequential decoding says."""
    batched = transcribe(CALL.read_bytes(), options=WhisperOptions(batch_size=4), agent_channel="left")
    sequential = transcribe(CALL.read_bytes(), options=WhisperOptions(), agent_channel="left")
    assert WhisperOptions().batch_size == 0 and batched.text == sequential.text
    assert [(t.speaker, t.text) for t in batched.turns] == [(t.speaker, t.text) for t in sequential.turns]
    assert all(abs(a.start - b.start) < 0.1 for a, b in zip(batched.turns, sequential.turns, strict=True))
    loose = transcribe(CALL.read_bytes(), options=WhisperOptions(channel_vad_threshold=0.5), agent_channel="left")
    assert "lost my card" in " ".join(t.text for t in loose.turns if t.speaker == "customer").lower()


def test_both_channels_decoded_at_once_say_what_one_after_the_other_says(monkeypatch):
    """The two channels of a call are decoded at the same time (two replicas of the model): the same turns as one
    channel after the other, and progress is reported on the caller's thread only (a worker's heartbeat commits its
    database session there), rising to 1."""
    import threading
    import time

    from callscope.voice import transcribe as module

    spans: list[tuple[float, float]] = []
    decode_track = module._transcribe_track

    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return decode_track(*args, **kwargs)
        finally:
            spans.append((began, time.perf_counter()))

    monkeypatch.setattr(module, "_transcribe_track", timed)
    monkeypatch.setattr(module, "PROGRESS_EVERY_S", 0.05)
    reports: list[tuple[float, threading.Thread]] = []
    at_once = transcribe(CALL.read_bytes(), options=OPTIONS, agent_channel="left",
                         on_progress=lambda done: reports.append((done, threading.current_thread())))  # fmt: skip
    (a_began, a_ended), (b_began, b_ended) = spans
    assert OPTIONS.channels_at_once and a_began < b_ended and b_began < a_ended  # the channels overlapped in time
    spans.clear()
    one_by_one = transcribe(CALL.read_bytes(), options=WhisperOptions(channels_at_once=False), agent_channel="left")
    (a_began, a_ended), (b_began, b_ended) = sorted(spans)
    assert a_ended <= b_began
    assert [(t.speaker, t.text, t.start, t.end) for t in at_once.turns] == [
        (t.speaker, t.text, t.start, t.end) for t in one_by_one.turns
    ]
    assert {thread for _, thread in reports} == {threading.current_thread()}
    done = [fraction for fraction, _ in reports]
    assert len(done) >= 2 and done == sorted(done) and done[-1] == 1.0 and 0 < done[0] < 1


def test_a_channel_that_fails_fails_the_call_decoded_at_once(monkeypatch):
    from callscope.voice import transcribe as module

    decode_track = module._transcribe_track

    def failing_right(model, audio, options, on_segment, offset=0.0, words=None):
        if np.abs(audio[8000:80000]).max() < 0.01:  # the customer's side: silent while the agent greets (0.2-5 s)
            raise AudioError("the right channel cannot be read", status_code=415)
        return decode_track(model, audio, options, on_segment, offset, words)

    monkeypatch.setattr(module, "_transcribe_track", failing_right)
    with pytest.raises(AudioError, match="right channel"):
        transcribe(CALL.read_bytes(), options=OPTIONS, agent_channel="left")


def test_a_call_interrupted_on_the_callers_thread_stops_both_channels(monkeypatch):
    """A Celery soft time limit is raised on the task's thread, which waits while the channels decode on two others:
    both stop at a next segment instead of decoding the call to its end, and the interruption is what is raised."""
    import threading

    from callscope.voice import transcribe as module

    segments = []
    decode_track = module._transcribe_track

    def counted(model, audio, options, on_segment, offset=0.0, words=None):
        def seen(end):
            segments.append(end)
            on_segment(end)

        return decode_track(model, audio, options, seen, offset, words)

    class OutOfTime(Exception):
        pass

    def out_of_time(done):
        raise OutOfTime

    left, right = decode(CALL)
    call = encode(np.stack([np.tile(left, 3), np.tile(right, 3)]), rate=16000, fmt="wav", codec="pcm_s16le")
    monkeypatch.setattr(module, "_transcribe_track", counted)
    monkeypatch.setattr(module, "PROGRESS_EVERY_S", 0.01)
    transcribe(call, options=OPTIONS, agent_channel="left")
    whole = len(segments)
    segments.clear()
    with pytest.raises(OutOfTime):
        transcribe(call, options=OPTIONS, agent_channel="left", on_progress=out_of_time)
    assert whole >= 8 and 1 <= len(segments) < whole, (whole, segments)  # stopped before the end
    assert not [t for t in threading.enumerate() if t.name.startswith("callscope-channel")]


def test_speech_a_batched_chunk_left_without_words_is_decoded_again():
    """Batched decoding can stop before a chunk's end; the VAD speech no word covers is found and filled in."""
    from callscope.voice.transcribe import _Segment, _speech_without_words, _Word

    audio, _ = decode(CALL)
    left = audio[: int(5.2 * 16000)]  # the agent's greeting, about 0.2-5 s
    said = [_Word(0.3, 1.0, " Thank"), _Word(1.0, 1.6, " you")]  # as if decoding had stopped after two words
    gaps = _speech_without_words(left, [_Segment(0.3, 1.6, " Thank you", said)], 0.35)
    assert len(gaps) == 1 and gaps[0][0] >= 1.6 and gaps[0][1] > 4.0
    assert _speech_without_words(left, [_Segment(0.3, 5.0, "", [*said, _Word(1.6, 5.0, " ...")])], 0.35) == []


@pytest.mark.parametrize("pause_s", [0.8, 1.5, 1.9])
def test_a_pause_between_two_utterances_is_not_speech_left_without_words(pause_s):
    """Silero joins utterances across pauses under 2 s into one region; the pause, taken for speech no word covered,
    was decoded again and came back as words nobody said ("I'll leave" between "Hello" and "neither did I"). Words
    timed a little off their speech (Whisper's drift) still cover it."""
    from callscope.voice.transcribe import _Segment, _speech_without_words, _Word
    from tests.speech import speak

    hello, request = speak("Hello there."), speak("My card was stolen yesterday.")
    pause = np.zeros(int(pause_s * 16000), np.float32)
    audio = np.concatenate([hello, pause, request])
    audio = audio + line_noise(audio, echo_db=None)
    one, two = hello.size / 16000, (hello.size + pause.size) / 16000
    said = [_Segment(0.0, one, " Hello there.", [_Word(0.25, one - 0.25, " Hello there.")]),
            _Segment(two, audio.size / 16000, " My card was stolen yesterday.",
                     [_Word(two + 0.2, audio.size / 16000 - 0.2, " My card was stolen yesterday.")])]  # fmt: skip
    assert _speech_without_words(audio, said, 0.5) == []


def test_long_pause_inside_a_segment_starts_a_new_turn():
    """VAD keeps pauses under 2 s inside one chunk, so a segment can hold two of one side's turns."""
    from types import SimpleNamespace as Word

    from callscope.voice.transcribe import _split_at_pauses

    words = [Word(start=0.0, end=0.4, word=" Yes"), Word(start=0.5, end=0.9, word=" please."),
             Word(start=3.1, end=3.5, word=" Thanks."), Word(start=4.0, end=4.2, word=" Bye.")]  # fmt: skip
    pieces = _split_at_pauses(words)
    assert [[w.word for w in p] for p in pieces] == [[" Yes", " please."], [" Thanks.", " Bye."]]


def test_a_stereo_call_longer_than_one_window_is_two_tracks(tmp_path):
    """Each channel's first window ends at its own quiet moment, so the two differ in length."""
    import wave

    from callscope.voice.audio_windows import stream_info
    from callscope.voice.transcribe import _tracks

    rate, seconds = 16000, 330  # past the 300 s window
    t = np.arange(rate * seconds) / rate
    left = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * t / 7) > 0)
    right = 0.3 * np.sin(2 * np.pi * 330 * t) * (np.sin(2 * np.pi * t / 5) > 0)
    path = tmp_path / "long.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.column_stack([left, right]) * 32767).astype(np.int16).tobytes())
    assert _tracks(str(path), stream_info(str(path))) == [0, 1]
    assert _tracks(path.read_bytes(), stream_info(path.read_bytes())) == [0, 1]


def test_repetition_loops_are_found_and_cut():
    from callscope.voice.transcribe import _Segment, _Word, repetition_loops, without_loops

    assert repetition_loops(["our", "ner", "ner", "ner", "ner", "ner", "ner"]) == [(1, 7, 1)]
    assert repetition_loops(["i", "want", "to", "to", "to", "cancel"]) == []  # a stutter is speech
    assert repetition_loops(["my", "card", "my", "card", "my", "card", "my", "card", "please"]) == [(0, 8, 2)]
    words = [_Word(i * 0.3, i * 0.3 + 0.2, w) for i, w in enumerate([" Our", *[" NER-"] * 9])]
    assert without_loops(_Segment(0.0, 3.0, "".join(w.word for w in words), words)) is None
    said = [" I", " lost", " my", " card", *[" card"] * 4, " yesterday", " please"]
    kept = without_loops(_Segment(0.0, 3.0, "", [_Word(i, i + 0.5, w) for i, w in enumerate(said)]))
    assert kept is not None and kept.text == " I lost my card yesterday please"


def test_a_repetition_loop_transcript_is_dropped_from_a_real_call(monkeypatch):
    """The real pipeline on the sample call, with one decoded segment turned into a loop: that segment is gone."""
    import callscope.voice.transcribe as module

    real = module._decode

    def looping(model, audio, options):
        segments = list(real(model, audio, options))
        first = segments[0]
        loop = [module._Word(first.start + i * 0.2, first.start + i * 0.2 + 0.1, " NER-") for i in range(10)]
        return [module._Segment(first.start, first.end, " Our" + "".join(w.word for w in loop), loop), *segments[1:]]

    monkeypatch.setattr(module, "_decode", looping)
    result = transcribe(CALL.read_bytes(), options=OPTIONS, agent_channel="left")
    assert result.turns and "NER" not in result.text
    assert any("card" in t.text.lower() for t in result.turns)


@pytest.mark.parametrize("echo_db", [None, -30.0, -40.0])
def test_a_channel_of_line_noise_and_echo_alone_yields_no_words(call_audio, echo_db):
    """The customer on hold: their channel carries hiss, hum, clicks, comfort noise and the agent's echo (Whisper
    wrote the agent's sentences under the customer from an echo 40 dB down, and invented some from the noise)."""
    agent = call_audio[0]
    stereo = np.stack([agent, line_noise(agent, echo_db=echo_db)])
    result = transcribe(encode(stereo, rate=16000, fmt="wav", codec="pcm_s16le"), options=OPTIONS,
                        agent_channel="left")  # fmt: skip
    assert [t.text for t in result.turns if t.speaker == "customer"] == []
    agent_text = " ".join(t.text for t in result.turns if t.speaker == "agent").lower()
    assert "calling" in agent_text and "sarah" in agent_text and "right away" in agent_text


def test_a_noisy_line_gets_plain_whispers_vad_threshold_and_a_quiet_channel_the_lower_one(call_audio, monkeypatch):
    """Over hiss and hum Silero rates the noise as likelier speech, and the channel's lower threshold padded
    Whisper's chunks with noise ("close" for "clubs", words nobody said); a quiet channel keeps the lower one, for
    short answers between long silences."""
    from callscope.voice import transcribe as module

    heard_with: list[tuple[bool, float]] = []  # (the window carries line noise, its threshold); channels at once
    real = module._transcribe_track

    def spy(model, audio, options, *args, **kwargs):
        heard_with.append((float(np.median(np.abs(audio))) > 1e-4, options.vad_threshold))
        return real(model, audio, options, *args, **kwargs)

    monkeypatch.setattr(module, "_transcribe_track", spy)
    agent, customer = call_audio
    noisy = customer + line_noise(agent, echo_db=None)
    result = transcribe(encode(np.stack([agent, noisy]), rate=16000, fmt="wav", codec="pcm_s16le"), options=OPTIONS,
                        agent_channel="left")  # fmt: skip
    assert {threshold for noisy, threshold in heard_with if not noisy} == {OPTIONS.channel_vad_threshold}  # agent
    assert {threshold for noisy, threshold in heard_with if noisy} == {OPTIONS.vad_threshold}  # customer, noisy line
    assert "card" in " ".join(t.text for t in result.turns if t.speaker == "customer").lower()


def test_both_sides_talking_at_once_are_both_heard_each_on_its_channel():
    """Overtalk: the mixdown garbles two voices at once; each channel decoded on its own hears its side whole."""
    from tests.speech import speak

    agent, customer = speak("Thank you for calling the bank."), speak("My debit card was stolen yesterday.")
    left = np.concatenate([np.zeros(8000, np.float32), agent, np.zeros(48000, np.float32)])
    right = np.concatenate([np.zeros(16000, np.float32), customer, np.zeros(40000, np.float32)])
    size = max(left.size, right.size)
    stereo = np.stack([np.pad(left, (0, size - left.size)), np.pad(right, (0, size - right.size))])
    for batch_size, at_once in ((4, True), (0, True), (0, False)):
        result = transcribe(encode(stereo, rate=16000, fmt="wav", codec="pcm_s16le"),
                            options=WhisperOptions(batch_size=batch_size, channels_at_once=at_once),
                            agent_channel="left")  # fmt: skip
        said = {side: " ".join(t.text for t in result.turns if t.speaker == side).lower()
                for side in ("agent", "customer")}  # fmt: skip
        assert "calling" in said["agent"] and "stolen" not in said["agent"], said
        assert "stolen" in said["customer"] and "calling" not in said["customer"], said
        customer_turns = [t for t in result.turns if t.speaker == "customer"]
        assert 0.4 <= customer_turns[0].start <= 1.6, customer_turns  # timed in its own channel (speech from 1 s)


def test_vad_reads_a_channel_once_for_both_of_its_settings(monkeypatch):
    """Batched decoding chunks a channel with one set of VAD settings and the search for speech left without words
    reads it with another: Silero runs once per channel, and its regions are those of a model that remembers
    nothing."""
    from faster_whisper import vad

    from callscope.voice import transcribe as module

    module._remember_vad()
    remembered = vad.get_vad_model()
    silero, runs = remembered.model, []

    def counted(audio, *args, **kwargs):
        runs.append(audio.size)
        return silero(audio, *args, **kwargs)

    monkeypatch.setattr(remembered, "model", counted)
    monkeypatch.setattr(remembered, "kept", type(remembered.kept)())
    left, right = decode(CALL)
    chunking = vad.VadOptions(threshold=0.35, max_speech_duration_s=30)
    gaps = vad.VadOptions(threshold=0.35, speech_pad_ms=0, min_silence_duration_ms=500)

    def regions() -> list[list[dict]]:
        return [vad.get_speech_timestamps(audio, options) for audio in (left, right) for options in (chunking, gaps)]

    heard = regions()
    assert len(runs) == 2  # one run per channel
    monkeypatch.setattr(vad, "get_vad_model", lambda: silero)  # a model that remembers nothing
    assert heard == regions()
    assert heard[0] != heard[1] and heard[0] != heard[2]


def test_a_turn_is_cut_where_the_other_side_spoke_between_two_of_its_words():
    """One decoded segment can run over the other side's reply; the merged transcript must read the reply between
    the two halves, not after both. A pause the other side did not speak in cuts nothing."""
    from callscope.contacts import Turn
    from callscope.voice.transcribe import merge_turns, split_where_the_other_side_spoke

    def turn(speaker, words, digits=()):
        return Turn(speaker=speaker, start=words[0][0], end=words[-1][1], text="".join(w[2] for w in words).strip(),
                    words=words, digit_words=list(digits))  # fmt: skip

    agent = [turn("agent", [(0.0, 0.4, " May"), (0.4, 0.8, " I"), (0.8, 1.2, " have"), (1.2, 1.6, " it?"),
                            (3.6, 4.0, " Thank"), (4.0, 4.4, " you."), (4.9, 5.2, " Done.")],
                  digits=[(0.0, 1.6, "x"), (3.6, 4.4, "y")])]  # fmt: skip
    customer = [turn("customer", [(1.9, 2.4, " It's"), (2.4, 3.3, " 4539.")])]
    agent_cut, customer_same = split_where_the_other_side_spoke([agent, customer])
    assert [t.text for t in agent_cut] == ["May I have it?", "Thank you. Done."]  # 4.4 -> 4.9: nobody else spoke
    assert [(t.start, t.end) for t in agent_cut] == [(0.0, 1.6), (3.6, 5.2)]
    assert [t.digit_words for t in agent_cut] == [[(0.0, 1.6, "x")], [(3.6, 4.4, "y")]]
    assert customer_same == customer
    merged = [t.text for t in merge_turns([agent_cut, customer_same])]
    assert merged == ["May I have it?", "It's 4539.", "Thank you. Done."]
