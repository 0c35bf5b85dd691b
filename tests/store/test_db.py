"""store/db.py: each thread its own connection and its own transaction."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from dockling.store.db import DB


def _db(tmp_path) -> DB:
    db = DB(str(tmp_path / "dockling.db"))
    with db.tx() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (v TEXT)")
    return db


def test_a_worker_thread_transaction_is_its_own(tmp_path):
    """A worker's transaction neither joins nor is undone by the loop thread's."""
    db = _db(tmp_path)
    inside = threading.Event()
    worker_done = threading.Event()
    errors: list[BaseException] = []

    def worker() -> None:
        inside.wait(5)
        try:
            with db.tx() as conn:
                conn.execute("INSERT INTO t VALUES ('worker')")
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)
        worker_done.set()

    t = threading.Thread(target=worker)
    t.start()
    with pytest.raises(RuntimeError), db.tx() as conn:
        conn.execute("INSERT INTO t VALUES ('main')")
        inside.set()
        # the worker waits for our write lock (busy timeout), it does not join us
        worker_done.wait(0.5)
        raise RuntimeError("roll back")
    t.join(10)
    assert not errors
    assert [r["v"] for r in db.query("SELECT v FROM t")] == ["worker"]
    db.close()


def test_nested_transactions_per_thread(tmp_path):
    db = _db(tmp_path)

    def work(tag: str) -> None:
        for i in range(50):
            with db.tx() as conn:
                with db.tx() as inner:
                    inner.execute("INSERT INTO t VALUES (?)", (f"{tag}{i}",))
                conn.execute("INSERT INTO t VALUES (?)", (f"{tag}{i}b",))

    threads = [threading.Thread(target=work, args=(k,)) for k in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert db.one("SELECT count(*) AS n FROM t")["n"] == 400
    db.close()


def test_database_files_are_private(tmp_path):
    """The records hold every container's environment (-e secrets): 0600."""
    path = str(tmp_path / "dockling.db")
    old = os.umask(0o022)
    try:
        with open(path, "wb"):
            pass
        os.chmod(path, 0o644)  # an install made before the fix
        db = DB(path)
        with db.tx() as conn:
            conn.execute("CREATE TABLE t (v TEXT)")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                assert stat.S_IMODE(os.stat(path + suffix).st_mode) == 0o600, suffix
        db.close()
    finally:
        os.umask(old)
