"""The vendored training data (data/) is what its README says: byte-identical files with their licences."""

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


def test_every_vendored_file_matches_its_checksum() -> None:
    lines = (DATA / "SHA256SUMS").read_text().splitlines()
    listed = {}
    for line in lines:
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    needed = {"banking77/train.csv", "banking77/LICENSE", "clinc150/data_full_train_val.json", "clinc150/LICENSE"}
    assert needed <= set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, name


def test_only_train_and_validation_splits_are_vendored() -> None:
    assert not list(DATA.rglob("test*")), "evaluation splits stay out of the repository"
    clinc = json.loads((DATA / "clinc150" / "data_full_train_val.json").read_text())
    assert set(clinc) == {"train", "val", "oos_train", "oos_val"}
    header = (DATA / "banking77" / "train.csv").read_text().splitlines()[0]
    assert header == "text,category"
