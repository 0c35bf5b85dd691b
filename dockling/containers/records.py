"""Container records: the SQLite rows, names, lookups, and the list's filters.

A record is docker's ContainerJSON (a dict in docker's field names) stored as
JSON in its row, with two private keys ``inspect`` leaves out
(``MountPoints``, ``HasBeenManuallyStopped``). Lookups go by full ID, name
(with or without its slash) or unique ID prefix, as docker's do.
"""

from __future__ import annotations

import json
import random
import re

from dockling import clock, names
from dockling.containers import model
from dockling.errors import Conflict, InvalidArgument, NotFound
from dockling.filters import labels_match
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

    def save(self, c: dict) -> None:
        with self.db.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO containers(id, name, image_id, doc) "
                         "VALUES (?,?,?,?)", (c["Id"], c["Name"].lstrip("/"), c["Image"],
                                              json.dumps(c)))

    def delete(self, cid: str) -> None:
        with self.db.tx() as conn:
            conn.execute("DELETE FROM containers WHERE id = ?", (cid,))

    def get(self, ref: str) -> dict:
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
        return json.loads(row["doc"])

    def all(self) -> list[dict]:
        return [json.loads(r["doc"]) for r in self.db.query("SELECT doc FROM containers")]

    def running(self, cid: str) -> bool:
        try:
            return self.get(cid)["State"]["Running"]
        except NotFound:
            return False

    def emit(self, c: dict, action: str, **extra: str) -> None:
        """A container event; docker's attributes: the labels, image and name."""
        attrs = {**(c["Config"].get("Labels") or {}), "image": c["Config"].get("Image", ""),
                 "name": c["Name"][1:], **extra}
        self.events.emit("container", action, c["Id"], attrs)

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
        c["Name"] = "/" + self.claim_name(new, c["Id"])
        self.save(c)

    # -- who uses what ------------------------------------------------------------------
    def users_of_image(self, image_id: str) -> list[tuple[str, bool]]:
        out = []
        for r in self.db.query("SELECT doc FROM containers WHERE image_id = ?", image_id):
            c = json.loads(r["doc"])
            out.append((c["Id"], c["State"]["Running"]))
        return out

    def volume_users(self) -> dict[str, list[str]]:
        """volume name -> the IDs of the containers that mount it (running or not)."""
        out: dict[str, list[str]] = {}
        for c in self.all():
            for p in c.get("MountPoints") or []:
                if p["Type"] == "volume":
                    out.setdefault(p["Name"], []).append(c["Id"])
        return out

    def network_users(self, network_name: str) -> list[str]:
        """IDs of the containers with an endpoint on the network."""
        return [c["Id"] for c in self.all()
                if (c["NetworkSettings"]["Networks"].get(network_name) or {}).get("EndpointID")]

    # -- queries -------------------------------------------------------------------
    def inspect(self, ref: str) -> dict:
        """The record as docker's inspect shows it: private keys left out."""
        c = self.get(ref)
        for private in ("MountPoints", "HasBeenManuallyStopped"):
            c.pop(private, None)
        for ep in c["NetworkSettings"]["Networks"].values():
            for key in [k for k in ep if k.startswith("_")]:
                del ep[key]
        return c

    def list(self, all_: bool, filters: dict[str, list[str]], images,
             limit: int = -1) -> list[dict]:
        """docker ps: newest first; running ones unless ``all_`` (or a limit)."""
        return _select(self.all(), all_, filters, images, limit)

    def summaries(self, all_: bool, filters: dict[str, list[str]], images,
                  limit: int = -1) -> list[dict]:
        """GET /containers/json: ``list`` as docker's rows, each named also by the
        links to it ("/me/alias"), from one read of the records."""
        every = self.all()
        links: dict[str, list[str]] = {}
        for other in every:
            for link in other["HostConfig"].get("Links") or []:
                target, _, alias = link.partition(":")
                links.setdefault(target, []).append(alias)
        return [summary(c, links.get(c["Name"], []))
                for c in _select(every, all_, filters, images, limit)]


def _select(every: list[dict], all_: bool, filters: dict[str, list[str]], images,
            limit: int) -> list[dict]:
    out = []
    for c in sorted(every, key=lambda c: c["Created"], reverse=True):
        if not all_ and not c["State"]["Running"] and limit <= 0:
            continue
        if not matches(c, filters, images):
            continue
        out.append(c)
    if limit > 0:
        out = out[:limit]
    return out


def summary(c: dict, link_names: list[str] = ()) -> dict:
    """A record as a row of docker's container list."""
    cfg = c["Config"]
    return {
        "Id": c["Id"],
        "Names": [c["Name"], *link_names],
        "Image": cfg.get("Image", ""),
        "ImageID": c["Image"],
        "Command": " ".join([c["Path"], *c["Args"]]),
        "Created": int(clock.unix(c["Created"])),
        "Ports": port_list(c["NetworkSettings"].get("Ports") or {}),
        "Labels": cfg.get("Labels") or {},
        "State": c["State"]["Status"],
        "Status": model.status_text(c["State"]),
        "HostConfig": {"NetworkMode": c["HostConfig"].get("NetworkMode", "default")},
        "NetworkSettings": {"Networks": c["NetworkSettings"]["Networks"]},
        "Mounts": c.get("Mounts", []),
    }


def port_list(ports: dict) -> list[dict]:
    """NetworkSettings.Ports -> the Ports of the container list (docker ps)."""
    out = []
    for port, binds in ports.items():
        num, _, proto = port.partition("/")
        if not binds:
            out.append({"PrivatePort": int(num), "Type": proto or "tcp"})
        for b in binds or []:
            out.append({"IP": b["HostIp"], "PrivatePort": int(num),
                        "PublicPort": int(b["HostPort"]), "Type": proto or "tcp"})
    return out


def matches(c: dict, filters: dict[str, list[str]], images) -> bool:
    """docker ps's filters: values of one key are OR-ed (label's AND-ed), keys AND-ed."""
    for key, values in filters.items():
        if not values:
            continue
        if key == "status" and c["State"]["Status"] not in values:
            return False
        # docker matches the name with and without its leading slash (moby#37728)
        if key == "name" and not any(re.search(v, c["Name"]) or re.search(v, c["Name"][1:])
                                     for v in values):
            return False
        if key == "id" and not any(c["Id"].startswith(v) for v in values):
            return False
        if key == "label" and not labels_match(c["Config"].get("Labels") or {},
                                               {"label": values}):
            return False
        if key == "ancestor" and not any(_descends(c, v, images) for v in values):
            return False
        if key == "exited" and (c["State"]["Status"] != "exited" or str(
                c["State"]["ExitCode"]) not in values):
            return False
    return True


def _descends(c: dict, ref: str, images) -> bool:
    try:
        return images.resolve(ref) == c["Image"]
    except (NotFound, InvalidArgument):
        return c["Config"].get("Image") == ref
