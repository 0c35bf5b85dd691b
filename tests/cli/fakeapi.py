"""A canned Engine API on a unix socket: answers GET paths from a dict, so the docker CLI
and dockling's CLI can be run over the same documents (golden tests need no daemon)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socketserver
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler

API_VERSION = "1.47"


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True


def resolve(doc, now: int | None = None):
    """Fixture placeholders: "@now-7200" is the Unix time two hours before `now` (the
    fixture's recording time; the tests run the CLI with its clock set back to it)."""
    if now is None:
        now = int(time.time())
    if isinstance(doc, str):
        m = re.fullmatch(r"@now([+-]\d+)?", doc)
        if m:
            return now + int(m.group(1) or 0)
        return doc
    if isinstance(doc, list):
        return [resolve(x, now) for x in doc]
    if isinstance(doc, dict):
        return {k: resolve(v, now) for k, v in doc.items()}
    return doc


class FakeAPI:
    """routes: path (no /vX.Y prefix, with the query string if it matters) -> JSON
    document, or (status, document), or a str sent as it is (a stream of JSON lines)."""

    def __init__(self, routes: dict, now: int | None = None) -> None:
        self.routes = {k: v if isinstance(v, str) else resolve(v, now)
                       for k, v in routes.items()}
        self.requests: list[str] = []
        self.dir = tempfile.mkdtemp(prefix="fakeapi-")
        self.sock = os.path.join(self.dir, "api.sock")
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _answer(self, head: bool) -> None:
                path = re.sub(r"^/v\d+\.\d+", "", self.path)
                api.requests.append(path)
                if path.startswith("/_ping"):
                    body = b"OK"
                    status, ctype = 200, "text/plain; charset=utf-8"
                else:
                    doc = api.routes.get(path)
                    if doc is None:
                        doc = api.routes.get(path.split("?", 1)[0])
                    if doc is None:
                        status, doc = 404, {"message": f"no such object: {path}"}
                    elif isinstance(doc, tuple):
                        status, doc = doc
                    else:
                        status = 200
                    # a str is sent as it is: a stream of JSON lines (events)
                    body = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
                    ctype = "application/json"
                self.send_response(status)
                self.send_header("Api-Version", API_VERSION)
                self.send_header("Ostype", "linux")
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(False)

            def do_HEAD(self) -> None:
                self._answer(True)

            def do_POST(self) -> None:
                self._answer(False)

        self.server = _Server(self.sock, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAPI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)
