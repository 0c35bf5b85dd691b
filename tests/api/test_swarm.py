"""api/swarm.py on a test daemon: a docker that is in no swarm, route by route
(moby daemon/cluster: errNoSwarm, errNoManager), versioned and not."""

from __future__ import annotations

import pytest

from dockling.api.swarm import NO_SWARM_MODE
from tests.engine.conftest import daemon  # noqa: F401 - the module's test daemon

# moby's words (daemon/cluster/errors.go, cluster.go errNoManager), not our constants
NO_SWARM = "This node is not part of a swarm"
NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm '
               'join" to connect this node to swarm and try again.')

# (method, path, body): every route moby's swarm router has
MANAGER_ONLY = [
    ("GET", "/swarm", None), ("GET", "/swarm/unlockkey", None),
    ("POST", "/swarm/update?version=1", {}), ("POST", "/swarm/unlock", {"UnlockKey": "k"}),
    ("GET", "/services", None), ("GET", "/services/web", None),
    ("POST", "/services/create", {"Name": "web"}), ("POST", "/services/web/update?version=1", {}),
    ("DELETE", "/services/web", None), ("GET", "/services/web/logs?stdout=1", None),
    ("GET", "/nodes", None), ("GET", "/nodes/n1", None), ("DELETE", "/nodes/n1", None),
    ("POST", "/nodes/n1/update?version=1", {}),
    ("GET", "/tasks", None), ("GET", "/tasks/t1", None), ("GET", "/tasks/t1/logs?stderr=1", None),
    ("GET", "/secrets", None), ("GET", "/secrets/s1", None), ("POST", "/secrets/create", {}),
    ("POST", "/secrets/s1/update?version=1", {}), ("DELETE", "/secrets/s1", None),
    ("GET", "/configs", None), ("GET", "/configs/c1", None), ("POST", "/configs/create", {}),
    ("POST", "/configs/c1/update?version=1", {}), ("DELETE", "/configs/c1", None),
]


@pytest.mark.parametrize("prefix", ["", "/v1.41", "/v1.47"])
def test_leave_is_docker_not_in_a_swarm(daemon, prefix):  # noqa: F811
    # docker-py's network tests call this before and after each test and ignore it
    status, _, body = daemon.api("POST", f"{prefix}/swarm/leave?force=true")
    assert (status, body) == (503, {"message": NO_SWARM})


@pytest.mark.parametrize("prefix", ["", "/v1.47"])
def test_manager_routes_say_not_a_manager(daemon, prefix):  # noqa: F811
    for method, path, body in MANAGER_ONLY:
        status, _, answer = daemon.api(method, prefix + path, body)
        assert (status, answer) == (503, {"message": NOT_MANAGER}), (method, path)


def test_init_and_join_do_not_pretend(daemon):  # noqa: F811
    for path in ("/swarm/init", "/v1.47/swarm/join"):
        status, _, body = daemon.api("POST", path, {"ListenAddr": "0.0.0.0:2377"})
        assert (status, body) == (503, {"message": NO_SWARM_MODE}), path
    status, _, body = daemon.api("GET", "/info")
    assert status == 200 and body["Swarm"]["LocalNodeState"] == "inactive"


def test_request_checks_come_first(daemon):  # noqa: F811
    # moby's router rejects a bad request before it asks the cluster: 400, not 503
    status, _, body = daemon.api("POST", "/swarm/update", {})
    assert status == 400 and body["message"] == (
        "invalid swarm version '': strconv.ParseUint: parsing \"\": invalid syntax")
    status, _, body = daemon.api("GET", "/services/web/logs")
    assert (status, body) == (400, {"message": "must specify at least one of 'stdout' or "
                                               "'stderr'"})
    status, _, _ = daemon.api("GET", "/nodes?filters=notjson")
    assert status == 400
    status, _, _ = daemon.api("POST", "/swarm/init", b"{not json",
                              {"Content-Type": "application/json"})
    assert status == 400


def test_info_swarm_is_never_null(daemon):  # noqa: F811
    # compose 1.29 reads info["Swarm"]["LocalNodeState"]; moby cluster.Info with no node
    _, _, info = daemon.api("GET", "/v1.41/info")
    assert info["Swarm"] == {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                             "ControlAvailable": False, "Error": "", "RemoteManagers": None}
