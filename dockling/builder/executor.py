"""Running a build: the stage graph, each step through the cache, RUN in a real
container, COPY/ADD into an overlay, and docker's classic message stream.

Stages: the target (``--target``, else the last stage) and the stages it
needs (``FROM <stage>``, ``COPY --from``) are built; the others are skipped,
and independent stages run at the same time (BuildKit does both; the classic
builder did neither). Steps are numbered over the stages built, in file order.

Every step goes through the cache (builder/cache.py) and, on a miss, makes an
image: metadata steps a config-only image, RUN/COPY/ADD one with a new layer
made from the overlay upper dir of the step (only what changed is read).
The final step's image is the build's result, tagged at the end.

Output is what the classic /build stream carries (moby builder/dockerfile):
``Step N/M : <instruction>``, `` ---> Using cache``, `` ---> Running in <id>``,
the RUN's output (stderr in red), ``Removing intermediate container <id>``,
`` ---> <image id>``, ``{"aux": {"ID": ...}}`` at each stage end,
``Successfully built <id>`` and ``Successfully tagged <name>``.

Cleanup: RUN containers are removed after their step, on success and on
failure (so a failed build leaves nothing in `ps -a`) unless ``rm`` is off;
a cancelled build (the client hung up) kills and removes its containers and
unmounts its step mounts before it ends.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import logging
import os
import posixpath
import shutil

import msgspec

from dockling import clock
from dockling.builder import cache as cachelib
from dockling.builder import context as ctxlib
from dockling.builder import copy as copylib
from dockling.builder import dockerfile as df
from dockling.builder import steps
from dockling.builder.expand import expand_word
from dockling.containers import users
from dockling.containers.model import CreateRequest, HostConfig, Ulimit
from dockling.containers.spec import MOUNT_STUBS
from dockling.errors import CommandFailed, DocklingError, InvalidArgument, NotFound
from dockling.formats import reference
from dockling.formats.stdcopy import Frames
from dockling.images.layers import unmount
from dockling.images.model import History, ImageConfig, RootFS
from dockling.images.store import short

log = logging.getLogger("dockling.builder")

HISTORY_COMMENT = "buildkit.dockerfile.v0"


@dataclasses.dataclass
class Options:
    """A build's settings: POST /build's query, translated."""

    tags: list[str] = dataclasses.field(default_factory=list)
    dockerfile: str = "Dockerfile"
    quiet: bool = False
    nocache: bool = False
    rm: bool = True
    forcerm: bool = False
    pull: bool = False
    buildargs: dict[str, str | None] = dataclasses.field(default_factory=dict)
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    target: str = ""
    network_mode: str = ""
    extra_hosts: list[str] = dataclasses.field(default_factory=list)
    shm_size: int = 0
    memory: int = 0
    memswap: int = 0
    cpu_shares: int = 0
    cpu_period: int = 0
    cpu_quota: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    ulimits: list[dict] = dataclasses.field(default_factory=list)
    platform: str = ""
    cache_from: list[str] = dataclasses.field(default_factory=list)
    registry_auth: dict = dataclasses.field(default_factory=dict)

    def host_config(self) -> HostConfig:
        """The HostConfig of a RUN step's container."""
        return HostConfig(
            NetworkMode=self.network_mode or "default",
            ExtraHosts=list(self.extra_hosts) or None, ShmSize=self.shm_size or 0,
            Memory=self.memory or 0, MemorySwap=self.memswap or 0,
            CpuShares=self.cpu_shares or 0, CpuPeriod=self.cpu_period or 0,
            CpuQuota=self.cpu_quota or 0, CpusetCpus=self.cpuset_cpus or "",
            CpusetMems=self.cpuset_mems or "",
            Ulimits=msgspec.convert(self.ulimits, list[Ulimit]) if self.ulimits else None)


async def _blocking(fn, *args):
    """Run slow file work in a thread; if the build is cancelled meanwhile,
    let the thread finish (it cannot be stopped) before cleanup runs."""
    fut = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        await asyncio.gather(fut, return_exceptions=True)
        raise


