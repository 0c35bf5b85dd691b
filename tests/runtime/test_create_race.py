"""Stage 1 sends the init's pid and the init says "ready" on the same socket: a stage 1
descheduled right after its fork must not leave a container recorded with pid 0
(start then fails: "cannot start a container that has stopped")."""

import time

from dockling.runtime import container, open_runtime
from tests.conftest import needs_root, new_id, reap


@needs_root
def test_ready_before_pid(bundle, tmp_path, monkeypatch):
    real = container.sync.send

    def late_pid(sock, type_, **fields):
        if type_ == "pid":  # in stage 1 (a fork of this process): after the init is ready
            time.sleep(1)
        real(sock, type_, **fields)

    monkeypatch.setattr(container.sync, "send", late_pid)
    bundle.args("sleep", "30")
    cid = new_id("race")
    rt = open_runtime("dockling", str(tmp_path / "state"))
    c = rt.create(cid, bundle.write(cid), stdio=(None, None, None))
    try:
        assert c.pid > 0
        rt.start(cid)
        assert rt.state(cid)["status"] == "running"
    finally:
        rt.delete(cid, force=True)
        if c.pid:
            reap(c.pid)
