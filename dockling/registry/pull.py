"""docker pull: manifest (index -> platform), config, layers in parallel, unpacked
in order, with docker's progress messages.

Blobs stream into the content store's temp area and are renamed into place
only once their digest checks out, so a killed pull leaves nothing that
reads as valid (the daemon empties tmp/ at start). A download that breaks
goes on from where it stopped with a Range request. A layer whose chain is
already stored is "Already exists" and not fetched.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import threading

import httpx

from dockling.errors import DocklingError, InternalError, InvalidArgument
from dockling.formats import progress, reference
from dockling.formats.progress import message
from dockling.images.layers import chain_id
from dockling.images.model import decode_config
from dockling.images.store import ImageStore
from dockling.registry import manifests as mf
from dockling.registry.auth import Credentials
from dockling.registry.client import RepoClient
from dockling.registry.endpoints import RegistryConfig

log = logging.getLogger("dockling.pull")

DOWNLOAD_RETRIES = 5
PROGRESS_STEP = 512 * 1024


def short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def _check_digest(data: bytes, digest: str, what: str) -> None:
    algo, _, want = digest.partition(":")
    if algo != "sha256" or hashlib.sha256(data).hexdigest() != want:
        raise InvalidArgument(f"{what} verification failed: digest mismatch for {digest}")


class Puller:
    def __init__(self, images: ImageStore, config: RegistryConfig, concurrency: int = 3,
                 events=None) -> None:
        self.images = images
        self.config = config
        self.concurrency = concurrency
        self.events = events

    async def tags(self, ref: reference.Reference, creds: Credentials | None = None) -> list[str]:
        client = RepoClient(self.config, ref.domain, ref.path, creds)
        try:
            resp = await client.request("GET", f"/v2/{ref.path}/tags/list")
            if resp.status_code != 200:
                raise client.error(resp, "tags")
            return sorted((resp.json().get("tags") or []))
        finally:
            await client.close()

    def pull(self, ref: reference.Reference, creds: Credentials | None = None,
             platform: str | None = None):
        """Progress messages; the image is stored and tagged when the stream ends."""
        return progress.stream(lambda q: self._pull(ref, creds or Credentials(), platform, q))

    async def _pull(self, ref, creds, platform, q) -> None:
        repo = ref.path
        client = RepoClient(self.config, ref.domain, repo, creds)
        try:
            manifest_digest, manifest = await self._manifest(client, ref, platform)
            # after the manifest, as docker: a missing image is an error response, not
            # a stream that starts and then fails
            q.put_nowait(message(f"Pulling from {repo}", ref.tag or ref.digest))
            cfg_desc = manifest["config"]
            cfg_raw = await self._small_blob(client, cfg_desc["digest"])
            diff_ids = decode_config(cfg_raw).rootfs.diff_ids
            layers = manifest.get("layers") or []
            if len(diff_ids) != len(layers):
                raise InvalidArgument(f"invalid image: {len(layers)} layers in the manifest, "
                                      f"{len(diff_ids)} in the config")
            image_id = "sha256:" + hashlib.sha256(cfg_raw).hexdigest()
            known = self._tagged(ref, image_id)
            chains, parent = [], None
            for d in diff_ids:
                parent = chain_id(parent, d)
                chains.append(parent)
            todo = [i for i, c in enumerate(chains) if not self.images.layers.exists(c)]
            for i, desc in enumerate(layers):
                if i not in todo:
                    q.put_nowait(message("Already exists", short(desc["digest"])))
                else:
                    q.put_nowait(message("Pulling fs layer", short(desc["digest"])))
            await self._layers(client, layers, diff_ids, chains, todo, q, repo, ref.domain)
            self.images.add_raw(cfg_raw)
            name = f"{ref.name}"
            if ref.tag:
                self.images.tag(image_id, str(ref))
            self.images.add_repo_digest(image_id, f"{name}@{manifest_digest}")
            q.put_nowait(message(f"Digest: {manifest_digest}"))
            what = ref.familiar
            q.put_nowait(message(f"Status: Image is up to date for {what}" if known else
                                 f"Status: Downloaded newer image for {what}"))
        finally:
            await client.close()

    def _tagged(self, ref, image_id: str) -> bool:
        """Does the reference already name this image? ("Image is up to date")"""
        try:
            return self.images.resolve(str(ref)) == image_id
        except DocklingError:
            return False

    async def _manifest(self, client: RepoClient, ref, platform) -> tuple[str, dict]:
        want_ref = ref.digest or ref.tag or "latest"
        ctype, body, header_digest = await client.get_manifest(want_ref, mf.ACCEPT)
        digest = ref.digest or header_digest or "sha256:" + hashlib.sha256(body).hexdigest()
        _check_digest(body, digest, "manifest")
        kind = mf.media_type(ctype, body)
        if kind in (mf.DOCKER_V1, mf.DOCKER_V1_SIGNED):
            raise InvalidArgument(mf.schema1_message(ref.name))
        doc = json.loads(body)
        if kind in mf.INDEXES:
            entry = mf.pick(doc, mf.parse_platform(platform))
            ctype, body, _ = await client.get_manifest(entry["digest"], mf.ACCEPT)
            _check_digest(body, entry["digest"], "manifest")
            kind = mf.media_type(ctype, body)
            if kind not in mf.MANIFESTS:
                raise InvalidArgument(f"unsupported manifest media type in the index: {kind}")
            doc = json.loads(body)
        if not isinstance(doc.get("config"), dict) or "digest" not in doc["config"]:
            raise InvalidArgument("invalid manifest: no config descriptor")
        return digest, doc

    async def _small_blob(self, client: RepoClient, digest: str) -> bytes:
        resp = await client.open_blob(digest)
        try:
            data = bytearray()
            async for chunk in resp.aiter_bytes():
                data += chunk
                if len(data) > 8 * 1024 * 1024:
                    raise InvalidArgument(f"image config {digest} is too big")
        finally:
            await resp.aclose()
        _check_digest(bytes(data), digest, "image config")
        return bytes(data)

    async def _layers(self, client, layers, diff_ids, chains, todo, q, repo, domain) -> None:
        """Download (``concurrency`` at a time) and unpack (``UNPACKERS`` at a time)
        the missing layers.

        Each layer is unpacked into its own directory (the layer store's diff:
        the parent only names the chain), so layers are independent, each
        unpacked while it downloads when it is already coming in. "Pull
        complete" comes in the layers' order, as docker, which applies them in turn.
        """
        sem = asyncio.Semaphore(self.concurrency)
        slots = asyncio.Semaphore(UNPACKERS)
        feeds = {i: _Feed() for i in todo}
        downloads = {i: asyncio.ensure_future(self._download(client, layers[i], sem, q,
                                                             feeds[i])) for i in todo}
        unpacks = {i: asyncio.ensure_future(self._unpack(
            layers[i], chains[i - 1] if i else None, diff_ids[i], feeds[i], downloads[i],
            slots, q)) for i in todo}
        try:
            for i in todo:
                # shielded: a cancelled pull (the client went away) stops its unpacks
                # through the feeds below, never leaving a thread writing after it
                digest = await asyncio.shield(unpacks[i])
                # the layer is kept unpacked only (docker's way); the mapping
                # digest <-> diff id lets push find it in registries again
                self.images.add_blob(digest, diff_ids[i], layers[i].get("mediaType", ""),
                                     int(layers[i].get("size") or 0), f"{domain}/{repo}")
                q.put_nowait(message("Pull complete", short(digest)))
        except BaseException:
            for f in feeds.values():
                f.fail()
            for t in downloads.values():
                t.cancel()
            # unpacks end on their own once their feed failed or their download is
            # cancelled; cancelling them would leave their threads writing after we return
            await asyncio.gather(*downloads.values(), *unpacks.values(),
                                 return_exceptions=True)
            for t in downloads.values():  # a download done that no unpack took up
                if not t.cancelled() and t.exception() is None:
                    t.result().drop()
            raise

    async def _unpack(self, desc: dict, parent: str | None, diff_id: str, feed: _Feed,
                      download: asyncio.Future, slots: asyncio.Semaphore, q) -> str:
        """Unpack one layer, from its download as it grows if it is already coming in
        when a slot frees, else from the verified file; the file is dropped after."""
        started = asyncio.ensure_future(feed.started.wait())
        await asyncio.wait({download, started}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()  # not left pending (and collected as such) if never set
        async with slots:
            streamed = False
            if not download.done() and feed.path:
                try:
                    await self._extract(feed.open(), desc, parent, diff_id, q, feed)
                    streamed = True
                except _Restarted:
                    pass  # the download began again from byte 0: unpack the file after
                except Exception:
                    if feed.failed:
                        await download  # the download's error is the one to tell
                    raise
            blob = await download
            try:
                if not streamed:
                    await self._extract(open(blob.path, "rb"), desc, parent, diff_id, q, feed)
            finally:
                blob.drop()
        return desc["digest"]

    async def _download(self, client: RepoClient, desc: dict, sem, q, feed) -> _Blob:
        """The layer blob, verified. A download stays an ingest file (removed at
        start if we die): it is deleted once unpacked, so it is neither fsynced
        nor named in the content store."""
        digest = desc["digest"]
        ident = short(digest)
        store = self.images.content
        if store.exists(digest):
            q.put_nowait(message("Download complete", ident))
            return _Blob(store.path(digest), lambda: store.delete(digest))
        if sem.locked():
            q.put_nowait(message("Waiting", ident))
        async with sem:
            total = int(desc.get("size") or 0)
            w = store.writer(digest)
            feed.begin(w.tmp)
            try:
                offset, last, attempt = 0, 0, 0
                urls = list(desc.get("urls") or [])  # foreign layers: their URLs first
                while True:
                    try:
                        resp = await (_open_url(urls.pop(0), offset) if urls else
                                      client.open_blob(digest, offset))
                    except (httpx.HTTPError, InternalError) as err:
                        attempt += 1
                        if attempt >= DOWNLOAD_RETRIES:
                            raise InternalError(f"failed to download {digest}: {err}") from err
                        await asyncio.sleep(0.2 * 2 ** attempt)
                        continue
                    if offset and resp.status_code == 200:  # no ranges here: from the start
                        feed.restart()
                        w.abort()
                        w = store.writer(digest)
                        offset = 0
                    try:
                        async for chunk in resp.aiter_bytes():  # as it arrives: resumable
                            w.write(chunk)
                            offset += len(chunk)
                            if total and offset > total:
                                raise InvalidArgument(f"blob {digest} is larger than its "
                                                      f"descriptor says ({total} bytes)")
                            w.f.flush()
                            feed.wrote(offset)
                            if offset - last >= PROGRESS_STEP:
                                last = offset
                                q.put_nowait(message("Downloading", ident, offset, total))
                        break
                    except (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError) as err:
                        attempt += 1
                        log.info("download of %s broke at %d bytes: %s", ident, offset, err)
                        if attempt >= DOWNLOAD_RETRIES:
                            raise InternalError(f"failed to download {digest}: {err}") from err
                        await asyncio.sleep(0.2 * 2 ** attempt)
                    finally:
                        await resp.aclose()
                q.put_nowait(message("Verifying Checksum", ident))
                if w.digest != digest:
                    w.abort()
                    raise InvalidArgument(f"filesystem layer verification failed for digest "
                                          f"{digest}")
                w.f.close()
                feed.finish()
            except BaseException:
                feed.fail()
                w.abort()
                raise
        q.put_nowait(message("Download complete", ident))
        return _Blob(w.tmp, w.abort)

    async def _extract(self, raw, desc: dict, parent: str | None, diff_id: str, q,
                       feed: _Feed) -> None:
        """Unpack a layer stream; the layer is stored only if it is the one the
        (digest-checked) config names, so a stream cut short or lying never is."""
        ident = short(desc["digest"])
        total = int(desc.get("size") or 0)
        loop = asyncio.get_running_loop()

        def work():
            with raw:
                reader = _Counting(raw, lambda n: loop.call_soon_threadsafe(
                    q.put_nowait, message("Extracting", ident, n, total)), feed)
                return self.images.layers.register(reader, parent, expected=diff_id)

        try:
            await asyncio.to_thread(work)
        except InvalidArgument as err:
            if "unpacks to" in str(err):
                raise InvalidArgument(f"failed to register layer: {err}") from err
            raise


# Layers unpacked at once. Each goes into its own directory, so they could all go
# side by side, but measured on 2 cores (bench/pull.py, 3 runs each, twice) a second
# unpacker made both shapes slower: 20,000 small files 1.4-1.6 s -> 1.9-2.1 s, 9 big
# layers 1.17x/0.99x -> 1.21x/1.43x skopeo's time. The per-entry work holds the GIL,
# and the event loop feeding the downloads waits for it. Kept a setting for a machine
# where that changes (an unpacker in its own process).
UNPACKERS = 1


class _Blob:
    """A verified layer blob on disk and how to drop it once unpacked."""

    def __init__(self, path: str, drop) -> None:
        self.path = path
        self._drop = drop

    def drop(self) -> None:
        drop, self._drop = self._drop, None
        if drop:
            drop()


class _Restarted(Exception):
    """The download of a layer being unpacked as it came in began again."""


class _Feed:
    """A download's progress as seen by the unpacker reading its file as it grows."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cond = threading.Condition()
        self.path: str | None = None
        self.size = 0
        self.generation = 0
        self.done = False
        self.failed = False

    def begin(self, path: str) -> None:
        self.path = path
        self.started.set()

    def wrote(self, size: int) -> None:
        with self.cond:
            self.size = size
            self.cond.notify_all()

    def restart(self) -> None:
        with self.cond:
            self.generation += 1
            self.size = 0
            self.cond.notify_all()

    def finish(self) -> None:
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def fail(self) -> None:
        with self.cond:
            self.failed = True
            self.cond.notify_all()

    def open(self):
        return _Growing(self)