class _Plan:
    """The stages to build and the step numbers of their instructions."""

    def __init__(self, parsed, target: str, global_vars: dict[str, str],
                 labels: bool = False) -> None:
        self.stages = parsed.stages
        names = {s.name: s.index for s in self.stages if s.name}
        if target:
            if target.lower() not in names:
                raise InvalidArgument(f"failed to reach build target {target} in Dockerfile")
            self.target = names[target.lower()]
        else:
            if not self.stages:  # only ARGs: the classic builder's words
                raise InvalidArgument("No image was generated. Is your Dockerfile empty?")
            self.target = self.stages[-1].index
        self.names = names
        self.deps: dict[int, set[int]] = {}
        for s in self.stages:
            d = set()
            base = expand_word(s.base.image, global_vars).lower()
            if base in names and names[base] < s.index:
                d.add(names[base])
            for ins in s.instructions:
                ref = getattr(ins, "from_", None)
                if isinstance(ins, df.Copy) and ref:
                    idx = self.stage_ref(expand_word(ref, global_vars), s.index)
                    if idx is not None:
                        d.add(idx)
            self.deps[s.index] = d
        needed: set[int] = set()
        todo = [self.target]
        while todo:
            i = todo.pop()
            if i not in needed:
                needed.add(i)
                todo.extend(self.deps[i])
        self.needed = sorted(needed)
        self.numbers: dict[tuple[int, int], int] = {}
        # the classic builder's count: the ARGs before FROM are steps too, and
        # --label adds one LABEL step at the end
        n = len(parsed.meta_args)
        for i in self.needed:
            for j in range(len(self.stages[i].instructions) + 1):  # +1: the FROM
                n += 1
                self.numbers[(i, j)] = n
        self.total = n + (1 if labels else 0)

    def stage_ref(self, ref: str, before: int) -> int | None:
        """COPY --from=NAME|INDEX -> a stage index, or None (an image)."""
        if ref.isdigit():
            i = int(ref)
            if i >= before:
                raise InvalidArgument(f"invalid from flag value {ref}: refers to current or "
                                      "a later build stage")
            return i
        i = self.names.get(ref.lower())
        return i if i is not None and i < before else None


class Builder:
    def __init__(self, images, containers, cache: cachelib.BuildCache, puller, events,
                 data_root: str) -> None:
        self.images = images
        self.containers = containers
        self.cache = cache
        self.puller = puller
        self.events = events
        self.data_root = data_root

    async def build(self, ctx: ctxlib.Context, opts: Options, emit) -> str:
        """Build the context's Dockerfile; ``emit(message)`` gets the stream."""
        return await _Build(self, ctx, opts, emit).run()


