"""SQLite state: images, tags, containers, networks, IP allocations, volumes, events,
the build cache. One file, WAL, one writer (the daemon).

Rows hold the API-shaped JSON documents; a change that must survive a
crash is one transaction (``with db.tx():``).
"""

from __future__ import annotations

import contextlib
import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,          -- sha256:<config digest>
    created TEXT NOT NULL,
    size INTEGER NOT NULL,
    parent TEXT NOT NULL DEFAULT '',
    repo_digests TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS tags (
    ref TEXT PRIMARY KEY,         -- docker.io/library/busybox:latest
    image_id TEXT NOT NULL REFERENCES images(id)
);
CREATE INDEX IF NOT EXISTS tags_image ON tags(image_id);
CREATE TABLE IF NOT EXISTS layer_blobs (
    digest TEXT NOT NULL,         -- the blob as a registry holds it (compressed)
    diff_id TEXT NOT NULL,        -- the layer it unpacks to
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    repo TEXT NOT NULL DEFAULT '',  -- a repository known to have it (cross-repo mount)
    PRIMARY KEY (digest, repo)
);
CREATE INDEX IF NOT EXISTS layer_blobs_diff ON layer_blobs(diff_id);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,    -- without the leading /
    image_id TEXT NOT NULL,
    doc BLOB NOT NULL             -- the container record (JSON)
);
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    doc BLOB NOT NULL             -- the Network JSON of the API (without Containers)
);
CREATE TABLE IF NOT EXISTS ip_allocations (
    network_id TEXT NOT NULL,
    address TEXT NOT NULL,
    owner TEXT NOT NULL,          -- endpoint: container id
    PRIMARY KEY (network_id, address)
);
CREATE TABLE IF NOT EXISTS ipam_cursor (
    network_id TEXT PRIMARY KEY,
    last TEXT NOT NULL            -- the address handed out last (allocation goes on after it)
);
CREATE TABLE IF NOT EXISTS events (
    time_nano INTEGER NOT NULL,
    doc BLOB NOT NULL             -- the event as the API sends it
);
CREATE INDEX IF NOT EXISTS events_time ON events(time_nano);
CREATE TABLE IF NOT EXISTS build_cache (
    key TEXT PRIMARY KEY,         -- sha256 of (parent image, step, its inputs): builder/cache.py
    image_id TEXT NOT NULL,       -- the image the step made
    parent TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL,    -- the step, as history's created_by
    size INTEGER NOT NULL DEFAULT 0,  -- bytes of the layer the step added
    created TEXT NOT NULL,
    last_used TEXT NOT NULL,
    usage_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS build_cache_image ON build_cache(image_id);
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,
    doc BLOB NOT NULL             -- the Volume JSON of the API
);
"""


class DB:
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(SCHEMA)
        self._depth = 0

    @contextlib.contextmanager
    def tx(self):
        """A transaction; nested calls join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._depth = 0

    def query(self, sql: str, *args) -> list[sqlite3.Row]:
        return self.conn.execute(sql, args).fetchall()

    def one(self, sql: str, *args) -> sqlite3.Row | None:
        return self.conn.execute(sql, args).fetchone()

    def close(self) -> None:
        self.conn.close()
