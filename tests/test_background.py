"""dockling/background.py: fire-and-forget work is kept, logged, and trees go in a thread."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading

from dockling import background


def test_a_spawned_task_is_held_until_it_ends():
    async def main() -> bool:
        done = asyncio.Event()

        async def work() -> None:
            await asyncio.sleep(0.05)
            done.set()

        background.spawn(work(), "work")
        gc.collect()  # asyncio itself holds tasks only weakly
        await asyncio.wait_for(done.wait(), 2)
        return done.is_set()

    assert asyncio.run(main())


def test_a_spawned_task_failure_is_logged_with_its_name(caplog):
    async def main() -> None:
        async def boom() -> None:
            raise ValueError("bad thing")

        background.spawn(boom(), "dns for abc")
        await background.wait_all()
        await asyncio.sleep(0)

    with caplog.at_level(logging.ERROR, logger="dockling.background"):
        asyncio.run(main())
    assert any("dns for abc failed" in r.getMessage() and r.exc_info for r in caplog.records)


def test_remove_tree_frees_the_path_at_once_and_deletes_in_a_thread(tmp_path):
    tree = tmp_path / "c1"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f").write_bytes(b"x" * 100)
    seen: list[str] = []
    real = background._rmtree

    def spy(path: str) -> None:
        seen.append(threading.current_thread().name)
        real(path)

    async def main() -> None:
        background._rmtree = spy
        try:
            background.remove_tree(str(tree))
            assert not tree.exists()  # the name is free now
            await background.wait_all()
        finally:
            background._rmtree = real

    asyncio.run(main())
    assert seen and seen[0] != threading.main_thread().name
    assert os.listdir(tmp_path) == []


def test_clean_removing_deletes_what_a_crash_left(tmp_path):
    (tmp_path / ".c1.abcd.removing" / "x").mkdir(parents=True)
    (tmp_path / "c2").mkdir()
    background.clean_removing(str(tmp_path), str(tmp_path / "missing"))
    assert os.listdir(tmp_path) == ["c2"]
