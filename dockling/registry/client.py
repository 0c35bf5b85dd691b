"""The HTTP API of one repository on one registry (distribution spec).

Every request goes to the first endpoint that answers (a mirror, HTTPS, then
HTTP for an insecure registry), answers a 401 once with credentials or a
token, and retries transient failures (connection errors, 5xx, 429) with
back-off. Blob downloads resume with Range where the registry allows it.
"""

from __future__ import annotations

import asyncio
import logging
import os

import httpx

from dockling.errors import DocklingError, Forbidden, InternalError, NotFound
from dockling.registry.auth import Authenticator, Credentials, registry_errors
from dockling.registry.endpoints import Endpoint, RegistryConfig

log = logging.getLogger("dockling.registry")

MAX_MANIFEST = 4 * 1024 * 1024  # docker refuses larger manifests
RETRIES = 4
# a stalled transfer fails after this long without a byte (then it is retried)
TIMEOUT = httpx.Timeout(float(os.environ.get("DOCKLING_REGISTRY_TIMEOUT") or 30), connect=10.0)


class RegistryError(DocklingError):
    status = 500


class Unreachable(RegistryError):
    pass


def _error_text(resp: httpx.Response) -> str:
    """docker's form of a registry's errors: "manifest unknown: manifest unknown"."""
    return "; ".join(f"{e.get('code', '').lower().replace('_', ' ')}: {e.get('message', '')}"
                     for e in registry_errors(resp) or []) or resp.reason_phrase


