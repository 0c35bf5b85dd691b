"""docker push: layers (compressed once, then known by digest), config and a
manifest, with docker's progress messages.

A layer blob the registry already has is "Layer already exists"; one we
know lives in another repository of the same registry is mounted from there
(no bytes sent); anything else is uploaded, in one PUT when small and in
PATCH chunks when large. Layers made here (commit, import) are gzipped
deterministically, so pushing the same image twice gives the same digests.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging

from dockling.errors import NotFound
from dockling.formats import progress, reference
from dockling.formats.progress import message
from dockling.images.store import ImageStore
from dockling.registry import manifests as mf
from dockling.registry.auth import Credentials
from dockling.registry.client import RepoClient
from dockling.registry.endpoints import RegistryConfig

log = logging.getLogger("dockling.push")

CHUNK = 4 * 1024 * 1024      # PATCH size for a chunked upload
MONOLITHIC_MAX = 8 * 1024 * 1024


def short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


class Pusher:
    def __init__(self, images: ImageStore, config: RegistryConfig, concurrency: int = 5) -> None:
        self.images = images
        self.config = config
        self.concurrency = concurrency

    def push(self, ref: reference.Reference, creds: Credentials | None = None):
        return progress.stream(lambda q: self._push(ref, creds or Credentials(), q))

    def check(self, ref: reference.Reference) -> None:
        try:
            self.images.resolve(str(ref))
        except NotFound:
            raise NotFound(f"An image does not exist locally with the tag: "
                           f"{ref.familiar_name}") from None

    async def _push(self, ref, creds, q) -> None:
        img = self.images.get(str(ref))
        q.put_nowait(message(f"The push refers to repository [{ref.familiar_name}]"))
        client = RepoClient(self.config, ref.domain, ref.path, creds)
        try:
            chains = self.images.layers.chain(img.diff_ids)
            for d in reversed(img.diff_ids):
                q.put_nowait(message("Preparing", short(d)))
            descs = self._known(img.diff_ids, chains)
            sem = asyncio.Semaphore(self.concurrency)
            for desc in reversed(descs):
                if sem.locked():
                    q.put_nowait(message("Waiting", short(desc["diff_id"])))
            await asyncio.gather(*(self._push_blob(client, ref, d, sem, q)
                                   for d in reversed(descs)))
            cfg_raw = self.images.content.read(img.id)
            if await client.blob_exists(img.id, "pull,push") is None:
                await client.upload_blob(img.id, len(cfg_raw), _chunks_of(cfg_raw), False)
            oci = any(d["media_type"].startswith("application/vnd.oci") for d in descs)
            manifest = {
                "schemaVersion": 2,
                "mediaType": mf.OCI_MANIFEST if oci else mf.DOCKER_V2,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json" if oci
                           else mf.DOCKER_CONFIG, "size": len(cfg_raw), "digest": img.id},
                "layers": [{"mediaType": d["media_type"], "size": d["size"],
                            "digest": d["digest"]} for d in descs],
            }
            body = json.dumps(manifest, indent=3).encode()
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            await client.put_manifest(ref.tag or "latest", manifest["mediaType"], body)
            self.images.add_repo_digest(img.id, f"{ref.name}@{digest}")
            q.put_nowait(message(f"{ref.tag or 'latest'}: digest: {digest} size: {len(body)}"))
            q.put_nowait({"progressDetail": {}, "aux": {"Tag": ref.tag or "latest",
                                                         "Digest": digest,
                                                         "Size": len(body)}})
        finally:
            await client.close()

    def _known(self, diff_ids: list[str], chains: list[str]) -> list[dict]:
        """Per layer: the compressed blob we know of (a pull or an earlier push),
        held here or not. Without one, None: it is made when needed."""
        out = []
        for diff_id, chain in zip(diff_ids, chains):
            known = self.images.blobs_for(diff_id)
            local = [b for b in known if self.images.content.exists(b.digest)]
            b = (local or known or [None])[0]
            out.append({"diff_id": diff_id, "chain": chain,
                        "digest": b.digest if b else None, "size": b.size if b else 0,
                        "media_type": (b.media_type if b else "") or mf.DOCKER_LAYER_GZIP,
                        "repos": [k.repo for k in known
                                  if b and k.digest == b.digest and k.repo]})
        return out

    def _compress(self, desc: dict) -> None:
        """gzip the layer into the content store (mtime 0, no name: same bytes each time)."""
        with self.images.content.writer() as w:
            with gzip.GzipFile(fileobj=w, mode="wb", mtime=0, filename="",
                               compresslevel=6) as gz:
                self.images.layers.write_tar(desc["chain"], gz)
            size = w.size
            digest = w.commit()
        self.images.add_blob(digest, desc["diff_id"], mf.DOCKER_LAYER_GZIP, size)
        desc.update(digest=digest, size=size, media_type=mf.DOCKER_LAYER_GZIP, repos=[])

    async def _push_blob(self, client: RepoClient, ref, desc: dict, sem, q) -> None:
        """Already there (by the digest we know), mounted, or uploaded (made now if
        we hold no copy: pulled blobs are not kept once unpacked)."""
        ident = short(desc["diff_id"])
        target = f"{ref.domain}/{ref.path}"
        async with sem:
            digest = desc["digest"]
            if digest and await client.blob_exists(digest, "pull,push") is not None:
                q.put_nowait(message("Layer already exists", ident))
                return
            here = f"{ref.domain}/"
            for repo in desc["repos"] if digest else []:
                if repo.startswith(here) and repo != target:
                    source = repo[len(here):]
                    if await client.mount_blob(digest, source):
                        q.put_nowait(message(f"Mounted from {source}", ident))
                        self.images.add_blob(digest, desc["diff_id"], desc["media_type"],
                                             desc["size"], target)
                        return
            if not digest or not self.images.content.exists(digest):
                await asyncio.to_thread(self._compress, desc)
                digest = desc["digest"]
                if await client.blob_exists(digest, "pull,push") is not None:
                    q.put_nowait(message("Layer already exists", ident))
                    return
            size = desc["size"]
            path = self.images.content.path(digest)

            async def chunks():
                sent = 0
                with open(path, "rb") as f:
                    while chunk := f.read(CHUNK):
                        sent += len(chunk)
                        q.put_nowait(message("Pushing", ident, sent, size))
                        yield chunk

            await client.upload_blob(digest, size, chunks(), size > MONOLITHIC_MAX)
            self.images.add_blob(digest, desc["diff_id"], desc["media_type"], size, target)
            q.put_nowait(message("Pushed", ident))


async def _chunks_of(data: bytes):
    yield data
