"""SQLite state: images, tags, containers, networks, IP allocations, volumes, events,
the build cache. One file, WAL, one writer process (the daemon).

Rows hold the API-shaped JSON documents; a change that must survive a
crash is one transaction (``with db.tx():``).

Threads: the daemon's slow work (tar packing, layer registration, builds)
runs in worker threads, and that work reads and writes records too. So
each thread gets a connection of its own, and with it its own transaction
(a sqlite3 connection is one transaction at a time: shared, a worker's
``tx()`` would join the event loop's and be rolled back with it). WAL lets
readers run beside the writer; writers queue on ``BEGIN IMMEDIATE`` (busy
timeout), so keep write transactions short: no file work inside one.

The files hold every container's environment (secrets given with ``-e``):
the database, its -wal and -shm are 0600 (SQLite gives the -wal and -shm
the database's mode when it makes them).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading

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


# Records written by an older dockling, brought to today's shape at open (each
# statement changes nothing the second time).
MIGRATIONS = (
    # container records: the private fields start with "_" (containers/model.py)
    """UPDATE containers SET doc = json_remove(json_set(doc,
           '$._MountPoints', json(json_extract(doc, '$.MountPoints'))), '$.MountPoints')
       WHERE json_type(doc, '$.MountPoints') IS NOT NULL""",
    """UPDATE containers SET doc = json_remove(json_set(doc,
           '$._ManuallyStopped', json(CASE json_type(doc, '$.HasBeenManuallyStopped')
                                      WHEN 'true' THEN 'true' ELSE 'false' END)),
           '$.HasBeenManuallyStopped')
       WHERE json_type(doc, '$.HasBeenManuallyStopped') IS NOT NULL""",
)


class DB:
    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        conn = self.conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        with self.tx() as c:
            for sql in MIGRATIONS:
                c.execute(sql)
        private(path)

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (made on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # check_same_thread=False only so that close() can close them all
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            self._local.depth = 0
            with self._lock:
                self._conns.append(conn)
        return conn

    @contextlib.contextmanager
    def tx(self):
        """A transaction of this thread; nested calls join the outer one."""
        conn = self.conn
        local = self._local
        if local.depth:
            local.depth += 1
            try:
                yield conn
            finally:
                local.depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        local.depth = 1
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
        finally:
            local.depth = 0

    def query(self, sql: str, *args) -> list[sqlite3.Row]:
        return self.conn.execute(sql, args).fetchall()

    def one(self, sql: str, *args) -> sqlite3.Row | None:
        return self.conn.execute(sql, args).fetchone()

    def close(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()


def private(path: str) -> None:
    """The database, -wal and -shm: 0600 (an install made before this was 0644)."""
    for suffix in ("", "-wal", "-shm"):
        try:
            os.chmod(path + suffix, 0o600)
        except FileNotFoundError:
            pass
