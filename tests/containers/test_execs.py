"""Exec instances: the container's process that each exec starts from."""

from __future__ import annotations

import json

from dockling.containers.execs import Execs


def test_the_process_follows_a_rewritten_config(tmp_path):
    """Cached per container (an exec need not parse the whole spec), yet a start that
    rewrites config.json is seen by the next exec."""
    execs = Execs(m=None)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"process": {"args": ["sleep", "1"], "env": ["A=1"]},
                               "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO"}}}))
    first = json.loads(execs._base_process(str(cfg), "c1"))
    assert first == {"args": ["sleep", "1"], "env": ["A=1"]}
    first["env"].append("B=2")  # an exec's overrides: never seen by the next one
    assert json.loads(execs._base_process(str(cfg), "c1"))["env"] == ["A=1"]
    cfg.write_text(json.dumps({"process": {"args": ["top"], "env": ["A=2", "C=3"]}}))
    assert json.loads(execs._base_process(str(cfg), "c1")) == {"args": ["top"],
                                                                "env": ["A=2", "C=3"]}
