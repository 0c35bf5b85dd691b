"""diff and commit: a container's writable layer read as changes or as a new image.

cp and commit pause a running container while they read or write its files
(``paused_for``), as docker does: its processes cannot swap a directory for a
symlink meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile

import msgspec

from dockling import clock
from dockling.containers import spec
from dockling.containers.model import Container
from dockling.containers.state import Status
from dockling.errors import Conflict, InternalError, InvalidArgument, NotFound
from dockling.formats import pack
from dockling.images import archive
from dockling.images.model import ContainerConfig, History, RootFS

log = logging.getLogger("dockling.containers")


def changes(m, ref: str) -> list[dict]:
    """docker diff: the writable layer against the image's layers."""
    c = m.records.get(ref)
    img = m.images.load(c.Image)
    lowers = m.images.layers.lower_dirs(m.images.layers.chain(img.diff_ids))
    out = pack.changes(os.path.join(m.paths.container(c.Id), "upper"), lowers,
                       spec.MOUNT_STUBS)
    return _without_stub_parents(out)


@contextlib.contextmanager
def paused_for(m, c: Container, pause: bool = True):
    """Freeze a running container while its files are read or written (cp,
    commit), as docker does: its processes cannot swap a directory for a
    symlink meanwhile. The record says paused (a daemon killed meanwhile
    leaves a container `unpause` recovers); pause and unpause events, as
    docker's commit gives. A container paused already stays paused. One that
    cannot be frozen (no freezer, stopped meanwhile) is worked on as it is:
    the descriptor walks alone keep the work inside its root."""
    paused = False
    if pause and c.State.Status == Status.RUNNING.value:
        try:
            m.lifecycle.pause(c.Id)
            paused = True
        except (Conflict, InvalidArgument, InternalError, NotFound) as err:
            # NotFound: it exited meanwhile and its runtime state is gone (moby's
            # commit ignores the pause's error too)
            log.warning("container %s not paused: %s", c.Id[:12], err)
    try:
        yield
    finally:
        if paused:
            try:
                m.lifecycle.unpause(c.Id)
            except (Conflict, NotFound):
                pass  # unpaused, stopped or gone meanwhile


def commit(m, ref: str, repo: str | None, tag: str | None, comment: str = "",
           author: str = "", changes: list[str] | None = None,
           config: dict | None = None, pause: bool = True) -> str:
    """The container's upper dir becomes a new layer on top of its image.

    ``pause``: docker's commit pauses a running container (the API's
    ``pause``, true unless given false)."""
    c = m.records.get(ref)
    img = m.images.load(c.Image)
    upper = os.path.join(m.paths.container(c.Id), "upper")
    chains = m.images.layers.chain(img.diff_ids)
    with paused_for(m, c, pause):
        with tempfile.TemporaryFile(dir=m.paths.root) as tmp:
            pack.write_layer(upper, tmp, exclude=spec.MOUNT_STUBS)
            tmp.seek(0)
            layer = m.images.layers.register(tmp, chains[-1] if chains else None)
        # as JSON: the commit request's config (a body) is merged over it key by key
        new_cfg = {k: v for k, v in msgspec.to_builtins(c.Config).items()
                   if k not in ("Hostname", "Domainname", "AttachStdin", "AttachStdout",
                                "AttachStderr", "Image")}
        new_cfg.update(config or {})
        image_cfg = _image_config(new_cfg)
        archive.apply_changes(image_cfg, changes or [])
        created = clock.now()
        cfg = img.config  # the image's own copy (ImageStore.config decodes anew)
        cfg.created, cfg.config, cfg.container = created, image_cfg, c.Id
        cfg.author = author or cfg.author
        cfg.rootfs = RootFS(type="layers", diff_ids=[*img.diff_ids, layer.diff_id])
        cfg.history = [*(cfg.history or []),
                       History(created=created, created_by=" ".join([c.Path, *c.Args]),
                               comment=comment, author=author)]
        image_id = m.images.add(cfg, parent=img.id)
        if repo:
            m.images.tag(image_id, f"{repo}:{tag}" if tag else repo)
        m.records.emit(c, "commit")
    return image_id


def _image_config(doc: dict) -> ContainerConfig:
    """The committed image's ``config`` from the container's config (and the
    commit request's): docker's words for a field of the wrong type."""
    try:
        return msgspec.convert(doc, ContainerConfig)
    except msgspec.ValidationError as err:
        raise InvalidArgument(f"json: cannot unmarshal: {err}") from None


def _without_stub_parents(changes: list[dict]) -> list[dict]:
    """Drop "/etc modified" when all that changed there are the mount stubs (hosts,
    hostname, resolv.conf): docker keeps those in its init layer, so its diff of a
    container that only touched /test is [/test added]."""
    parents = {"/" + os.path.dirname(s) for s in spec.MOUNT_STUBS if "/" in s}
    busy = {p for p in parents for ch in changes if ch["Path"].startswith(p + "/")}
    return [ch for ch in changes
            if not (ch["Kind"] == 0 and ch["Path"] in parents and ch["Path"] not in busy)]