class _Growing(io.RawIOBase):
    """Reads the file a download is still writing, waiting for bytes to arrive."""

    def __init__(self, feed: _Feed) -> None:
        self.feed = feed
        self.f = open(feed.path, "rb")  # noqa: SIM115 - closed with this reader
        self.pos = 0
        self.generation = feed.generation

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        feed = self.feed
        with feed.cond:
            while True:
                if feed.failed:
                    raise OSError("the layer download failed")
                if feed.generation != self.generation:
                    raise _Restarted()
                if feed.size > self.pos or feed.done:
                    break
                feed.cond.wait(1.0)
            avail = feed.size - self.pos
        if avail <= 0:
            return 0
        n = self.f.readinto(memoryview(b)[:min(len(b), avail)])
        self.pos += n or 0
        return n or 0

    def close(self) -> None:
        self.f.close()
        super().close()


async def _open_url(url: str, offset: int) -> httpx.Response:
    """A foreign layer's own URL (docker tries these before the registry)."""
    http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0), trust_env=False,
                             follow_redirects=True)
    resp = await http.send(http.build_request(
        "GET", url, headers={"Range": f"bytes={offset}-"} if offset else {}), stream=True)
    if resp.status_code not in (200, 206):
        await resp.aclose()
        await http.aclose()
        raise InternalError(f"GET {url}: {resp.status_code}")
    close = resp.aclose

    async def aclose() -> None:
        await close()
        await http.aclose()

    resp.aclose = aclose
    return resp


class _Counting(io.RawIOBase):
    """Counts what the unpacker reads, for "Extracting"; stops it when the pull failed."""

    def __init__(self, raw, report, feed: _Feed) -> None:
        self.raw = raw
        self.report = report
        self.feed = feed
        self.n = 0
        self.last = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self.feed.failed:
            raise OSError("the pull was cancelled")
        n = self.raw.readinto(b)
        self.n += n or 0
        if self.n - self.last >= PROGRESS_STEP:
            self.last = self.n
            self.report(self.n)
        return n
