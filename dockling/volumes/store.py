"""The local volume driver: volumes/<name>/_data, optionally a mount of its own.

A volume created with driver options (``type``, ``device``, ``o`` — e.g. a
tmpfs) is mounted on its _data directory when a container first uses it and
unmounted when the last one stops, like docker's local driver. The record
(``model.Volume``, the API's Volume JSON) lives in SQLite.

Modes: volumes/ and each volumes/<name> 0700 (no other host user reaches a
volume's files: setuid binaries included); _data 0755 as docker makes it,
whatever the daemon's umask, since containers' users read it through the
mount. A removed volume's tree is deleted in a worker thread.
"""

from __future__ import annotations

import os
import secrets

from dockling import background, clock, names
from dockling.disk import tree_size
from dockling.errors import Conflict, InternalError, InvalidArgument, NotFound
from dockling.filters import labels_match
from dockling.kernel import syscalls as sc
from dockling.store.db import DB
from dockling.volumes import model
from dockling.volumes.model import Volume

_LOCAL_OPTS = ("type", "device", "o")
ANONYMOUS_LABEL = "com.docker.volume.anonymous"


class VolumeStore:
    """Volume records and their directories; sends docker's volume create and destroy
    events itself (named, anonymous, prune's and rm -v's alike) when given the bus."""

    def __init__(self, db: DB, root: str, events=None) -> None:
        self.db = db
        self.events = events
        self.root = os.path.join(root, "volumes")
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        os.chmod(self.root, 0o700)

    def data_dir(self, name: str) -> str:
        return os.path.join(self.root, name, "_data")

    # -- records -------------------------------------------------------------------
    def create(self, name: str | None = None, driver: str = "local",
               opts: dict | None = None, labels: dict | None = None,
               anonymous: bool = False) -> Volume:
        driver = driver or "local"
        if driver != "local":
            raise NotFound(f"error looking up volume plugin {driver}: plugin \"{driver}\" "
                           "not found")
        opts = _str_map(opts)
        labels = _str_map(labels)
        if not name:
            name = secrets.token_hex(32)
            anonymous = True
        if anonymous:
            labels.setdefault(ANONYMOUS_LABEL, "")
        if not names.valid(name):
            raise InvalidArgument(
                f'create {name}: "{name}" includes invalid characters for a local volume '
                f'name, only "{names.ALLOWED}" are allowed. If you intended to pass '
                "a host directory, use absolute path")
        for key in opts:
            if key not in _LOCAL_OPTS:
                raise InvalidArgument(f'create {name}: invalid option: "{key}"')
        if opts and "type" not in opts and "device" not in opts:
            raise InvalidArgument(f"create {name}: missing required option: \"device\"")
        existing = self._row(name)
        if existing is not None:
            return existing  # docker: creating an existing volume returns it
        os.makedirs(os.path.join(self.root, name), mode=0o700, exist_ok=True)
        os.makedirs(self.data_dir(name), mode=0o755, exist_ok=True)
        os.chmod(self.data_dir(name), 0o755)  # the umask (077) took its bits
        vol = Volume(CreatedAt=clock.now(), Driver=driver, Labels=labels,
                     Mountpoint=self.data_dir(name), Name=name, Options=opts or None,
                     Scope="local")
        with self.db.tx() as conn:
            conn.execute("INSERT INTO volumes(name, doc) VALUES (?, ?)",
                         (name, model.encode(vol)))
        self._emit("create", vol)
        return vol

    def _emit(self, action: str, vol: Volume) -> None:
        if self.events is not None:
            self.events.emit("volume", action, vol.Name, {"driver": vol.Driver})

    def _row(self, name: str) -> Volume | None:
        row = self.db.one("SELECT doc FROM volumes WHERE name = ?", name)
        return model.decode(row["doc"]) if row else None

    def get(self, name: str) -> Volume:
        vol = self._row(name)
        if vol is None:
            raise NotFound(f"get {name}: no such volume")
        return vol

    def all(self) -> list[Volume]:
        return [model.decode(r["doc"]) for r in self.db.query("SELECT doc FROM volumes "
                                                              "ORDER BY name")]

    def list(self, filters: dict[str, list[str]], users: dict[str, list[str]]) -> \
            list[Volume]:
        """``users``: volume name -> the containers that mount it (for dangling)."""
        out = []
        for vol in self.all():
            if _matches(vol, filters, users):
                out.append(vol)
        return out

    def remove(self, name: str, users: list[str], force: bool = False) -> None:
        vol = self._row(name)
        if vol is None:
            if force:
                return
            raise NotFound(f"get {name}: no such volume")
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        self.unmount(name)
        with self.db.tx() as conn:
            conn.execute("DELETE FROM volumes WHERE name = ?", (name,))
        self._emit("destroy", vol)
        background.remove_tree(os.path.join(self.root, name))

    def size(self, name: str) -> int:
        return tree_size(self.data_dir(name))

    # -- driver mounts --------------------------------------------------------------
    def mount(self, name: str) -> str:
        """The host path to bind into a container (mounting the volume if it has options)."""
        vol = self.get(name)
        path = self.data_dir(name)
        opts = vol.Options or {}
        if opts and not os.path.ismount(path):
            fstype = opts.get("type") or "none"
            data = opts.get("o", "")
            flags = 0
            if "bind" in data.split(","):
                flags |= sc.MS_BIND
                data = ",".join(o for o in data.split(",") if o != "bind")
            try:
                sc.mount(opts.get("device") or fstype, path, fstype, flags, data or None)
            except OSError as err:
                raise InternalError(f"error while mounting volume '{path}': failed to mount "
                                    f"local volume: mount {opts.get('device', '')}:{path}, "
                                    f"data: {data}: {err.strerror.lower()}") from err
        return path

    def unmount(self, name: str) -> None:
        path = self.data_dir(name)
        if os.path.ismount(path):
            try:
                sc.umount(path, sc.MNT_DETACH)
            except OSError:
                pass


def _str_map(m: dict | None) -> dict[str, str]:
    """Labels or driver options as Go decodes a map[string]string: a null value is ""."""
    return {k: "" if v is None else v for k, v in (m or {}).items()}


def _matches(vol: Volume, filters: dict[str, list[str]], users: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if not values:
            continue
        if key == "name" and not any(v in vol.Name for v in values):
            return False
        if key == "driver" and vol.Driver not in values:
            return False
        if key == "dangling":
            want = values[0].lower() in ("1", "true")
            if bool(not users.get(vol.Name)) != want:
                return False
        if key in ("label", "label!") and not labels_match(vol.Labels or {}, {key: values}):
            return False
    return True
