"""The low end of a channel is taken out before Whisper hears it: mains hum and rumble, not speech.

Under the telephone band (300 Hz, ITU-T G.712) a call carries little a recognizer needs and much it does not: mains
hum at 50/60 Hz and its harmonics, rumble, handling noise. Over hum both models misheard read speech ("old sposed"
for "ill disposed"); cutting the whole band under 300 Hz made the bundled `tiny.en` hear every condition of the
phone-line bench better, 8 kHz calls included, where `base` lost words at 8 kHz with it and is better served by a
cut under the speech (120 Hz: hum's fundamental, rumble). Measured in bench/RESULTS.md (issue 30).
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16_000
HUM_CUT_HZ = 120.0  # any model: under the speech (50/60 Hz hum loses 30/24 dB)
TELEPHONE_CUT_HZ = 300.0  # the telephone band's lower edge (50 Hz hum loses 60 dB, 200 Hz 14 dB)
CUT_HZ_BY_MODEL = {"tiny.en": TELEPHONE_CUT_HZ, "": TELEPHONE_CUT_HZ}  # "" is the bundled tiny.en too
ORDER = 4  # 24 dB per octave


def cut_hz_for(model: str) -> float:
    """The cut a model hears best with (bench/RESULTS.md); a model not measured gets the hum cut."""
    return CUT_HZ_BY_MODEL.get(model, HUM_CUT_HZ)


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
