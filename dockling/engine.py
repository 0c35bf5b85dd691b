"""dockling.Engine: the engine in-process, without the daemon.

For Python programs and test suites that want containers without a socket::

    with Engine(root="/var/lib/dockling", exec_root="/run/dockling") as e:
        c = e.containers.run("busybox", ["echo", "hi"])
        print(c.logs().decode(), end="")
        c.remove()

It is the daemon's engine, not a second one: ``daemon.main.from_config``
builds the same managers from daemon.json's keys (``config``), and
``Daemon.reconcile`` settles what an earlier daemon or Engine left, as a
daemon's start does. The managers' async methods run on a private event loop
in a thread (they need one: exit watchers, health checks, the embedded DNS);
each call here waits for its result, so this API is synchronous and its
objects (``Container``) are thin handles holding an ID.

Containers get shims as under the daemon, so they outlive the Engine and the
program; a daemon started later on the same root and exec root re-attaches to
them. One engine per exec root: the Engine takes the daemon's pid file lock
(Conflict while a daemon runs there). Like the daemon, it runs as root, and
while it is open the process umask is the daemon's (077), which the shims it
starts inherit; the caller's is restored at close.

What does not fit a library is left to the API: attach, exec, hijacked
streams. Errors are dockling.errors' classes, as the API's statuses are.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import Iterable

from dockling.errors import Forbidden

DEFAULT_ROOT = "/var/lib/dockling"
DEFAULT_EXEC_ROOT = "/run/dockling"

__all__ = ["Container", "Engine"]


class Engine:
    """The engine on ``root`` (records, images, layers, volumes) and ``exec_root``
    (shims, runtime state). ``config``: daemon.json's keys (``bridge``, ``bip``,
    ``iptables-chain-prefix``, ``registry-mirrors``...)."""

    def __init__(self, root: str = DEFAULT_ROOT, exec_root: str = DEFAULT_EXEC_ROOT, *,
                 config: dict | None = None, cgroup_parent: str | None = None,
                 runtime: str | None = None, init_path: str | None = None) -> None:
        from dockling.daemon import layout
        from dockling.daemon.main import from_config, hold_pidfile

        if os.geteuid() != 0:
            raise Forbidden("dockling.Engine must run as root (namespaces, mounts, cgroups)")
        self.root, self.exec_root = os.path.abspath(root), os.path.abspath(exec_root)
        self._closed = True
        self._umask = os.umask(layout.UMASK)  # the daemon's: shims inherit it
        self._pidfile = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="dockling-engine")
        self._thread.start()
        try:
            self._pidfile = hold_pidfile(os.path.join(self.exec_root, "dockling.pid"))
            self._daemon = from_config(self.root, self.exec_root, dict(config or {}),
                                       cgroup_parent, runtime, init_path)
            self._closed = False
            self.call(self._daemon.reconcile)
        except BaseException:
            self.close()
            raise
        self.containers = Containers(self)
        self.images = Images(self)
        self.networks = Networks(self)
        self.volumes = Volumes(self)

    # -- running engine code on the loop ------------------------------------------------
    def run(self, coro):
        """Run a coroutine on the engine's loop; its result (or its error)."""
        if self._closed:
            coro.close()
            raise RuntimeError("dockling.Engine is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def call(self, fn, *args, **kw):
        """Call a synchronous engine method on the loop's thread: the managers'
        state belongs to it (tasks they spawn, timers, event subscribers)."""
        async def on_loop():
            return fn(*args, **kw)
        return self.run(on_loop())

    @property
    def daemon(self):
        """The managers themselves (``.containers``, ``.images``, ``.networks``,
        ``.volumes``, ``.builder``): their sync methods must be called through
        ``call`` and their coroutines through ``run``."""
        return self._daemon

    # -- lifetime ----------------------------------------------------------------------
    def close(self) -> None:
        """Stop watching containers (they keep running, each with its shim) and
        release the root for a daemon or another Engine."""
        if not self._closed:
            try:
                self.run(self._shutdown())
            finally:
                self._closed = True
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        if not self._loop.is_closed():
            self._loop.close()
        if getattr(self, "_daemon", None) is not None:
            self._daemon.db.close()
            from dockling.shim import forkserver

            forkserver.stop()  # it would otherwise stay until this program exits
            self._daemon = None
        if self._pidfile is not None:
            os.unlink(self._pidfile.name)
            self._pidfile.close()  # the lock goes with it
            self._pidfile = None
        os.umask(self._umask)

    async def _shutdown(self) -> None:
        """As the daemon's serve() ends: rules written, cluster threads ended, then
        what the managers still run (exit watchers, health checks, DNS) cancelled and
        the worker threads (trees being removed) waited for."""
        d = self._daemon
        await asyncio.to_thread(d.networks.iptables.close)
        await asyncio.to_thread(d.networks.shutdown)
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.get_running_loop().shutdown_default_executor()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- containers ------------------------------------------------------------------------

class Container:
    """A container by ID; every call asks the engine (nothing is cached but ``id``)."""

    def __init__(self, engine: Engine, cid: str) -> None:
        self._e = engine
        self.id = cid

    def __repr__(self) -> str:
        return f"<Container {self.id[:12]}>"

    @property
    def attrs(self) -> dict:
        """docker's ContainerJSON (``inspect``)."""
        import msgspec

        from dockling.api import complete
        from dockling.runtime import api_name

        m = self._e.daemon.containers
        return complete.container_inspect(msgspec.to_builtins(self._e.call(m.get, self.id)),
                                          api_name(m.paths.runtime))

    @property
    def name(self) -> str:
        return self.attrs["Name"].lstrip("/")

    @property
    def status(self) -> str:
        return self.attrs["State"]["Status"]

    def start(self) -> None:
        self._e.run(self._e.daemon.containers.start(self.id))

    def stop(self, timeout: int | None = None) -> None:
        self._e.run(self._e.daemon.containers.stop(self.id, timeout))

    def kill(self, signal: int = 9) -> None:
        self._e.call(self._e.daemon.containers.kill, self.id, signal)

    def wait(self) -> int:
        """Until the container is not running; its exit code."""
        return self._e.run(self._e.daemon.containers.wait(self.id))

    def logs(self, stdout: bool = True, stderr: bool = True, tail: str = "all",
             timestamps: bool = False) -> bytes:
        """What the container wrote so far, both streams in order (docker-py's
        ``logs()``)."""
        return self._e.run(_logs(self._e.daemon.containers, self.id, stdout=stdout,
                                 stderr=stderr, tail=tail, timestamps=timestamps))

    def remove(self, force: bool = False, volumes: bool = False) -> None:
        """rm (``force``: kill a running one first, as docker's rm -f; ``volumes``:
        its anonymous volumes too)."""
        self._e.run(_remove(self._e.daemon, self.id, force, volumes))


async def _logs(m, cid: str, **kw) -> bytes:
    from dockling.formats.stdcopy import Frames

    tty = m.get(cid).Config.Tty
    frames, out = Frames(), []
    async for chunk in m.logs(cid, **kw):
        out += [chunk] if tty else [data for _, data in frames.feed(chunk)]
    return b"".join(out)


async def _remove(d, cid: str, force: bool, volumes: bool) -> None:
    """As the API's DELETE /containers/{id} does it (docker's rm -f: kill, die,
    destroy; the ports unpublished when rm returns)."""
    m = d.containers
    c = m.get(cid)
    if force and c.State.Running and not c.State.Restarting:
        await m.kill_and_wait(cid)
    m.remove(cid, force=force, volumes=volumes)
    await d.networks.iptables.idle()


class Containers:
    def __init__(self, engine: Engine) -> None:
        self._e = engine

    def create(self, image: str, command: list[str] | str | None = None, *,
               name: str | None = None, env: dict | list | None = None,
               labels: dict | None = None, host_config: dict | None = None,
               networking_config: dict | None = None, **config) -> Container:
        """docker create. ``config``: more ContainerConfig fields in docker's names
        (``Entrypoint``, ``WorkingDir``, ``Tty``...); ``host_config``: HostConfig."""
        body = {**config, "Image": image}
        if command is not None:
            body["Cmd"] = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        if env is not None:
            body["Env"] = [f"{k}={v}" for k, v in env.items()] if isinstance(env, dict) \
                else list(env)
        if labels is not None:
            body["Labels"] = dict(labels)
        body["HostConfig"] = dict(host_config or {})
        if networking_config is not None:
            body["NetworkingConfig"] = networking_config
        from dockling import gojson
        from dockling.api import schema
        from dockling.containers.model import CreateRequest

        request = gojson.convert(schema.strslices(body), CreateRequest)
        c = self._e.call(self._e.daemon.containers.create, request, name, [])
        return Container(self._e, c.Id)

    def run(self, image: str, command: list[str] | str | None = None, *,
            detach: bool = False, **options) -> Container:
        """create and start; unless ``detach``, return once the container exited
        (its output is then in ``logs()``, its code in ``wait()``)."""
        c = self.create(image, command, **options)
        c.start()
        if not detach:
            c.wait()
        return c

    def get(self, ref: str) -> Container:
        """By ID, ID prefix or name (NotFound)."""
        return Container(self._e, self._e.call(self._e.daemon.containers.get, ref).Id)

    def list(self, all: bool = False,  # noqa: A002 - docker-py's name
             filters: dict | None = None) -> list[Container]:
        """ps (``all``: -a; ``filters``: docker's, {"label": ["a=b"]})."""
        found = self._e.call(self._e.daemon.containers.list, all,
                             {k: list(v) for k, v in (filters or {}).items()})
        return [Container(self._e, c.Id) for c in found]


# -- images ----------------------------------------------------------------------------

class Images:
    def __init__(self, engine: Engine) -> None:
        self._e = engine

    def import_(self, source: str, ref: str | None = None, changes: Iterable[str] = (),
                message: str = "") -> str:
        """docker import: ``source`` a tar (plain or compressed) or a directory,
        the image's root filesystem; tagged ``ref``. The image ID."""
        return self._e.run(self._import(source, ref, list(changes), message))

    async def _import(self, source: str, ref: str | None, changes: list[str],
                      message: str) -> str:
        from dockling.background import blocking
        from dockling.images import archive

        d = self._e.daemon
        with tempfile.TemporaryFile(dir=d.root) if os.path.isdir(source) else \
                open(source, "rb") as f:
            if os.path.isdir(source):
                from dockling.formats import pack

                await blocking(pack.write_layer, source, f)
                f.seek(0)
            image_id = await blocking(archive.import_rootfs, d.images, f, changes, message,
                                      source)
        if ref:
            d.images.tag(image_id, ref)
        d.events.emit("image", "import", image_id)
        return image_id

    def pull(self, ref: str, platform: str | None = None) -> str:
        """docker pull (``name[:tag|@digest]``, latest by default); the image ID."""
        from dockling.formats import reference

        r = reference.parse(ref)
        return self._e.run(self._pull(r, platform))

    async def _pull(self, r, platform: str | None) -> str:
        d = self._e.daemon
        stream = d.puller.pull(r, None, platform)
        try:
            async for _ in stream:  # the progress messages; an error raises here
                pass
        finally:
            await stream.aclose()
        d.events.emit("image", "pull", str(r), {"name": str(r)})
        return d.images.resolve(str(r))

    def get(self, ref: str) -> dict:
        """docker image inspect (NotFound)."""
        import msgspec

        images = self._e.daemon.images
        return msgspec.to_builtins(self._e.call(lambda: images.inspect(images.get(ref))))

    def exists(self, ref: str) -> bool:
        return self._e.call(self._e.daemon.images.exists, ref)

    def list(self, all: bool = False) -> list[dict]:  # noqa: A002 - docker-py's name
        """docker images: ImageSummary documents."""
        import msgspec

        images = self._e.daemon.images
        return msgspec.to_builtins(
            self._e.call(lambda: [images.summary(i) for i in images.listed(all)]))

    def tag(self, ref: str, new: str) -> None:
        images = self._e.daemon.images
        self._e.call(lambda: images.tag(images.resolve(ref), new))

    def remove(self, ref: str, force: bool = False, prune: bool = True) -> list[dict]:
        """docker rmi: what was untagged and deleted ({"Untagged": ...}, {"Deleted": ...})."""
        import msgspec

        d = self._e.daemon

        def rmi() -> list[dict]:
            image_id = d.images.resolve(ref)
            out = d.images.remove(ref, force, d.containers.users_of_image, prune=prune)
            for item in out:
                d.events.emit("image", *item.event(image_id))
            return msgspec.to_builtins(out)
        return self._e.call(rmi)

    def build(self, path: str, tag: str | None = None, dockerfile: str = "Dockerfile",
              *, buildargs: dict | None = None, nocache: bool = False,
              target: str = "", log=None) -> str:
        """docker build of the context directory ``path`` (its .dockerignore
        applies); the image ID. ``log``: called with each line of the build's
        output. A failed step raises (CommandFailed for RUN)."""
        return self._e.run(self._build(path, tag, dockerfile, buildargs or {}, nocache,
                                       target, log))

    async def _build(self, path: str, tag: str | None, dockerfile: str, buildargs: dict,
                     nocache: bool, target: str, log) -> str:
        from dockling.background import blocking
        from dockling.builder import context as ctxlib
        from dockling.builder.executor import Options
        from dockling.formats import pack

        d = self._e.daemon
        opts = Options(tags=[tag] if tag else [], dockerfile=dockerfile, nocache=nocache,
                       buildargs={str(k): str(v) for k, v in buildargs.items()}, target=target)
        with tempfile.TemporaryFile(dir=d.root) as f:
            await blocking(pack.write_layer, os.path.abspath(path), f)
            f.seek(0)
            ctx = await blocking(ctxlib.unpack, f, d.builder.data_root, dockerfile)
        result: dict = {}

        def emit(msg: dict) -> None:
            if "aux" in msg and "ID" in msg["aux"]:
                result["id"] = msg["aux"]["ID"]
            if log is not None and msg.get("stream"):
                log(msg["stream"])
        try:
            image_id = await d.builder.build(ctx, opts, emit)
        finally:
            await asyncio.to_thread(ctx.close)
        return image_id or result.get("id", "")


# -- networks and volumes --------------------------------------------------------------

class Networks:
    def __init__(self, engine: Engine) -> None:
        self._e = engine

    def create(self, name: str, driver: str = "bridge", **options) -> dict:
        """docker network create; ``options``: NetworkCreate's fields in docker's names
        (``IPAM``, ``Options``, ``Labels``, ``Internal``...). The network's document."""
        from dockling.network import model

        req = model.create_request({**options, "Name": name, "Driver": driver})
        return model.document(self._e.run(self._e.daemon.networks.create(req)))

    def get(self, ref: str) -> dict:
        d = self._e.daemon
        return self._e.call(lambda: self._document(d.networks.store.get(ref)))

    def list(self) -> list[dict]:
        d = self._e.daemon
        return self._e.call(lambda: [self._document(n) for n in d.networks.store.all()])

    def _document(self, net) -> dict:
        """docker's inspect JSON of a network (with its Containers)."""
        from dockling.network import model

        d = self._e.daemon
        return model.document(net, d.networks.endpoints(net, d.containers.all()))

    def remove(self, ref: str) -> None:
        self._e.run(self._remove(ref))

    async def _remove(self, ref: str) -> None:
        d = self._e.daemon
        net = d.networks.store.get(ref)
        users = d.containers.network_users(net.Name)
        if net.Driver == "overlay":  # etcd round trips: not on the loop
            await asyncio.to_thread(d.networks.remove, net.Id, users)
        else:
            d.networks.remove(net.Id, users)
        await d.networks.iptables.idle()


class Volumes:
    """Volumes as docker's Volume JSON (what ``docker volume inspect`` shows): the
    records are ``volumes.model.Volume`` structs, and this is a front door like the API."""

    def __init__(self, engine: Engine) -> None:
        self._e = engine

    def create(self, name: str | None = None, driver: str = "local",
               driver_opts: dict | None = None, labels: dict | None = None) -> dict:
        d = self._e.daemon

        return _volume_json(self._e.call(d.volumes.create, name, driver, driver_opts, labels))

    def get(self, name: str) -> dict:
        return _volume_json(self._e.call(self._e.daemon.volumes.get, name))

    def list(self) -> list[dict]:
        return [_volume_json(v) for v in self._e.call(self._e.daemon.volumes.all)]

    def remove(self, name: str, force: bool = False) -> None:
        d = self._e.daemon

        def remove() -> None:
            users = d.containers.volume_users().get(name, [])
            d.volumes.remove(name, users, force=force)
        self._e.call(remove)


def _volume_json(vol) -> dict:
    """A volume record as docker's JSON: its fields are docker's keys."""
    import msgspec

    return msgspec.to_builtins(vol)
