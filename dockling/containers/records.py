"""Container records: the SQLite rows, names, lookups, and the list (its filters:
``filters.py``).

A record is a ``model.Container`` (docker's ContainerJSON, typed) stored as JSON
in its row. Lookups go by full ID, name (with or without its slash) or unique ID
prefix, as docker's do.
"""

from __future__ import annotations

import random

from dockling import names
from dockling.containers import model
from dockling.containers.filters import Query
from dockling.containers.model import Container
from dockling.errors import Conflict, InvalidArgument, NotFound
from dockling.store.db import DB

_ADJ = ["admiring", "brave", "clever", "dreamy", "eager", "festive", "gallant", "happy",
        "jolly", "keen", "lucid", "modest", "nifty", "quirky", "serene", "trusting", "vibrant",
        "wizardly", "zealous", "bold"]
_NAMES = ["turing", "hopper", "lovelace", "ritchie", "thompson", "torvalds", "knuth", "dijkstra",
          "hamilton", "liskov", "kay", "mccarthy", "perlman", "wozniak", "curie", "noether",
          "shannon", "babbage", "goldberg", "pike"]


class Records:
    """The ``containers`` table, and the container events (docker's attributes)."""

    def __init__(self, db: DB, events) -> None:
        self.db = db
        self.events = events

    def save(self, c: Container) -> None:
        with self.db.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO containers(id, name, image_id, doc) "
                         "VALUES (?,?,?,?)", (c.Id, c.short_name, c.Image, model.encode(c)))

    def delete(self, cid: str) -> None:
        with self.db.tx() as conn:
            conn.execute("DELETE FROM containers WHERE id = ?", (cid,))

    def get(self, ref: str) -> Container:
        """By full ID, name (with or without /), or unique ID prefix."""
        row = self.db.one("SELECT doc FROM containers WHERE id = ? OR name = ?", ref,
                          ref.lstrip("/"))
        if row is None and ref and all(ch in "0123456789abcdef" for ch in ref):
            rows = self.db.query("SELECT doc FROM containers WHERE id LIKE ?", ref + "%")
            if len(rows) > 1:
                raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
            row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"No such container: {ref}")
        return model.decode(row["doc"])

    def all(self) -> list[Container]:
        return [model.decode(r["doc"]) for r in self.db.query("SELECT doc FROM containers")]

    def running(self, cid: str) -> bool:
        try:
            return self.get(cid).State.Running
        except NotFound:
            return False

    def emit(self, c: Container, action: str, **extra: str) -> None:
        """A container event; docker's attributes: the labels, image and name."""
        attrs = {**(c.Config.Labels or {}), "image": c.Config.Image, "name": c.Name[1:],
                 **extra}
        self.events.emit("container", action, c.Id, attrs)

    # -- names ------------------------------------------------------------------------
    def claim_name(self, name: str, cid: str | None = None) -> str:
        """``name`` checked and free (or already ``cid``'s); returned without its slash."""
        if not names.valid(name.removeprefix("/")):
            raise InvalidArgument(f"Invalid container name ({name}), only "
                                  f"{names.ALLOWED} are allowed")
        name = name.lstrip("/")
        other = self.db.one("SELECT id FROM containers WHERE name = ?", name)
        if other and other["id"] != cid:
            raise Conflict(f'Conflict. The container name "/{name}" is already in use by '
                           f'container "{other["id"]}". You have to remove (or rename) that '
                           "container to be able to reuse that name.")
        return name

    def generate_name(self) -> str:
        for _ in range(100):
            n = f"{random.choice(_ADJ)}_{random.choice(_NAMES)}"
            if not self.db.one("SELECT 1 FROM containers WHERE name = ?", n):
                return n
        return f"{random.choice(_ADJ)}_{random.choice(_NAMES)}{random.randint(0, 99)}"

    def rename(self, ref: str, new: str) -> None:
        c = self.get(ref)
        c.Name = "/" + self.claim_name(new, c.Id)
        self.save(c)

    # -- who uses what ------------------------------------------------------------------
    def users_of_image(self, image_id: str) -> list[tuple[str, bool]]:
        out = []
        for r in self.db.query("SELECT doc FROM containers WHERE image_id = ?", image_id):
            c = model.decode(r["doc"])
            out.append((c.Id, c.State.Running))
        return out

    def volume_users(self) -> dict[str, list[str]]:
        """volume name -> the IDs of the containers that mount it (running or not)."""
        out: dict[str, list[str]] = {}
        for c in self.all():
            for p in c._MountPoints:
                if p.Type == "volume":
                    out.setdefault(p.Name, []).append(c.Id)
        return out

    def network_users(self, network_name: str) -> list[str]:
        """IDs of the containers with an endpoint on the network."""
        out = []
        for c in self.all():
            ep = c.NetworkSettings.Networks.get(network_name)
            if ep is not None and ep.EndpointID:
                out.append(c.Id)
        return out

    # -- queries -------------------------------------------------------------------
    def list(self, all_: bool, filters: dict[str, list[str]], images,
             limit: int = -1) -> list[Container]:
        """docker ps: newest first; running ones unless ``all_`` (or a limit)."""
        return _select(self.all(), all_, filters, images, limit)

    def listed(self, all_: bool, filters: dict[str, list[str]], images,
               limit: int = -1) -> list[tuple[Container, list[str]]]:
        """GET /containers/json: ``list``, each with the names the links to it give it
        ("/me/alias"), from one read of the records."""
        every = self.all()
        links: dict[str, list[str]] = {}
        for other in every:
            for link in other.HostConfig.Links or []:
                target, _, alias = link.partition(":")
                links.setdefault(target, []).append(alias)
        return [(c, links.get(c.Name, [])) for c in _select(every, all_, filters, images, limit)]


def _select(every: list[Container], all_: bool, filters: dict[str, list[str]], images,
            limit: int) -> list[Container]:
    by_ref = {}
    for c in every:
        by_ref[c.Id] = by_ref[c.Name] = by_ref[c.Name[1:]] = c

    def get(ref: str) -> Container:
        found = by_ref.get(ref) or [c for c in every if c.Id.startswith(ref)]
        if isinstance(found, Container):
            return found
        if len(found) != 1:
            raise NotFound(f"No such container: {ref}")
        return found[0]

    query = Query(filters, images, get)
    out = []
    for c in sorted(every, key=lambda c: c.Created, reverse=True):
        if not all_ and not c.State.Running and limit <= 0:
            continue
        if not query.matches(c):
            continue
        out.append(c)
    if limit > 0:
        out = out[:limit]
    return out
