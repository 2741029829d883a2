"""A setting: the low end of a channel taken out before Whisper hears it (mains hum and rumble, not speech).

Under the telephone band (300 Hz, ITU-T G.712) a call carries little a recognizer needs and much it does not: mains
hum at 50/60 Hz and its harmonics, rumble, handling noise. On the phone-line bench (real speech) both models heard
lines with hum better with a cut, `tiny.en` every condition with 300 Hz (0.80x plain), `base` with 120 Hz (0.95x);
but the same cuts changed words on the suite's synthetic voices (a live account number read out was no longer
heard as digits), so it is off unless a deployment sets it (bench/RESULTS.md, issue 30).
"""

from __future__ import annotations

import numpy as np

from callscope.voice.audio_windows import SAMPLE_RATE

HUM_CUT_HZ = 120.0  # under the speech (50/60 Hz hum loses 30/24 dB): what the bench measured best for base
TELEPHONE_CUT_HZ = 300.0  # the telephone band's lower edge (50 Hz hum loses 60 dB): best for tiny.en there
ORDER = 4  # 24 dB per octave


class LowCut:
    """A high-pass filter over a stream of 16 kHz float32 pieces, its state carried from piece to piece: a channel
    filtered a window or a live chunk at a time equals the channel filtered whole."""

    def __init__(self, cutoff_hz: float) -> None:
        from scipy.signal import butter  # scipy loads with the first call, not with every import of the voice code

        self.sos = butter(ORDER, cutoff_hz, btype="highpass", fs=SAMPLE_RATE, output="sos") if cutoff_hz else None
        self.state = np.zeros((ORDER // 2, 2)) if cutoff_hz else None

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        if self.sos is None or not samples.size:
            return samples.astype(np.float32, copy=False)
        from scipy.signal import sosfilt

        out, self.state = sosfilt(self.sos, samples, zi=self.state)
        return out.astype(np.float32)
