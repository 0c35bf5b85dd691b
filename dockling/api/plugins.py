"""Routes for managed plugins (/plugins): dockling has none and installs none.

It answers as a docker with no plugins installed: an empty list, moby's
``plugin "NAME" not found`` (404) for every name, and its filter checks; the
routes that would install or build one (pull, create, privileges) say that
this node cannot (503), never a 404 "page not found" that clients read as an
old daemon.
"""

from __future__ import annotations

import json

from dockling.api.routing import Request, Response, Router, json_response
from dockling.errors import InvalidArgument, NotFound, Unavailable

NO_PLUGINS = "dockling does not support managed plugins: this node cannot install one"
_FILTERS = ("capability", "enable")  # moby plugin/backend_linux.go acceptedPluginFilterTags


def not_found(name: str) -> NotFound:
    """moby daemon/pkg/plugin/errors.go errNotFound ("%q": Go's quoting)."""
    return NotFound(f"plugin {json.dumps(name)} not found")


def routes(r: Router) -> None:
    async def list_(req: Request) -> Response:
        for key in req.filters():
            if key not in _FILTERS:
                raise InvalidArgument(f"invalid filter '{key}'")
        return json_response([])

    async def by_name(req: Request) -> Response:
        raise not_found(req.params["name"])

    async def install(req: Request) -> Response:
        raise Unavailable(NO_PLUGINS)

    r.add("GET", "/plugins", list_)
    r.add("GET", "/plugins/privileges", install)
    r.add("POST", "/plugins/pull", install)
    r.add("POST", "/plugins/create", install)
    r.add("GET", "/plugins/{name*}/json", by_name)
    r.add("DELETE", "/plugins/{name*}", by_name)
    for action in ("enable", "disable", "push", "upgrade", "set"):
        r.add("POST", f"/plugins/{{name*}}/{action}", by_name)


__all__ = ["routes"]
