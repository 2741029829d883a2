"""The low end of a humming line taken out before Whisper hears it: mains hum and rumble, not speech.

Under the telephone band (300 Hz, ITU-T G.712) a call carries little a recognizer needs and much it does not: mains
hum at 50/60 Hz and its harmonics, rumble. On the phone-line bench (real speech) lines with hum were heard better
with a 300 Hz cut (tiny.en "close" for "clubs" became "clubs"); on lines without hum a cut only moved words both
ways, and on the suite's synthetic voices it cost words (a live account number no longer heard as digits). So the
cut is applied to a line whose pauses hum, and only to it (bench/RESULTS.md, issue 30).
"""

from __future__ import annotations

import numpy as np

from callscope.voice.audio_windows import SAMPLE_RATE

TELEPHONE_CUT_HZ = 300.0  # the telephone band's lower edge: 50 Hz hum loses 60 dB
ORDER = 4  # 24 dB per octave
HUM_BAND_HZ = (40.0, 160.0)  # 50/60 Hz hum with its second harmonic, and rumble
HUM_SHARE = 0.5  # of the pauses' power in HUM_BAND_HZ: the line hums ...
HUM_FLOOR_DB = -75.0  # ... loud enough to be heard (a telephone band's leftover of hum is far under it)
FRAME = 800  # 50 ms: long enough to resolve 50 Hz from 60 Hz hum
QUIET_SHARE = 0.2  # the quietest fifth of the frames: pauses, between the words
LISTEN_S = 10.0  # the decision is taken on the first seconds of a line and kept: a live call's line does not change


def hums(samples: np.ndarray) -> bool:
    """Whether the quietest frames of a 16 kHz line (its pauses) have most of their power in the hum band: what is
    under the speech there is hum or rumble, not hiss, comfort noise, silence or a telephone-band line."""
    frames = samples[: samples.size // FRAME * FRAME].reshape(-1, FRAME).astype(np.float64)
    if len(frames) < 5:
        return False
    energy = (frames**2).mean(axis=1)
    quiet = frames[energy <= np.quantile(energy, QUIET_SHARE)]
    window = np.hanning(FRAME)
    power = (np.abs(np.fft.rfft(quiet * window, axis=1)) ** 2).sum(axis=0)
    hz = np.fft.rfftfreq(FRAME, 1 / SAMPLE_RATE)
    hum = power[(hz >= HUM_BAND_HZ[0]) & (hz <= HUM_BAND_HZ[1])].sum()
    hum_db = 10 * np.log10(2 * hum / (len(quiet) * FRAME * (window**2).sum()) + 1e-20)  # its mean square (Parseval)
    return bool(hum > HUM_SHARE * power.sum() and hum_db > HUM_FLOOR_DB)


class LowCut:
    """A high-pass filter over a stream of 16 kHz float32 pieces, its state carried from piece to piece (a channel
    filtered a window or a live chunk at a time equals the channel filtered whole). Gated, it hands the line on as
    it is unless the line hums, judged over the first LISTEN_S seconds: anew with each second heard until then (a
    live call's 20 ms frames are not each judged), then kept."""

    def __init__(self, cutoff_hz: float, *, gated: bool = True) -> None:
        from scipy.signal import butter  # scipy loads with the first call, not with every import of the voice code

        self.sos = butter(ORDER, cutoff_hz, btype="highpass", fs=SAMPLE_RATE, output="sos") if cutoff_hz else None
        self.state = np.zeros((ORDER // 2, 2)) if cutoff_hz else None
        self.cutting = not gated
        self.heard: list[np.ndarray] | None = [] if gated else None  # None: judged for good
        self.judged_at = 0  # samples heard at the last judgement

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        samples = samples.astype(np.float32, copy=False)
        if self.sos is None or not samples.size:
            return samples
        from scipy.signal import sosfilt

        out, self.state = sosfilt(self.sos, samples, zi=self.state)  # always run: no seam when the cut comes in
        if self.heard is not None:
            self.heard.append(samples)
            size = sum(piece.size for piece in self.heard)
            if size >= self.judged_at + SAMPLE_RATE or size >= LISTEN_S * SAMPLE_RATE:
                heard = np.concatenate(self.heard)
                self.cutting, self.judged_at = hums(heard), size
                self.heard = None if size >= LISTEN_S * SAMPLE_RATE else [heard]
        return out.astype(np.float32) if self.cutting else samples