class _Build:
    def __init__(self, b: Builder, ctx: ctxlib.Context, opts: Options, emit) -> None:
        self.b = b
        self.ctx = ctx
        self.opts = opts
        self._emit = emit
        self.used_args: set[str] = set()
        self.results: dict[int, asyncio.Future] = {}
        self.containers: set[str] = set()
        self.hits: list[str] = []  # cache keys reused: counted once, at the end

    # -- output -----------------------------------------------------------------------
    def say(self, text: str) -> None:
        if not self.opts.quiet:
            self._emit({"stream": text})

    def emit(self, msg: dict) -> None:
        if not self.opts.quiet:
            self._emit(msg)

    # -- the whole build --------------------------------------------------------------
    async def run(self) -> str:
        for t in self.opts.tags:
            r = reference.parse(t)
            if r.digest:
                raise InvalidArgument(f"invalid reference format: {t} has a digest")
        parsed = df.parse(self.ctx.dockerfile, self.ctx.dockerfile_name)
        self.escape = parsed.escape
        self.global_vars: dict[str, str] = {}
        auto = steps.platform_args(self.opts.platform or None)
        scope = steps.Stage(-1, None, "", ImageConfig())
        scope.args.update(auto)
        for a in parsed.meta_args:
            steps.declare_args(scope, a, self.opts.buildargs, {}, self.used_args)
        self.global_vars = {k: v for k, v in scope.args.items() if v is not None}
        self.plan = _Plan(parsed, self.opts.target, self.global_vars, bool(self.opts.labels))
        for n, a in enumerate(parsed.meta_args, start=1):
            self.say(f"Step {n}/{self.plan.total} : {a.original}\n")
        loop = asyncio.get_running_loop()
        self.results = {i: loop.create_future() for i in self.plan.needed}
        tasks = [asyncio.ensure_future(self._stage(self.plan.stages[i]))
                 for i in self.plan.needed]
        try:
            await self._stages(tasks)
        finally:
            if self.hits:
                await _blocking(self.b.cache.used, self.hits)
        return await self._finish()

    async def _stages(self, tasks: list[asyncio.Future]) -> None:
        try:
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for t in done:
                t.result()
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for f in self.results.values():
                if f.done() and not f.cancelled():
                    f.exception()  # retrieved: no "never retrieved" warnings
            raise

    async def _finish(self) -> str:
        """--label, the result's ID and its tags, after the stages ran."""
        final = self.results[self.plan.target].result()
        announced = final.image_id  # the stage's end sent its aux ID
        if self.opts.labels:
            await self._labels(final)
        image_id = final.image_id
        if not image_id:  # FROM scratch and nothing else
            image_id = self.b.images.add(final.image)
        unused = sorted(k for k in self.opts.buildargs
                        if k not in self.used_args and k not in steps.PROXY_ARGS)
        if unused:
            self.say(f"[Warning] One or more build-args [{' '.join(unused)}] were not "
                     "consumed\n")
        if image_id != announced:
            self.emit({"aux": {"ID": image_id}})
        self.say(f"Successfully built {short(image_id)}\n")
        seen = []
        for t in self.opts.tags:
            ref = self.b.images.tag(image_id, t)
            if ref.familiar in seen:
                continue
            seen.append(ref.familiar)
            self.b.events.emit("image", "tag", image_id, {"name": ref.familiar})
            self.say(f"Successfully tagged {ref.familiar}\n")
        if self.opts.quiet:
            self._emit({"stream": image_id + "\n"})
        return image_id

    async def _labels(self, st: steps.Stage) -> None:
        """--label: one more LABEL step at the end (the classic builder's way)."""
        n = self.plan.total
        text = "LABEL " + " ".join(f"{k}={v}" for k, v in sorted(self.opts.labels.items()))
        self.say(f"Step {n}/{n} : {text}\n")
        new = copy.deepcopy(st.image)
        probe = steps.Stage(st.index, st.name, st.image_id, new)
        probe.config.Labels = {**(probe.config.Labels or {}), **self.opts.labels}
        await self._commit_meta(st, new, text)

    # -- stages -----------------------------------------------------------------------
    async def _stage(self, s) -> None:
        fut = self.results[s.index]
        try:
            for d in self.plan.deps[s.index]:
                await asyncio.shield(self.results[d])
            st = await self._from(s)
            for j, ins in enumerate(s.instructions, start=1):
                n = self.plan.numbers[(s.index, j)]
                self.say(f"Step {n}/{self.plan.total} : {ins.original}\n")
                await self._step(st, ins)
            if st.image_id:
                self.emit({"aux": {"ID": st.image_id}})
            fut.set_result(st)
        except BaseException as err:
            if not fut.done():
                if isinstance(err, asyncio.CancelledError):
                    fut.cancel()
                else:
                    fut.set_exception(err)
            raise

    async def _from(self, s) -> steps.Stage:
        ins = s.base
        n = self.plan.numbers[(s.index, 0)]
        self.say(f"Step {n}/{self.plan.total} : {ins.original}\n")
        name = expand_word(ins.image, self.global_vars, self.escape)
        if not name:
            raise InvalidArgument("base name (" + ins.image + ") should not be blank")
        platform = expand_word(ins.platform, self.global_vars, self.escape) if ins.platform \
            else self.opts.platform
        if name.lower() == "scratch":
            st = steps.Stage(s.index, s.name, "", steps.base_image(None))
        elif name.lower() in self.plan.names and self.plan.names[name.lower()] < s.index:
            parent = self.results[self.plan.names[name.lower()]].result()
            st = steps.Stage(s.index, s.name, parent.image_id, copy.deepcopy(parent.image))
            st.cmd_set = False
        else:
            image_id = await self._image(name, platform)
            img = self.b.images.load(image_id)
            st = steps.Stage(s.index, s.name, image_id, steps.base_image(img.config))
        if st.image_id:
            self.say(f" ---> {short(st.image_id)}\n")
        triggers = st.config.OnBuild or []
        if triggers:
            st.config.OnBuild = None  # docker: triggers run once, in the child
            self.say(f"# Executing {len(triggers)} build trigger"
                     f"{'s' if len(triggers) > 1 else ''}\n")
            for t in triggers:
                await self._step(st, df.parse_instruction(t, self.escape))
        return st

    async def _image(self, name: str, platform: str | None) -> str:
        """A FROM image: local, else pulled (always with --pull)."""
        ref = reference.parse(name)
        have = self.b.images.exists(name)
        if have and not self.opts.pull:
            return self.b.images.resolve(name)
        from dockling.registry import auth

        creds = auth.Credentials()
        for server, doc in (self.opts.registry_auth or {}).items():
            from dockling.formats.reference import server_domain

            if isinstance(doc, dict) and server_domain(server) == ref.domain:
                creds = auth.Credentials(doc.get("username") or "", doc.get("password") or "",
                                         doc.get("identitytoken") or "")
        try:
            async for m in self.b.puller.pull(ref, creds, platform or None):
                self.emit(m)
        except DocklingError:
            if have:  # --pull with an unreachable registry: docker goes on with the local one
                return self.b.images.resolve(name)
            raise
        return self.b.images.resolve(str(ref))

    # -- steps ------------------------------------------------------------------------
    async def _step(self, st: steps.Stage, ins) -> None:
        if isinstance(ins, df.Arg):
            steps.declare_args(st, ins, self.opts.buildargs, self.global_vars, self.used_args)
            if st.image_id:
                self.say(f" ---> {short(st.image_id)}\n")
            return
        if isinstance(ins, df.Run):
            await self._run(st, ins)
        elif isinstance(ins, (df.Copy, df.Add)):
            await self._copy(st, ins)
        else:
            new = copy.deepcopy(st.image)
            probe = steps.Stage(st.index, st.name, st.image_id, new)
            probe.args, probe.cmd_set = st.args, st.cmd_set
            text = steps.apply(probe, ins, self.escape)
            st.cmd_set = probe.cmd_set
            await self._commit_meta(st, new, text)

    async def _commit_meta(self, st: steps.Stage, new: ImageConfig, text: str) -> None:
        key = cachelib.meta_key(st.image_id, text, new.config)
        if await self._cached(st, key):
            return
        hit = self._cache_from(st, text, layer=False)
        if hit is not None:
            new.created = hit.created
            new.history = [*(new.history or []), hit]
            self.say(" ---> Using cache\n")
            self._commit(st, new, key, text, 0)
            return
        now = clock.now()
        new.created = now
        new.history = [*(new.history or []), History(
            created=now, created_by=text, comment=HISTORY_COMMENT, empty_layer=True)]
        self._commit(st, new, key, text, 0)

    async def _cached(self, st: steps.Stage, key: str) -> bool:
        if self.opts.nocache:
            return False
        hit = self.b.cache.get(key)
        if hit is None or not self._in_cache_from(hit):
            return False
        self.hits.append(key)
        self.say(" ---> Using cache\n")
        st.image_id = hit
        st.image = steps.base_image(self.b.images.config(hit))
        self.say(f" ---> {short(hit)}\n")
        return True

    def _in_cache_from(self, image_id: str) -> bool:
        """With --cache-from, a local cache hit counts only when it is one of those
        images or an ancestor of one (moby's image/cache ImageCache.GetCache): an
        unknown --cache-from image means no cache at all, as in docker."""
        if not self.opts.cache_from:
            return True
        for ref in self.opts.cache_from:
            try:
                img = self.b.images.get(ref)
            except DocklingError:
                continue
            seen: set[str] = set()
            while img.id not in seen:
                if img.id == image_id:
                    return True
                seen.add(img.id)
                if not img.parent:
                    break
                try:
                    img = self.b.images.load(img.parent)
                except DocklingError:
                    break
        return False

    def _cache_from(self, st: steps.Stage, text: str, layer: bool):
        """--cache-from: an image whose history continues this stage's with this
        step (the classic builder's rule: same history and layers so far, same
        created_by next). COPY/ADD never match (their created_by does not hold
        the content); they are made again, and when their layer comes out the
        same, the RUNs after them match again. For a RUN: (entry, diff id)."""
        if not self.opts.cache_from or self.opts.nocache:
            return None
        hist = st.image.history or []
        diffs = st.image.rootfs.diff_ids
        for ref in self.opts.cache_from:
            try:
                cand = self.b.images.get(ref).config
            except DocklingError:
                continue
            ch = cand.history or []
            cd = cand.rootfs.diff_ids
            if len(ch) <= len(hist) or cd[:len(diffs)] != diffs:
                continue
            if [h.created_by for h in ch[:len(hist)]] != [h.created_by for h in hist]:
                continue
            entry = ch[len(hist)]
            if entry.created_by != text or entry.empty_layer == layer:
                continue
            if not layer:
                return entry
            if len(cd) > len(diffs):
                return entry, cd[len(diffs)]
        return None

    def _commit(self, st: steps.Stage, new: ImageConfig, key: str, text: str,
                size: int) -> None:
        image_id = self.b.images.add(new, parent=st.image_id)
        self.b.cache.put(key, image_id, st.image_id, text, size)
        st.image_id = image_id
        st.image = new
        self.say(f" ---> {short(image_id)}\n")

    def _with_layer(self, st: steps.Stage, diff_id: str, text: str) -> ImageConfig:
        new = copy.deepcopy(st.image)
        now = clock.now()
        new.created = now
        new.rootfs = RootFS(type=new.rootfs.type or "layers",
                            diff_ids=[*new.rootfs.diff_ids, diff_id])
        new.history = [*(new.history or []), History(
            created=now, created_by=text, comment=HISTORY_COMMENT)]
        return new

    def _ensure_image(self, st: steps.Stage) -> None:
        """A stage FROM scratch has no image until something is stored."""
        if not st.image_id:
            st.image_id = self.b.images.add(st.image)

    # -- RUN --------------------------------------------------------------------------
    async def _run(self, st: steps.Stage, ins) -> None:
        argv = steps.run_argv(st, ins)
        args = st.run_args(self.opts.buildargs)
        for k in args:
            if k in self.opts.buildargs:
                self.used_args.add(k)
        text = steps.run_history(argv, args)
        self._ensure_image(st)
        key = cachelib.key(st.image_id, text)
        if await self._cached(st, key):
            return
        hit = self._cache_from(st, text, layer=True)
        if hit is not None:
            entry, diff_id = hit
            new = self._with_layer(st, diff_id, text)
            new.created = entry.created
            new.history[-1] = entry
            self.say(" ---> Using cache\n")
            self._commit(st, new, key, text, 0)
            return
        env = st.env()
        body = CreateRequest(
            Image=st.image_id, Cmd=argv, Entrypoint=[],
            Env=[f"{k}={v}" for k, v in args.items() if k not in env] +
                [f"{k}={v}" for k, v in env.items()],
            User=st.config.User or "", WorkingDir=st.config.WorkingDir or "", Labels={},
            AttachStdout=True, AttachStderr=True, HostConfig=self.opts.host_config())
        c = self.b.containers.create(body, None, image_volumes=False)
        cid = c.Id
        self.containers.add(cid)
        ok = False
        try:
            self.say(f" ---> Running in {cid[:12]}\n")
            await self.b.containers.start(cid)
            frames = Frames()
            async for chunk in self.b.containers.logs(cid, follow=True):
                for stream, data in frames.feed(chunk):
                    text_out = data.decode("utf-8", "replace")
                    self.say(f"\x1b[91m{text_out}\x1b[0m" if stream == 2 else text_out)
            code = await self.b.containers.wait(cid)
            if code != 0:
                shown = " ".join(argv) if ins.shell else json.dumps(argv)
                raise CommandFailed(f"The command '{shown}' returned a non-zero code: {code}",
                                    code)
            upper = os.path.join(self.b.containers.paths.container(cid), "upper")
            layer = await _blocking(self._register, st, upper, MOUNT_STUBS)
            new = self._with_layer(st, layer.diff_id, text)
            ok = True
        finally:
            await self._remove_container(cid, announce=ok)
        self._commit(st, new, key, text, layer.size)

    async def _remove_container(self, cid: str, announce: bool) -> None:
        self.containers.discard(cid)
        if not self.opts.rm and not self.opts.forcerm:
            return
        try:
            if self.b.containers.get(cid).State.Running:
                await asyncio.shield(self.b.containers.kill_and_wait(cid))
            self.b.containers.remove(cid, force=True, volumes=True)
        except NotFound:
            pass
        except Exception:  # noqa: BLE001 - cleanup must not hide the build's error
            log.exception("removing build container %s", cid[:12])
        if announce:
            self.say(f"Removing intermediate container {cid[:12]}\n")

    def _register(self, st: steps.Stage, upper: str, exclude=frozenset()):
        """The upper dir of a step -> a layer on top of the stage's layers (moved
        into the layer store, not copied: the step's container or mount is done).
        ``exclude``: a RUN container's mount stubs."""
        layers = self.b.images.layers
        chains = layers.chain(st.image.rootfs.diff_ids)
        return layers.adopt(upper, chains[-1] if chains else None, exclude,
                            spool_dir=ctxlib.workdir(self.b.data_root))

    # -- COPY / ADD -------------------------------------------------------------------
    async def _copy(self, st: steps.Stage, ins) -> None:
        is_add = isinstance(ins, df.Add)
        what = "ADD" if is_add else "COPY"
        variables = st.variables()

        def word(w: str) -> str:
            return expand_word(w, variables, self.escape)

        heredocs = {h.name: h for h in ins.heredocs}
        raw_srcs = [s for s in ins.sources]
        dest = word(ins.dest)
        chown = word(ins.chown) if ins.chown else None
        chmod = word(ins.chmod) if ins.chmod else None
        mode = None
        if chmod:
            try:
                mode = int(chmod, 8)
            except ValueError:
                raise InvalidArgument(f"invalid chmod parameter: {chmod}") from None
        from_ref = word(ins.from_) if getattr(ins, "from_", None) else None
        source_root = self.ctx.root
        from_mount = None
        from_id = ""
        cleanup: list = []
        try:
            if from_ref:
                from_id, from_mount = await self._source_image(st, from_ref)
                cleanup.append(from_mount)
                source_root = os.path.join(from_mount, "merged")
            files: list[str] = []
            sources: list[copylib.Source] = []
            wildcard = False
            for raw in raw_srcs:
                name = raw[2:].lstrip("-").strip("'\"") if raw.startswith("<<") else None
                if name in heredocs:
                    h = heredocs[name]
                    content = _expand_heredoc(h.content, variables) if h.expand else h.content
                    sources.append(copylib.Source(name, data=content.encode()))
                    continue
                src = word(raw)
                if is_add and src.startswith(("http://", "https://")):
                    s, tmpdir = await self._download(src)
                    cleanup.append(tmpdir)
                    sources.append(s)
                    continue
                if copylib.has_wildcard(src):
                    wildcard = True
                files.append(src)
            if files:
                sources += await _blocking(copylib.resolve, source_root, files, what)
            digest = await _blocking(copylib.checksum, sources)
            text = f"{what} {' '.join(word(s) for s in raw_srcs)} {dest} # buildkit"
            self._ensure_image(st)
            key = cachelib.key(st.image_id, text, [digest, chown or "", chmod or "", from_id])
            if await self._cached(st, key):
                return
            layer = await self._write_sources(st, sources, dest, wildcard, chown, mode, is_add,
                                              what)
        finally:
            for item in cleanup:
                await _blocking(_release, item)
        new = self._with_layer(st, layer.diff_id, text)
        self._commit(st, new, key, text, layer.size)

    async def _write_sources(self, st, sources, dest, wildcard, chown, mode, is_add, what):
        step = await _blocking(self._mount, st.image)
        try:
            def work():
                merged = os.path.join(step, "merged")
                uid, gid = _owner(merged, chown) if chown else (0, 0)
                d, rename = copylib.dest_layout(sources, dest, st.config.WorkingDir
                                                or "/", merged, wildcard, what)
                copylib.write(sources, merged, d, rename, uid, gid, mode, bool(chown),
                              unpack_archives=is_add)
                unmount(merged)
                return self._register(st, os.path.join(step, "upper"))

            return await _blocking(work)
        finally:
            await _blocking(_release, step)

    def _mount(self, image: ImageConfig) -> str:
        """A private overlay of an image with an empty upper: a step's root."""
        layers = self.b.images.layers
        step = ctxlib.new_dir(self.b.data_root, "step")
        for sub in ("upper", "work", "merged"):
            os.mkdir(os.path.join(step, sub), 0o755)
        os.chmod(os.path.join(step, "upper"), 0o755)  # the step's /: not the daemon's umask
        try:
            layers.mount(layers.chain(image.rootfs.diff_ids),
                         os.path.join(step, "upper"), os.path.join(step, "work"),
                         os.path.join(step, "merged"))
        except BaseException:
            shutil.rmtree(step, ignore_errors=True)
            raise
        return step

    async def _source_image(self, st: steps.Stage, ref: str) -> tuple[str, str]:
        """COPY --from: a stage's result or an image, mounted read-only-by-use."""
        idx = self.plan.stage_ref(ref, st.index)
        if idx is not None:
            other = await asyncio.shield(self.results[idx])
            image, image_id = other.image, other.image_id
        else:
            image_id = await self._image(ref, self.opts.platform or None)
            image = self.b.images.load(image_id).config
        return image_id, await _blocking(self._mount, image)

    async def _download(self, url: str) -> tuple[copylib.Source, str]:
        """ADD <url>: fetched whole (mode 0600, mtime from Last-Modified)."""
        import email.utils

        tmpdir = ctxlib.new_dir(self.b.data_root, "dl")
        name = posixpath.basename(url.split("?")[0].split("#")[0].rstrip("/")) or "index.html"
        path = os.path.join(tmpdir, "data")
        try:
            with open(path, "wb") as f:
                headers = await ctxlib.download(url, f)
        except ctxlib.DownloadFailed as err:
            shutil.rmtree(tmpdir, ignore_errors=True)  # a 404 left it behind before
            raise InvalidArgument(f"failed to GET {url} with status {err.reason}"
                                  if err.status else f"error downloading {url}: {err.reason}"
                                  ) from err
        mtime = 0.0
        if headers.get("last-modified"):
            try:
                mtime = email.utils.parsedate_to_datetime(headers["last-modified"]).timestamp()
            except (TypeError, ValueError):
                mtime = 0.0
        os.chmod(path, 0o600)
        os.utime(path, (mtime, mtime))
        return copylib.Source(name, path, local=False), tmpdir


def _owner(rootfs: str, chown: str) -> tuple[int, int]:
    """--chown=user[:group]: names from the image's files; a user alone means
    the same number for the group (docker docs, COPY --chown)."""
    user, _, group = chown.partition(":")
    uid = int(user) if user.isdigit() else users.resolve(rootfs, user)[0]
    gid = users.group_id(rootfs, group) if group else uid
    return uid, gid


def _expand_heredoc(text: str, variables: dict[str, str]) -> str:
    """$NAME and ${NAME} in an unquoted heredoc; quotes and backslashes stay
    (BuildKit expands heredocs with raw quotes and escapes)."""
    import re

    return re.sub(r"\$(?:\{(\w+)\}|(\w+))",
                  lambda m: variables.get(m.group(1) or m.group(2), ""), text)


def _release(step: str) -> None:
    merged = os.path.join(step, "merged")
    if os.path.ismount(merged):
        unmount(merged)
    shutil.rmtree(step, ignore_errors=True)
