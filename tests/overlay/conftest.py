"""Three dockling hosts (network namespaces on an underlay bridge, a daemon each)
and a three-member etcd cluster, for the module; removed even when a test fails.
Skipped where etcd is not installed (install.sh installs etcd-server)."""

from __future__ import annotations

import time
import uuid

import pytest

from dockling.testing.overlay import cluster, etcd_installed
from tests.conftest import ROOT
from tests.engine.conftest import daemon  # noqa: F401 - a daemon without cluster-store

TTL = 3  # the hosts' lease (discovery.ttl): short, so a death shows soon

pytestmark = pytest.mark.skipif(not (ROOT and etcd_installed()),
                                reason="needs root and etcd (apt-get install etcd-server)")


@pytest.fixture(scope="module")
def hosts(busybox_tar):
    if not ROOT or not etcd_installed():
        pytest.skip("needs root and etcd (apt-get install etcd-server)")
    with cluster(busybox_tar, hosts=3, members=3, ttl=TTL) as c:
        yield c


def name(prefix: str = "o") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(fn, timeout: float = 20, what: str = "condition"):
    """fn() until it returns something true (its value); AssertionError at the end."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
