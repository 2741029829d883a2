"""Where recordings live: an S3-compatible object store in production, a folder on the embedded default.

Recordings are the largest thing Callscope keeps and are read rarely (a worker once, a supervisor now and then), so
they stay out of the database: the `audio_blobs` row holds the object's key and size. Reads are streamed in chunks
and honour byte ranges, so a player can seek through an hour-long call without the file ever being in memory.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Protocol

from callscope.errors import CallscopeError, StoreUnavailable
from callscope.settings import Settings, get_settings

CHUNK = 256 * 1024


class RecordingStoreError(StoreUnavailable):
    """The object store did not answer or refused: the caller answers 503 and tries again later."""


class RecordingStore(Protocol):
    def put(self, key: str, data: BinaryIO) -> int: ...
    def read(self, key: str) -> bytes: ...
    def stream(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...
    def delete(self, key: str) -> None: ...


def new_key(tenant: str, interaction_id: str, name: str = "original.audio") -> str:
    """Keys group a tenant's objects (a bucket policy or a lifecycle rule can work per tenant)."""
    return f"{tenant}/{interaction_id}/{uuid.uuid4().hex[:8]}-{name}"


class _Reads:
    def stream(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        raise NotImplementedError

    def read(self, key: str) -> bytes:
        """A whole (small) object: tests and sealed-key checks; recordings are streamed."""
        return b"".join(self.stream(key))


class FolderStore(_Reads):
    """Objects as files under a folder: the default where no object store runs."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise CallscopeError(f"bad recording key {key!r}")
        return path

    def put(self, key: str, data: BinaryIO) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        staging = path.with_name(path.name + f".tmp-{os.getpid()}")
        with os.fdopen(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:  # owner only
            shutil.copyfileobj(data, out, CHUNK)
        staging.replace(path)  # a reader sees the whole file or none
        return path.stat().st_size

    def stream(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes `start`..`end` (inclusive, as in HTTP ranges) in chunks."""
        try:
            f = self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise RecordingStoreError(f"recording {key} is missing from the store") from exc
        with f:
            f.seek(start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                chunk = f.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    break
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Store(_Reads):
    """Any S3-compatible object store (SeaweedFS in compose.yaml, MinIO, AWS S3) through boto3."""

    def __init__(self, *, endpoint_url: str, bucket: str, access_key: str, secret_key: str, region: str) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url or None, aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None, region_name=region,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60,
                          s3={"addressing_style": "path"}),
        )  # fmt: skip

    def _call(self, what: str, fn, /, **kwargs):  # type: ignore[no-untyped-def]
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.bucket, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise RecordingStoreError(f"object store: {what} failed ({exc.__class__.__name__})") from exc

    def put(self, key: str, data: BinaryIO) -> int:
        from boto3.s3.transfer import TransferConfig

        # multipart in 8 MiB parts, two in flight and two read ahead (s3transfer's default reads ten ahead: 80 MiB),
        # so memory stays near 32 MiB however long the call
        transfer = TransferConfig(multipart_chunksize=8 << 20, max_concurrency=2)
        transfer.max_in_memory_upload_chunks = 2
        self._call("upload", self.client.upload_fileobj, Fileobj=data, Key=key, Config=transfer)
        return int(self._call("head", self.client.head_object, Key=key)["ContentLength"])

    def stream(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        wanted = f"bytes={start}-{'' if end is None else end}"
        body = self._call("download", self.client.get_object, Key=key, Range=wanted)["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def delete(self, key: str) -> None:
        self._call("delete", self.client.delete_object, Key=key)


SEALED_V1 = b"CSR1"  # one AES-GCM message: written by 0.6, still opened
SEALED_MAGIC = b"CSR2"  # AES-GCM in 1 MiB records, so an hour-long call is sealed and opened in flat memory
SEAL_CHUNK = 1 << 20


def _tenant_key(tenant: str, secret: str) -> bytes:
    """Each tenant's own AES-256 key, derived from the service's secret (HKDF-SHA256): one tenant's key opens
    nothing of another's, and no key is stored."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    if not secret:
        raise CallscopeError("keeping original recordings needs CALLSCOPE_RECORDINGS_KEY (a long random secret)")
    return HKDF(hashes.SHA256(), 32, salt=b"callscope-recordings", info=f"tenant:{tenant}".encode()).derive(
        secret.encode()
    )


def _record_aad(tenant: str, last: bool) -> bytes:
    """Each record is bound to the tenant and marked last or not: records cannot be moved, dropped or cut off."""
    return tenant.encode() + (b"\x00\x01" if last else b"\x00\x00")


def seal(tenant: str, source: BinaryIO, target: BinaryIO, secret: str) -> None:
    """`source` encrypted and authenticated (AES-GCM, a record per MiB) with the tenant's key, written to `target`."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead, prefix = AESGCM(_tenant_key(tenant, secret)), os.urandom(8)
    target.write(SEALED_MAGIC + prefix)
    chunk, counter = source.read(SEAL_CHUNK), 0
    while True:
        following = source.read(SEAL_CHUNK) if len(chunk) == SEAL_CHUNK else b""
        last = not following
        target.write(aead.encrypt(prefix + counter.to_bytes(4, "big"), chunk, _record_aad(tenant, last)))
        if last:
            return
        chunk, counter = following, counter + 1


def unseal(tenant: str, sealed: Iterator[bytes], secret: str) -> Iterator[bytes]:
    """The original bytes of a sealed recording, record by record, from its chunks as the store streams them."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead, buffer, sealed = AESGCM(_tenant_key(tenant, secret)), b"", iter(sealed)
    for piece in sealed:
        buffer += piece
        if len(buffer) >= 12:
            break
    magic = buffer[:4]
    if magic == SEALED_V1:
        whole = buffer + b"".join(sealed)
        yield aead.decrypt(whole[4:16], whole[16:], tenant.encode())
        return
    if magic != SEALED_MAGIC or len(buffer) < 12:
        raise CallscopeError("not a sealed recording")
    prefix, buffer, counter, record = buffer[4:12], buffer[12:], 0, SEAL_CHUNK + 16
    ended = False
    while not ended:
        while len(buffer) <= record and not ended:  # one byte past a full record tells it is not the last
            piece = next(sealed, None)
            ended = piece is None
            buffer += piece or b""
        body, buffer = buffer[:record], buffer[record:]
        ended = ended and not buffer
        try:
            yield aead.decrypt(prefix + counter.to_bytes(4, "big"), body, _record_aad(tenant, ended))
        except InvalidTag as exc:
            raise CallscopeError("the sealed recording is damaged or not this tenant's") from exc
        counter += 1


def download(store: RecordingStore, key: str, target: BinaryIO) -> None:
    """The object's bytes written to `target` chunk by chunk (a worker's temporary file)."""
    for chunk in store.stream(key):
        target.write(chunk)


def store_for(settings: Settings) -> RecordingStore:
    if settings.recordings_store == "s3":
        return S3Store(endpoint_url=settings.s3_endpoint_url, bucket=settings.s3_bucket,
                       access_key=settings.s3_access_key_id, secret_key=settings.s3_secret_access_key,
                       region=settings.s3_region)  # fmt: skip
    return FolderStore(settings.data_dir / "recordings")


@lru_cache(maxsize=1)
def recordings() -> RecordingStore:
    """The process's recording store, from the settings."""
    return store_for(get_settings())
