"""The build cache: which image a build step made from which inputs.

A step is reused when the same parent image, the same instruction (with the
values of the build args it sees) and, for COPY/ADD, the same source content
come again. The key is a sha256 over those (``key``); the record points at
the image the step made, which holds the layer. Records live in SQLite, so
the cache survives a daemon restart.

Lifecycle: ``get`` -> ``put`` after a step ran, or ``used`` for the hits ->
``prune`` (builder prune, system prune). A record whose image is gone (rmi,
image prune) is a miss and is dropped. Pruning deletes the step images that
no tag and no container holds; their layers go only when no other image
uses them (ImageStore's rule), so a tagged build result never loses a layer.

The step images are ordinary untagged images with children, so docker's
image rules hold for them: `images` hides them without -a, and `rmi` of a
build's result deletes its untagged parent chain (unless --no-prune), which
takes those steps out of the cache, as with the classic builder.
"""

from __future__ import annotations

import hashlib
import json

import msgspec

from dockling import clock
from dockling.builder.model import CacheRecord
from dockling.errors import InvalidArgument, NotFound
from dockling.images.model import ContainerConfig
from dockling.images.store import ImageStore
from dockling.store.db import DB


def key(parent: str, step: str, inputs: list[str] | tuple[str, ...] = ()) -> str:
    """The cache key of a step: its parent image, its text, what else it read."""
    doc = json.dumps([parent, step, list(inputs)], separators=(",", ":"))
    return "sha256:" + hashlib.sha256(doc.encode()).hexdigest()


def meta_key(parent: str, step: str, config: ContainerConfig | None) -> str:
    """The key of a step that only changes the config (ENV, LABEL, CMD...): the
    config it leaves, as sorted JSON. The JSON is the config's fields that are
    not zero (what a config blob holds, ``omit_defaults``), so a config read back
    from a stored image gives the key its step had. This is the text the keys of
    dict-typed configs hashed (``json.dumps(config, sort_keys=True)``) whenever
    that dict held no zero field: keys recorded before the typed configs still
    hit, except after a field was set to null (an ENTRYPOINT that reset an
    inherited CMD, ONBUILD triggers run) or on a base whose config lists zero
    fields; those steps run once more."""
    doc = None if config is None else msgspec.to_builtins(config)
    return key(parent, step, [json.dumps(doc, sort_keys=True)])


class BuildCache:
    def __init__(self, db: DB, images: ImageStore) -> None:
        self.db = db
        self.images = images

    def get(self, k: str) -> str | None:
        """The image a step with key ``k`` made, if it is still there. A read only:
        the build reports its hits once, at its end (``used``)."""
        row = self.db.one("SELECT b.image_id, i.id AS present FROM build_cache b "
                          "LEFT JOIN images i ON i.id = b.image_id WHERE b.key = ?", k)
        if row is None:
            return None
        if row["present"] is None:
            with self.db.tx() as conn:
                conn.execute("DELETE FROM build_cache WHERE key = ?", (k,))
            return None
        return row["image_id"]

    def used(self, keys: list[str]) -> None:
        """Count a build's hits (prune drops the least recently used first)."""
        if not keys:
            return
        now = clock.now()
        with self.db.tx() as conn:
            conn.executemany("UPDATE build_cache SET last_used = ?, usage_count = usage_count"
                             " + 1 WHERE key = ?", [(now, k) for k in keys])

    def put(self, k: str, image_id: str, parent: str, description: str, size: int) -> None:
        now = clock.now()
        with self.db.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO build_cache(key, image_id, parent, description,"
                         " size, created, last_used, usage_count) VALUES (?,?,?,?,?,?,?,1)",
                         (k, image_id, parent, description, size, now, now))

    def records(self) -> list[CacheRecord]:
        """The cache's entries as GET /system/df shows them."""
        held = self._held()
        out = []
        for r in self.db.query("SELECT * FROM build_cache ORDER BY created"):
            if not self.images.exists(r["image_id"]):
                continue  # its image went (rmi): a miss, dropped at the next lookup
            out.append(CacheRecord(
                ID=r["key"].removeprefix("sha256:")[:25], Type="regular",
                Description=r["description"], Shared=r["image_id"] in held, Size=r["size"],
                CreatedAt=r["created"], LastUsedAt=r["last_used"],
                UsageCount=r["usage_count"]))
        return out

    def prune(self, all_: bool, filters: dict[str, list[str]], keep_storage: int,
              users) -> tuple[list[str], int]:
        """builder prune: drop records (and the step images nothing else holds).

        Without ``all_`` only records no tagged image builds on go (BuildKit's
        "dangling" cache); ``until`` keeps younger records; ``keep_storage``
        stops once the cache is no larger than that. Returns (IDs, bytes freed).
        """
        import time

        until = None
        for v in filters.get("until") or []:
            try:
                until = time.time() - clock.parse_duration(v)
            except ValueError:
                try:
                    until = clock.unix(v)
                except ValueError as err:
                    raise InvalidArgument(f"invalid filter 'until={v}'") from err
        unknown = set(filters) - {"until", "id", "type", "description"}
        if unknown:
            raise InvalidArgument(f"invalid filter '{sorted(unknown)[0]}'")
        rows = self.db.query("SELECT * FROM build_cache ORDER BY last_used")
        held = set() if all_ else self._held()
        total = sum(r["size"] for r in rows)
        victims = []
        for r in rows:
            if keep_storage and total <= keep_storage:
                break
            if r["image_id"] in held:
                continue
            if until is not None and clock.unix(r["last_used"]) > until:
                continue
            if filters.get("id") and not any(r["key"].removeprefix("sha256:").startswith(i)
                                             for i in filters["id"]):
                continue
            victims.append(r)
            total -= r["size"]
        with self.db.tx() as conn:
            for r in victims:
                conn.execute("DELETE FROM build_cache WHERE key = ?", (r["key"],))
        reclaimed = 0
        still = {r["image_id"] for r in self.db.query("SELECT image_id FROM build_cache")}
        todo = {r["image_id"] for r in victims} - still
        while todo:  # leaves first: an image with children is never deleted (docker)
            dropped = {}
            for i in todo:
                freed = self._drop_image(i, users)
                if freed is not None:
                    dropped[i] = freed
            if not dropped:
                break
            reclaimed += sum(dropped.values())
            todo -= dropped.keys()
        return [r["key"].removeprefix("sha256:")[:25] for r in victims], reclaimed

    def _drop_image(self, image_id: str, users) -> int | None:
        """Delete a step image no tag, container or child holds: the bytes of
        the layers freed, or None if it is kept."""
        try:
            img = self.images.load(image_id)
        except NotFound:
            return 0
        if img.tags or users(image_id) or self.images.children(image_id):
            return None
        layers = self.images.layers
        sizes = {c: layers.get(c).size for c in layers.chain(img.diff_ids) if layers.exists(c)}
        freed = 0
        for item in self.images.remove(image_id, False, users, prune=False):
            freed += sizes.get(item.Deleted, 0)
        return freed

    def _held(self) -> set[str]:
        """Step images that a tagged image or a container builds on."""
        parent_of = {r["id"]: r["parent"] for r in self.db.query("SELECT id, parent FROM images")}
        roots = {r["image_id"] for r in self.db.query("SELECT image_id FROM tags")}
        roots |= {r["image_id"] for r in self.db.query("SELECT image_id FROM containers")}
        held = set()
        for image_id in roots:
            while image_id and image_id not in held:
                held.add(image_id)
                image_id = parent_of.get(image_id, "")
        return held
