"""Image records and tags, and docker's rules for naming and removing them.

An image is its config blob (in the content store; the image ID is the
config's digest) plus its layers (in the layer store, found through
``rootfs.diff_ids``). Tags map normalized references to IDs. Lookups
accept what docker accepts: a reference, a full ID, ``sha256:`` + ID, or
a unique ID prefix.
"""

from __future__ import annotations

import json
import threading

import msgspec

from dockling import clock
from dockling.errors import Conflict, InvalidArgument, NotFound
from dockling.formats import reference
from dockling.images import model
from dockling.images.content import ContentStore
from dockling.images.layers import LayerStore
from dockling.images.model import DeleteItem, Image, ImageConfig
from dockling.store.db import DB


def _familiar_digest(name_at_digest: str) -> str:
    name, _, digest = name_at_digest.partition("@")
    return f"{reference.parse(name, default_tag=False).familiar_name}@{digest}"


def short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


_CONFIGS_KEPT = 256  # image configs kept in memory (a few KiB each)


class LayerBlob(msgspec.Struct):
    """A compressed blob known for a layer (a row of ``layer_blobs``): pulled from
    ``repo``, or pushed there."""
    digest: str
    media_type: str
    size: int
    repo: str


class ImageStore:
    def __init__(self, db: DB, content: ContentStore, layers: LayerStore) -> None:
        self.db = db
        self.content = content
        self.layers = layers
        self._configs: dict[str, bytes] = {}  # image ID -> its config's bytes (``config``)
        self._configs_lock = threading.Lock()

    # -- create --------------------------------------------------------------------
    def add(self, config: ImageConfig, parent: str = "") -> str:
        """Store a config dockling made (build, commit, import), encoded once here;
        its layers are registered. The image ID."""
        return self.add_raw(model.encode_config(config), parent)

    def add_raw(self, raw: bytes, parent: str = "") -> str:
        """Store config bytes as they are (a loaded or pulled image keeps its ID)."""
        config = model.decode_config(raw)
        image_id = self.content.put(raw)
        chains = self.layers.chain(config.rootfs.diff_ids)
        for c in chains:
            if not self.layers.exists(c):
                raise InvalidArgument(f"image config names layer {c} that is not stored")
        size = sum(self.layers.get(c).size for c in chains)
        with self.db.tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO images(id, created, size, parent) VALUES (?,?,?,?)",
                (image_id, config.created or clock.now(), size, parent))
        return image_id

    def add_repo_digest(self, image_id: str, name_at_digest: str) -> None:
        """Remember that a registry knows this image as NAME@DIGEST (RepoDigests)."""
        with self.db.tx() as conn:
            row = conn.execute("SELECT repo_digests FROM images WHERE id = ?",
                               (image_id,)).fetchone()
            have = json.loads(row["repo_digests"]) if row else []
            repo = name_at_digest.split("@")[0]
            have = [d for d in have if d.split("@")[0] != repo] + [name_at_digest]
            conn.execute("UPDATE images SET repo_digests = ? WHERE id = ?",
                         (json.dumps(have), image_id))

    def add_blob(self, digest: str, diff_id: str, media_type: str, size: int,
                 repo: str = "") -> None:
        with self.db.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO layer_blobs(digest, diff_id, media_type, "
                         "size, repo) VALUES (?,?,?,?,?)",
                         (digest, diff_id, media_type, size, repo))

    def blobs_for(self, diff_id: str) -> list[LayerBlob]:
        """Known compressed blobs of a layer."""
        return [LayerBlob(**r) for r in self.db.query(
            "SELECT digest, media_type, size, repo FROM layer_blobs WHERE diff_id = ?",
            diff_id)]

    def tags_of_repo(self, name: str) -> list[str]:
        """The stored tags (full references) of one repository, e.g. for push -a."""
        return [r["ref"] for r in self.db.query("SELECT ref FROM tags WHERE ref LIKE ? "
                                                "ORDER BY ref", name + ":%")
                if r["ref"].rpartition(":")[0] == name]

    def tag(self, image_id: str, ref: str) -> reference.Reference:
        r = reference.parse(ref)
        if r.digest:
            raise InvalidArgument("refusing to create a tag with a digest reference")
        with self.db.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO tags(ref, image_id) VALUES (?,?)",
                         (str(r), image_id))
        return r

    # -- lookup --------------------------------------------------------------------
    def resolve(self, name: str) -> str:
        """Name, ID or ID prefix -> full image ID; NotFound in docker's words."""
        try:
            r = reference.parse(name)
        except InvalidArgument:
            r = None
        if r is not None:
            row = self.db.one("SELECT image_id FROM tags WHERE ref = ?", str(r))
            if row:
                return row["image_id"]
        if r is not None and r.digest:
            for row in self.db.query("SELECT id, repo_digests FROM images"):
                if f"{r.name}@{r.digest}" in json.loads(row["repo_digests"]):
                    return row["id"]
        if reference.looks_like_id_prefix(name):
            h = name.removeprefix("sha256:")
            rows = self.db.query("SELECT id FROM images WHERE id LIKE ?", f"sha256:{h}%")
            if len(rows) == 1:
                return rows[0]["id"]
            if len(rows) > 1:
                raise InvalidArgument(f"ambiguous image ID prefix {name!r}")
        if r is None:
            raise InvalidArgument("invalid reference format")
        raise NotFound(f"No such image: {r.familiar if r.tag or r.digest else name}")

    def get(self, name: str) -> Image:
        image_id = self.resolve(name)
        return self.load(image_id)

    def load(self, image_id: str) -> Image:
        row = self.db.one("SELECT * FROM images WHERE id = ?", image_id)
        if row is None:
            raise NotFound(f"No such image: {image_id}")
        tags = [reference.parse(t["ref"]).familiar for t in self.db.query(
            "SELECT ref FROM tags WHERE image_id = ? ORDER BY ref", image_id)]
        return Image(id=row["id"], created=row["created"], size=row["size"],
                     parent=row["parent"], repo_digests=json.loads(row["repo_digests"]),
                     config=self.config(image_id), tags=tags)

    def config(self, image_id: str) -> ImageConfig:
        """An image's config, a copy of its own (decoded anew: callers change theirs).
        The bytes are kept after the first read: the ID is their digest, so they
        never change (a build's cache hits read the same few configs again and again)."""
        raw = self._configs.get(image_id)
        if raw is None:
            raw = self.content.read(image_id)
            with self._configs_lock:  # worker threads load images too
                if len(self._configs) >= _CONFIGS_KEPT:
                    self._configs.pop(next(iter(self._configs)))
                self._configs[image_id] = raw
        return model.decode_config(raw)

    def all(self) -> list[Image]:
        return [self.load(r["id"]) for r in self.db.query(
            "SELECT id FROM images ORDER BY created DESC")]

    def parents(self) -> set[str]:
        """IDs that are some image's parent (a build's intermediate steps)."""
        return {r["parent"] for r in self.db.query(
            "SELECT DISTINCT parent FROM images WHERE parent != ''")}

    def listed(self, all_: bool) -> list[Image]:
        """`docker images`: without -a, untagged images with children (a build's
        intermediate steps) are left out, as docker does."""
        imgs = self.all()
        if all_:
            return imgs
        parents = self.parents()
        return [i for i in imgs if i.tags or i.id not in parents]

    def exists(self, name: str) -> bool:
        try:
            self.resolve(name)
            return True
        except NotFound:
            return False

    # -- remove --------------------------------------------------------------------
    def children(self, image_id: str) -> list[str]:
        return [r["id"] for r in self.db.query("SELECT id FROM images WHERE parent = ?",
                                               image_id)]

    def remove(self, name: str, force: bool, users, prune: bool = True) -> list[DeleteItem]:
        """docker rmi: untag, or delete when the last reference goes.

        ``users(image_id)`` -> [(container_id, running)] of containers using it.
        ``prune``: also delete the untagged parents nothing else holds (a build's
        intermediate steps), as docker does unless --no-prune.
        """
        image_id = self.resolve(name)
        img = self.load(image_id)
        by_tag = False
        try:
            r = reference.parse(name)
            by_tag = self.db.one("SELECT 1 FROM tags WHERE ref = ?", str(r)) is not None
        except InvalidArgument:
            r = None
        out: list[DeleteItem] = []
        if by_tag and len(img.tags) > 1:
            self._untag(str(r))
            return [DeleteItem(Untagged=r.familiar)]
        if not by_tag and len(img.tags) > 1 and not force:
            raise Conflict(f"conflict: unable to delete {short(image_id)} (must be forced) - "
                           "image is referenced in multiple repositories")
        if self.children(image_id):
            if by_tag:  # moby: the tag goes; the conflict is "quiet", the image stays
                self._untag(str(r))
                return [DeleteItem(Untagged=r.familiar)]
            raise Conflict(f"conflict: unable to delete {short(image_id)} (cannot be forced) - "
                           "image has dependent child images")
        using = users(image_id)
        running = [c for c, run in using if run]
        if running:
            raise Conflict(f"conflict: unable to delete {short(image_id)} (cannot be forced) - "
                           f"image is being used by running container {running[0][:12]}")
        if using and not force:
            raise Conflict(f"conflict: unable to delete {short(image_id)} (must be forced) - "
                           f"image is being used by stopped container {using[0][0][:12]}")
        for t in img.tags:
            out.append(DeleteItem(Untagged=t))
        if using:  # forced with stopped users: docker untags but keeps the image
            with self.db.tx() as conn:
                conn.execute("DELETE FROM tags WHERE image_id = ?", (image_id,))
            return out
        out.extend(self._delete(img))
        parent = img.parent
        while prune and parent:
            try:
                p = self.load(parent)
            except NotFound:
                break
            if p.tags or users(p.id) or self.children(p.id):
                break
            out.extend(self._delete(p))
            parent = p.parent
        return out

    def _untag(self, ref: str) -> None:
        with self.db.tx() as conn:
            conn.execute("DELETE FROM tags WHERE ref = ?", (ref,))

    def _delete(self, img: Image) -> list[DeleteItem]:
        with self.db.tx() as conn:
            conn.execute("DELETE FROM tags WHERE image_id = ?", (img.id,))
            conn.execute("DELETE FROM images WHERE id = ?", (img.id,))
        out = [DeleteItem(Deleted=img.id)]
        # Drop layers no other image uses (chains are shared by prefix).
        still = set()
        for other in self.all():
            still.update(self.layers.chain(other.diff_ids))
        still_diffs = {d for other in self.all() for d in other.diff_ids}
        for c, diff_id in reversed(list(zip(self.layers.chain(img.diff_ids), img.diff_ids))):
            if c not in still:
                self.layers.remove(c)
                out.append(DeleteItem(Deleted=c))
            if diff_id not in still_diffs:  # the pulled blobs of the layer go too
                for b in self.blobs_for(diff_id):
                    self.content.delete(b.digest)
                with self.db.tx() as conn:
                    conn.execute("DELETE FROM layer_blobs WHERE diff_id = ?", (diff_id,))
        self.content.delete(img.id)
        return out

    def prune(self, dangling_only: bool, users) -> tuple[list[DeleteItem], int]:
        deleted: list[DeleteItem] = []
        reclaimed = 0
        parents = self.parents()
        for img in self.all():
            if (dangling_only and img.tags) or users(img.id):
                continue
            if img.id in parents:  # docker's prune skips images with children
                continue
            try:
                self.load(img.id)
            except NotFound:  # went with a pruned child's parent chain
                continue
            reclaimed += img.size
            deleted.extend(self.remove(img.id, True, users))
        return deleted, reclaimed

    # -- answers ---------------------------------------------------------------------
    def inspect(self, img: Image) -> model.InspectResponse:
        """ImageInspect as the Engine API returns it."""
        cfg = img.config
        return model.InspectResponse(
            Id=img.id,
            RepoTags=img.tags,
            RepoDigests=[_familiar_digest(d) for d in img.repo_digests],
            Parent=img.parent,
            Comment=(cfg.history or [model.History()])[-1].comment,
            Created=img.created,
            # docker 20.10 answers with the committing container's config, empty
            # for images that have none; compose reads ContainerConfig.Volumes. docker
            # drops both from API 1.45 on, but compose 1.29 speaks the server's version
            # (1.47 here) and dies without them (KeyError: 'ContainerConfig'): kept
            Container=cfg.container,
            ContainerConfig=cfg.container_config or model.ContainerConfig(),
            DockerVersion="",
            Author=cfg.author,
            Config=img.container_config,
            Architecture=cfg.architecture or "amd64",
            Os=cfg.os or "linux",
            Size=img.size,
            GraphDriver=model.DriverData(Name="overlay2", Data=self.graph_data(img)),
            RootFS=model.InspectRootFS(Type="layers", Layers=img.diff_ids),
            # docker: Go's zero time when never tagged; "" breaks the docker CLI's decoding
            Metadata=model.Metadata(LastTagTime=clock.ZERO),
        )

    def graph_data(self, img: Image) -> dict[str, str]:
        chains = self.layers.chain(img.diff_ids)
        if not chains:
            return {}
        dirs = self.layers.lower_dirs(chains)
        data = {"UpperDir": dirs[0], "WorkDir": dirs[0].rsplit("/", 1)[0] + "/work",
                "MergedDir": dirs[0].rsplit("/", 1)[0] + "/merged"}
        if len(dirs) > 1:
            data["LowerDir"] = ":".join(dirs[1:])
        return data

    def summary(self, img: Image) -> model.Summary:
        """ImageSummary (GET /images/json)."""
        return model.Summary(
            Id=img.id,
            ParentId=img.parent,
            RepoTags=img.tags or [],
            RepoDigests=[_familiar_digest(d) for d in img.repo_digests],
            Created=int(clock.unix(img.created)),
            Size=img.size,
            SharedSize=-1,
            VirtualSize=img.size,
            Labels=img.container_config.Labels or {},
            Containers=-1,
        )
