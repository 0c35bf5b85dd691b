"""What a route handler sees of the Engine API: ``Request``, ``Response``, the
``Router`` and the API's version rules.

Routes are registered once and matched with and without the ``/v1.NN``
prefix; ``{name}`` is one path segment, ``{name*}`` may hold slashes (moby's
``{name:.*}``). A handler gets a ``Request`` and returns a ``Response``.
"""

from __future__ import annotations

import json
import re
import urllib.parse

from dockling.errors import InvalidArgument

API_VERSION = "1.47"
MIN_API_VERSION = "1.24"
_VERSION_RE = re.compile(r"^/v(\d+\.\d+)(/.*)$")


class Request:
    def __init__(self, method: str, target: str, headers: dict[str, str], body_file,
                 params: dict[str, str]) -> None:
        self.method = method
        # Bodies spool to disk past 1 MiB: an image import or load can be GBs.
        self.body_file = body_file
        self._body: bytes | None = None
        parsed = urllib.parse.urlsplit(target)
        self.path = parsed.path
        self.query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        self.headers = headers
        self.params = params
        self.version: str | None = None  # the /v1.xx/ of the path, if any

    @property
    def body(self) -> bytes:
        if self._body is None:
            self.body_file.seek(0)
            self._body = self.body_file.read()
        return self._body

    def q(self, name: str, default: str | None = None) -> str | None:
        v = self.query.get(name)
        return v[0] if v else default  # Go's FormValue: the first of repeated values

    def qbool(self, name: str, default: bool = False) -> bool:
        v = self.q(name)
        if v is None:
            return default
        return v.lower() not in ("0", "false", "")

    def qint(self, name: str, default: int | None = None) -> int | None:
        v = self.q(name)
        if v in (None, ""):
            return default
        try:
            return int(v)
        except ValueError as err:
            raise InvalidArgument(f"invalid value for {name}: {v!r}") from err

    def qjson(self, name: str, default=None):
        v = self.q(name)
        if not v:
            return default
        try:
            return json.loads(v)
        except ValueError as err:
            raise InvalidArgument(f"invalid {name} JSON: {err}") from err

    def filters(self) -> dict[str, list[str]]:
        """The filters query: {"k": ["v"]} or the old {"k": {"v": true}} form."""
        raw = self.qjson("filters", {}) or {}
        if not isinstance(raw, dict):
            raise InvalidArgument("invalid filter: expected a JSON object")
        out = {}
        for k, v in raw.items():
            if isinstance(v, list) and all(isinstance(x, str) for x in v):
                out[k] = list(v)
            elif isinstance(v, dict):
                out[k] = [k2 for k2, on in v.items() if on]
            else:
                raise InvalidArgument(f"invalid filter '{k}': expected a list of strings")
        return out

    def json(self) -> dict:
        if not self.body:
            return {}
        try:
            doc = json.loads(self.body)
        except ValueError as err:
            raise InvalidArgument(f"invalid JSON: {err}") from err
        if not isinstance(doc, dict):
            raise InvalidArgument("invalid JSON: expected an object")
        return doc

    @property
    def upgrade(self) -> bool:
        return "upgrade" in self.headers.get("connection", "").lower()


class Response:
    def __init__(self, status: int = 200, body: bytes = b"", content_type: str = "",
                 stream=None, hijack=None, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.stream = stream
        self.hijack = hijack
        self.headers = headers or {}


def json_response(doc, status: int = 200) -> Response:
    return Response(status, json.dumps(doc).encode() + b"\n", "application/json")


def empty(status: int = 204) -> Response:
    return Response(status)


def error_response(status: int, message: str) -> Response:
    return json_response({"message": message}, status)


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern, object]] = []

    def add(self, method: str, pattern: str, handler) -> None:
        # {name} is one path segment; {name*} may hold slashes (image names).
        pat = re.sub(r"\{(\w+)\*\}", r"(?P<\1>.+)", pattern)
        rx = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pat) + "$")
        self.routes.append((method, rx, handler))

    def match(self, method: str, path: str):
        allowed = False
        for m, rx, handler in self.routes:
            mt = rx.match(path)
            if mt:
                if m == method or (method == "HEAD" and m == "GET"):
                    return handler, {k: urllib.parse.unquote(v) for k, v in
                                     mt.groupdict().items()}
                allowed = True
        return None, allowed


def strip_version(path: str) -> tuple[str, str | None]:
    m = _VERSION_RE.match(path)
    if not m:
        return path, None
    return m.group(2), m.group(1)


def version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


__all__ = ["API_VERSION", "MIN_API_VERSION", "Request", "Response", "Router", "empty",
           "error_response", "json_response", "strip_version", "version_key"]