class RepoClient:
    def __init__(self, config: RegistryConfig, domain: str, repo: str,
                 creds: Credentials | None = None) -> None:
        self.domain = domain
        self.repo = repo
        self.endpoints = config.endpoints(domain)
        self.creds = creds or Credentials()
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.auths: dict[str, Authenticator] = {}
        self.current: Endpoint | None = None

    async def close(self) -> None:
        for c in self.clients.values():
            await c.aclose()

    def _client(self, ep: Endpoint) -> httpx.AsyncClient:
        if ep.url not in self.clients:
            self.clients[ep.url] = httpx.AsyncClient(verify=ep.verify, timeout=TIMEOUT,
                                                     follow_redirects=True, trust_env=False)
            self.auths[ep.url] = Authenticator(self.clients[ep.url], self.creds)
        return self.clients[ep.url]

    def scope(self, actions: str) -> str:
        return f"repository:{self.repo}:{actions}"

    async def request(self, method: str, path: str, actions: str = "pull", *,
                      headers: dict | None = None, content=None, params: dict | None = None,
                      stream: bool = False, ok=(200,)) -> httpx.Response:
        """One API call; the response (open, if stream) whose status is in ``ok``."""
        errors = []
        endpoints = [self.current] if self.current else self.endpoints
        for ep in endpoints:
            http = self._client(ep)
            url = path if path.startswith("http") else ep.url + path
            for attempt in range(RETRIES):
                try:
                    resp = await self._send(http, ep, method, url, actions, headers, content,
                                            params, stream)
                except (httpx.ConnectError, httpx.ConnectTimeout) as err:
                    host = ep.url.split("://", 1)[1]
                    why = "connect: connection refused" if "refused" in str(err).lower() or \
                        "All connection attempts failed" in str(err) else str(err)
                    errors.append(f'Get "{ep.url}/v2/": dial tcp {host}: {why}')
                    break  # next endpoint (https -> http for an insecure registry)
                except (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError,
                        httpx.WriteError) as err:
                    errors.append(f"{method} \"{url}\": {err}")
                    await asyncio.sleep(0.2 * 2 ** attempt)
                    continue
                if resp.status_code in (429, 502, 503, 504) and attempt < RETRIES - 1:
                    await resp.aclose()
                    await asyncio.sleep(0.2 * 2 ** attempt)
                    continue
                if resp.status_code not in ok and ep.mirror and resp.status_code >= 400:
                    await resp.aclose()
                    break  # a mirror that fails: the registry itself
                self.current = ep
                return resp
        raise Unreachable(errors[-1] if errors else f"no endpoint for {self.domain}")

    async def _send(self, http, ep, method, url, actions, headers, content, params, stream):
        auth = self.auths[ep.url]
        scope = self.scope(actions) if actions else ""
        for _ in range(2):
            h = {**(headers or {}), **auth.header(scope)}
            req = http.build_request(method, url, headers=h, content=content, params=params)
            resp = await http.send(req, stream=stream)
            if resp.status_code != 401:
                return resp
            challenge = resp.headers.get("www-authenticate", "")
            await resp.aread()  # small, and read: callers may still look at the body
            if not challenge or not await auth.answer(challenge, scope):
                return resp
        return resp

    # -- manifests ------------------------------------------------------------------------
    async def get_manifest(self, ref: str, accept: list[str]) -> tuple[str, bytes, str]:
        """(media type, bytes, Docker-Content-Digest header) of a tag or digest."""
        resp = await self.request("GET", f"/v2/{self.repo}/manifests/{ref}",
                                  headers={"Accept": ", ".join(accept)}, stream=True,
                                  ok=(200,))
        try:
            if resp.status_code != 200:
                await resp.aread()
                raise self.error(resp, ref)
            size = int(resp.headers.get("content-length") or 0)
            if size > MAX_MANIFEST:
                raise InternalError(f"manifest too big: {size} bytes (the limit is 4 MiB)")
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > MAX_MANIFEST:
                    raise InternalError("manifest too big (the limit is 4 MiB)")
            ctype = resp.headers.get("content-type", "").split(";")[0].strip()
            return ctype, bytes(body), resp.headers.get("docker-content-digest", "")
        finally:
            await resp.aclose()

    async def put_manifest(self, ref: str, media_type: str, body: bytes) -> str:
        resp = await self.request("PUT", f"/v2/{self.repo}/manifests/{ref}", "pull,push",
                                  headers={"Content-Type": media_type}, content=body,
                                  ok=(201, 200))
        if resp.status_code not in (200, 201):
            raise self.error(resp, ref, push=True)
        return resp.headers.get("docker-content-digest", "")

    # -- blobs -------------------------------------------------------------------------------
    async def blob_exists(self, digest: str, actions: str = "pull") -> int | None:
        resp = await self.request("HEAD", f"/v2/{self.repo}/blobs/{digest}", actions,
                                  ok=(200, 404))
        if resp.status_code == 200:
            return int(resp.headers.get("content-length") or 0)
        if resp.status_code == 404:
            return None
        raise self.error(resp, digest, push=actions != "pull")

    async def open_blob(self, digest: str, offset: int = 0) -> httpx.Response:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = await self.request("GET", f"/v2/{self.repo}/blobs/{digest}", headers=headers,
                                  stream=True, ok=(200, 206))
        if resp.status_code not in (200, 206):
            await resp.aread()
            await resp.aclose()
            raise self.error(resp, digest)
        return resp

    async def mount_blob(self, digest: str, source_repo: str) -> bool:
        resp = await self.request("POST", f"/v2/{self.repo}/blobs/uploads/", "pull,push",
                                  params={"mount": digest, "from": source_repo},
                                  ok=(201, 202))
        if resp.status_code == 201:
            return True
        if resp.status_code == 202:  # not mounted: an upload was started instead; drop it
            loc = resp.headers.get("location")
            if loc:
                await self.request("DELETE", self._abs(loc), "pull,push", ok=(204, 404))
            return False
        raise self.error(resp, digest, push=True)

    async def upload_blob(self, digest: str, size: int, chunks, chunked: bool) -> None:
        """POST an upload, then one PUT (monolithic) or PATCHes and a PUT (chunked)."""
        resp = await self.request("POST", f"/v2/{self.repo}/blobs/uploads/", "pull,push",
                                  ok=(202,))
        if resp.status_code != 202:
            raise self.error(resp, digest, push=True)
        loc = self._abs(resp.headers["location"])
        if chunked:
            offset = 0
            async for chunk in chunks:
                resp = await self.request(
                    "PATCH", loc, "pull,push", content=chunk, ok=(202,), headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{offset + len(chunk) - 1}"})
                if resp.status_code != 202:
                    raise self.error(resp, digest, push=True)
                offset += len(chunk)
                loc = self._abs(resp.headers.get("location", loc))
                log.debug("upload of %s: chunk up to byte %d", digest, offset)
            body = b""
        else:
            body = b"".join([c async for c in chunks])
        sep = "&" if "?" in loc else "?"
        resp = await self.request("PUT", f"{loc}{sep}digest={digest}", "pull,push",
                                  content=body, ok=(201,), headers={
                                      "Content-Type": "application/octet-stream"})
        if resp.status_code != 201:
            raise self.error(resp, digest, push=True)

    def _abs(self, location: str) -> str:
        if location.startswith("http"):
            return location
        return (self.current.url if self.current else self.endpoints[0].url) + location

    # -- errors ---------------------------------------------------------------------------------
    def error(self, resp: httpx.Response, ref: str, push: bool = False) -> DocklingError:
        from dockling.formats.reference import DEFAULT_DOMAIN

        name = self.repo if self.domain == DEFAULT_DOMAIN else f"{self.domain}/{self.repo}"
        if name.startswith("library/"):
            name = name[len("library/"):]
        text = _error_text(resp)
        if resp.status_code in (401, 403):
            if push:
                return Forbidden(f"denied: {text or 'requested access to the resource is denied'}")
            return NotFound(f"pull access denied for {name}, repository does not exist or may "
                            f"require 'docker login': denied: {text or 'requested access to the resource is denied'}")
        if resp.status_code == 404:
            if "manifest" in str(resp.request.url):
                sep = "@" if ref.startswith("sha256:") else ":"
                return NotFound(f"manifest for {name}{sep}{ref} not found: "
                                f"{text or 'manifest unknown: manifest unknown'}")
            if "uploads" not in str(resp.request.url) and not push:
                return NotFound(f"pull access denied for {name}, repository does not exist or "
                                "may require 'docker login': denied: requested access to the "
                                "resource is denied")
            return NotFound(f"{text or 'not found'}")
        return InternalError(f"{resp.request.method} {resp.request.url}: "
                             f"{resp.status_code} {text}")
