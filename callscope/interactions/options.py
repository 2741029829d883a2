"""The decoding options the settings give: the voice domain takes them as arguments and never reads settings."""

from __future__ import annotations

import os
from pathlib import Path

from callscope.settings import Settings
from callscope.voice.transcribe import Progress, Transcript, WhisperOptions, transcribe


def whisper_options(settings: Settings) -> WhisperOptions:
    """The configured model and decoding; threads as set, else the CPUs shared out among the worker's processes
    (all of them for a lone command)."""
    threads = settings.whisper_cpu_threads or max(1, (os.cpu_count() or 1) // max(1, settings.worker_processes))
    return WhisperOptions(
        model=settings.whisper_model,
        device=settings.whisper_device,
        compute_type=settings.whisper_compute_type,
        cpu_threads=threads,
        beam_size=settings.whisper_beam_size,
        hotwords=settings.whisper_hotwords,
        batch_size=settings.whisper_batch_size,
        vad_threshold=settings.whisper_vad_threshold,
        channel_vad_threshold=settings.whisper_channel_vad_threshold,
        low_cut_hz=settings.whisper_low_cut_hz,
        number_pass=settings.whisper_number_pass,
        diarize_mono=settings.diarize_mono,
        models_dir=str(settings.data_dir.resolve() / "whisper"),
    )


def transcribe_file(
    source: Path | bytes, *, settings: Settings, agent_channel: str | None = None, on_progress: Progress | None = None
) -> Transcript:
    """A local recording transcribed as a worker would (`callscope transcribe`, `callscope analyze`); this module
    imports no analysis stack, so the command starts fast."""
    return transcribe(
        source,
        options=whisper_options(settings),
        agent_channel=agent_channel or settings.agent_channel,  # type: ignore[arg-type]
        on_progress=on_progress,
    )
