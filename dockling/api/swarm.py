"""Routes for swarm mode (/swarm, /services, /nodes, /tasks, /secrets, /configs).

dockling runs no swarm: every route answers as a docker daemon that is in no
swarm does (moby daemon/cluster), so that clients that probe or clean up
swarm state (docker-py's ``leave_swarm(force=True)`` before its network tests,
``docker info``, ``docker service ls``) get docker's 503 and its words, never a 404.

Which error comes from where in moby:
- ``POST /swarm/leave``: ``errNoSwarm`` (cluster.Leave with no node runner);
- the manager-only actions (inspect, update, unlockkey, unlock, and every
  services/nodes/tasks/secrets/configs route): ``errNoManager`` for a node
  with no swarm node, the "Use docker swarm init" sentence;
- ``POST /swarm/init`` and ``/swarm/join`` would start a swarmkit node, which
  dockling cannot: a 503 as well (moby's category for every swarm-state error,
  ``notAvailableError``), saying why, never a fake success.

Request checks that moby's router makes before it asks the cluster (filters,
JSON bodies, versions, log streams) give their 400 first, as in docker.
"""

from __future__ import annotations

from dockling.api.routing import Request, Response, Router
from dockling.errors import InvalidArgument, Unavailable

# moby daemon/cluster/errors.go: errNoSwarm
NO_SWARM = "This node is not part of a swarm"
# moby daemon/cluster/cluster.go: errNoManager for a node with no swarm node
NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or '
               '"docker swarm join" to connect this node to swarm and try again.')
# dockling's own words (docker has no such state): why init/join cannot succeed
NO_SWARM_MODE = "dockling does not support swarm mode: this node cannot create or join a swarm"

# /info's Swarm for a node in no swarm (moby cluster.Info with no node runner); never
# null: compose 1.29 reads info["Swarm"]["LocalNodeState"]
INACTIVE = {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
            "ControlAvailable": False, "Error": "", "RemoteManagers": None}


def routes(r: Router) -> None:
    async def init_or_join(req: Request) -> Response:
        req.json()  # a malformed body is docker's 400 first
        raise Unavailable(NO_SWARM_MODE)

    async def leave(req: Request) -> Response:
        raise Unavailable(NO_SWARM)

    async def manager_only(req: Request) -> Response:
        raise Unavailable(NOT_MANAGER)

    async def listing(req: Request) -> Response:
        req.filters()  # moby parses the filters before it asks the cluster
        raise Unavailable(NOT_MANAGER)

    async def with_body(req: Request) -> Response:
        req.json()
        raise Unavailable(NOT_MANAGER)

    async def update_swarm(req: Request) -> Response:
        req.json()
        raw = req.q("version") or ""
        if not raw.isdigit():
            # moby's swarm router, word for word (Go's strconv.ParseUint error)
            raise InvalidArgument(f"invalid swarm version '{raw}': strconv.ParseUint: "
                                  f'parsing "{raw}": invalid syntax')
        raise Unavailable(NOT_MANAGER)

    async def logs(req: Request) -> Response:
        # moby's swarmLogs checks the streams before it looks the service up
        if not (req.qbool("stdout") or req.qbool("stderr")):
            raise InvalidArgument("must specify at least one of 'stdout' or 'stderr'")
        raise Unavailable(NOT_MANAGER)

    r.add("POST", "/swarm/init", init_or_join)
    r.add("POST", "/swarm/join", init_or_join)
    r.add("POST", "/swarm/leave", leave)
    r.add("GET", "/swarm", manager_only)
    r.add("GET", "/swarm/unlockkey", manager_only)
    r.add("POST", "/swarm/update", update_swarm)
    r.add("POST", "/swarm/unlock", with_body)
    for kind in ("services", "nodes", "tasks", "secrets", "configs"):
        r.add("GET", f"/{kind}", listing)
        r.add("GET", f"/{kind}/{{id}}", manager_only)
    for kind in ("services", "secrets", "configs"):
        r.add("POST", f"/{kind}/create", with_body)
    for kind in ("services", "nodes", "secrets", "configs"):
        r.add("POST", f"/{kind}/{{id}}/update", with_body)
        r.add("DELETE", f"/{kind}/{{id}}", manager_only)
    r.add("GET", "/services/{id}/logs", logs)
    r.add("GET", "/tasks/{id}/logs", logs)
