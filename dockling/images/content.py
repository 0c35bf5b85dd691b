"""The content store: blobs addressed by digest, containerd's vocabulary.

Lifecycle of a write:

    with store.writer(expected="sha256:...") as w:   # ingest into tmp/
        w.write(chunk) ...                           # hashed as it streams
        digest = w.commit()                          # verify, fsync, rename

A blob is visible under blobs/sha256/<hex> only after commit, and only if
its content hashes to its name: a killed writer leaves a tmp/ file that
``clean_tmp`` removes at daemon start, never a blob that reads as valid. A
digest mismatch raises InvalidArgument and keeps nothing.
"""

from __future__ import annotations

import hashlib
import os
from typing import Self

from dockling.errors import InvalidArgument, NotFound


def _split(digest: str) -> tuple[str, str]:
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise InvalidArgument(f"invalid digest {digest!r}: expected sha256:<64 hex>")
    return algo, hexpart


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Writer:
    def __init__(self, store: ContentStore, expected: str | None) -> None:
        self.store = store
        self.expected = expected
        self.hash = hashlib.sha256()
        self.size = 0
        os.makedirs(store.tmp, exist_ok=True)
        self.tmp = os.path.join(store.tmp, f"ingest-{os.getpid()}-{id(self):x}")
        self.f = open(self.tmp, "wb")  # noqa: SIM115 - closed by commit/abort
        self.done = False

    def write(self, data: bytes) -> None:
        self.hash.update(data)
        self.size += len(data)
        self.f.write(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()

    def commit(self) -> str:
        digest = self.digest
        if self.expected and digest != self.expected:
            self.abort()
            raise InvalidArgument(
                f"digest mismatch: expected {self.expected}, got {digest}"
            )
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        dest = self.store.path(digest)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.rename(self.tmp, dest)
        self.done = True
        return digest

    def abort(self) -> None:
        if not self.f.closed:
            self.f.close()
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass
        self.done = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        if not self.done:
            self.abort()


class ContentStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self.blobs = os.path.join(root, "blobs", "sha256")
        self.tmp = os.path.join(root, "tmp")

    def path(self, digest: str) -> str:
        _, hexpart = _split(digest)
        return os.path.join(self.blobs, hexpart)

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: str) -> int:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError as err:
            raise NotFound(f"content {digest}: not found") from err

    def read(self, digest: str) -> bytes:
        try:
            with open(self.path(digest), "rb") as f:
                return f.read()
        except FileNotFoundError as err:
            raise NotFound(f"content {digest}: not found") from err

    def open(self, digest: str):
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError as err:
            raise NotFound(f"content {digest}: not found") from err

    def writer(self, expected: str | None = None) -> Writer:
        if expected:
            _split(expected)
        return Writer(self, expected)

    def put(self, data: bytes, expected: str | None = None) -> str:
        digest = sha256(data)
        if self.exists(digest) and (expected is None or expected == digest):
            return digest
        with self.writer(expected) as w:
            w.write(data)
            return w.commit()

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def clean_tmp(self) -> None:
        """Drop half-written ingests (a killed daemon or pull)."""
        try:
            names = os.listdir(self.tmp)
        except FileNotFoundError:
            return
        for n in names:
            if n.startswith("ingest-"):
                try:
                    os.unlink(os.path.join(self.tmp, n))
                except FileNotFoundError:
                    pass
