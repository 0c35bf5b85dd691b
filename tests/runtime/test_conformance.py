"""Cases from opencontainers/runtime-tools' validation programs
(tools/runtime_tools.sh runs the programs themselves) where dockling-runc
differed from runc, under both runtimes."""

from __future__ import annotations

import os

from tests.conftest import new_id


def run(runtime, bundle, *argv, cid=None):
    bundle.args(*argv)
    cid = cid or new_id("oci")
    return runtime("run", "--bundle", bundle.write(cid), cid, check=False)


def test_fifo_device_is_created_and_left_out_of_the_device_cgroup(runtime, bundle):
    # runtime-tools' linux_devices: a "p" device is a node to make, not a
    # device cgroup rule (v1's devices.allow refuses "p 8:666 rwm").
    bundle.config["linux"]["devices"] = [
        {"type": "p", "path": "/dev/test3", "major": 8, "minor": 666, "fileMode": 0o660},
        {"type": "u", "path": "/dev/test4", "major": 1, "minor": 3, "fileMode": 0o666},
    ]
    res = run(runtime, bundle, "sh", "-c", "ls -l /dev/test3 /dev/test4; echo x > /dev/test4 && echo wrote")
    assert res.returncode == 0, res.stderr
    out = res.stdout.decode().splitlines()
    assert out[0].startswith("prw-rw----"), out
    assert out[1].startswith("crw-rw-rw-"), out
    assert out[2] == "wrote"
