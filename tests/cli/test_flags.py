"""The CLI's own parsers of run/create flags (root-free)."""

from __future__ import annotations

import pytest

from dockling.cli.containers import parse_device


@pytest.mark.parametrize("spec, want", [
    ("/dev/fuse", ("/dev/fuse", "/dev/fuse", "rwm")),
    ("/dev/fuse:/dev/f", ("/dev/fuse", "/dev/f", "rwm")),
    ("/dev/fuse:r", ("/dev/fuse", "/dev/fuse", "r")),
    ("/dev/fuse:/dev/f:rw", ("/dev/fuse", "/dev/f", "rw")),
])
def test_parse_device(spec, want):
    d = parse_device(spec)
    assert (d["PathOnHost"], d["PathInContainer"], d["CgroupPermissions"]) == want
