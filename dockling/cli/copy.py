"""cp and export: tar streams between the host and a container.

The tars a container sends are unpacked with the same unpacker as image
layers (no ``..``, never through a symlink), so a hostile container cannot
make `cp` write outside the destination on the host.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile

from dockling.cli.common import refuse_terminal, save_stream
from dockling.cli.format import human_size
from dockling.cli.main import UsageError
from dockling.client import wirejson as json  # json's own import is ~5 ms (re)
from dockling.client.http import APIError, Client


def register(sub) -> None:
    sp = sub.add_parser("cp")
    sp.add_argument("-a", "--archive", action="store_true")
    sp.add_argument("-L", "--follow-link", action="store_true")
    sp.add_argument("-q", "--quiet", action="store_true")
    sp.add_argument("src")
    sp.add_argument("dest")
    sp.set_defaults(func=cmd_cp)
    sp = sub.add_parser("export")
    sp.add_argument("-o", "--output")
    sp.add_argument("container")
    sp.set_defaults(func=cmd_export)


def split_arg(arg: str) -> tuple[str | None, str]:
    """container:path or a local path (absolute, ./relative, or without a colon)."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    container, _, path = arg.partition(":")
    return container, path


def _stat(cli: Client, container: str, path: str) -> dict | None:
    try:
        resp = cli.open("HEAD", f"/containers/{container}/archive", {"path": path})
    except APIError as err:
        if err.status == 404:
            cli.get(f"/containers/{container}/json")  # "No such container" if that is it
            return None
        raise
    resp.close()
    return json.loads(_b64decode(resp.getheader("X-Docker-Container-Path-Stat")))


def _is_dir(st: dict) -> bool:
    return bool(st["mode"] & (1 << 31))


def cmd_cp(cli: Client, a) -> int:
    src_c, src = split_arg(a.src)
    dst_c, dst = split_arg(a.dest)
    if (src_c is None) == (dst_c is None):
        raise UsageError("copying between containers is not supported" if src_c else
                         "must specify at least one container source")
    if src_c is not None:
        return _from_container(cli, src_c, src, dst, a.quiet)
    return _to_container(cli, src, dst_c, dst, a.quiet)


def _from_container(cli: Client, container: str, src: str, dst: str, quiet: bool) -> int:
    try:
        resp = cli.open("GET", f"/containers/{container}/archive", {"path": src})
    except APIError as err:
        if err.status == 404 and "Could not find the file" in err.message:
            print(f"Error response from daemon: {err.message}", file=sys.stderr)
            return 1
        raise
    if dst == "-":
        while chunk := resp.read1(1 << 20):
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return 0
    st = json.loads(_b64decode(resp.getheader("X-Docker-Container-Path-Stat")))
    from dockling.formats.unpack import apply_layer

    contents_only = src.rstrip("/").endswith("/.")
    dst = os.path.abspath(dst)
    if os.path.isdir(dst):
        target_dir, rename = dst, None
    else:
        if os.path.lexists(dst) and _is_dir(st):
            raise UsageError(f"cannot copy directory to file: {dst}")
        parent = os.path.dirname(dst)
        if not os.path.isdir(parent):
            raise UsageError(f"no such directory: {parent}")
        target_dir, rename = parent, os.path.basename(dst)
    counter = _Counting(resp)
    if rename is None and not contents_only:
        apply_layer(counter, target_dir, whiteouts=False)
    else:
        # unpack beside the destination, then move the one top entry (or its contents)
        tmp = tempfile.mkdtemp(prefix=".dockling-cp-", dir=target_dir)
        try:
            apply_layer(counter, tmp, whiteouts=False)
            top = os.path.join(tmp, st["name"]) if not contents_only else tmp
            final = os.path.join(target_dir, rename) if rename else target_dir
            if contents_only:
                os.makedirs(final, exist_ok=True)
                for name in os.listdir(top):
                    _replace(os.path.join(top, name), os.path.join(final, name))
            else:
                _replace(top, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        print(f"Successfully copied {human_size(counter.size)} to {dst}", file=sys.stderr)
    return 0


def _replace(src: str, dst: str) -> None:
    if os.path.isdir(dst) and not os.path.islink(dst) and os.path.isdir(src):
        for name in os.listdir(src):
            _replace(os.path.join(src, name), os.path.join(dst, name))
        return
    if os.path.lexists(dst):
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)
        else:
            os.unlink(dst)
    os.rename(src, dst)


class _Counting(io.RawIOBase):
    """A response body as a file, counting the bytes (docker prints the size)."""

    def __init__(self, resp) -> None:
        self.resp = resp
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.resp.read1(len(b))
        b[:len(data)] = data
        self.size += len(data)
        return len(data)


def _to_container(cli: Client, src: str, container: str, dst: str, quiet: bool) -> int:
    from dockling.formats.pack import write_archive

    if src == "-":
        body = sys.stdin.buffer.read()
        cli.call("PUT", f"/containers/{container}/archive", {"path": dst}, body=body)
        return 0
    if not os.path.lexists(src):
        raise UsageError(f"lstat {os.path.abspath(src)}: no such file or directory")
    contents_only = src.rstrip("/").endswith("/.")
    st = _stat(cli, container, dst)
    if st is not None and st["mode"] & (1 << 27):  # a symlink: docker copies to its target
        target = st["linkTarget"]
        dst = target if target.startswith("/") else os.path.join(
            os.path.dirname(dst.rstrip("/")), target)
        st = _stat(cli, container, dst)
    if st is not None and _is_dir(st):
        target, name = dst, os.path.basename(os.path.abspath(src))
    elif st is None and dst.endswith("/"):
        print(f"Error response from daemon: Could not find the file {dst} in container "
              f"{container}", file=sys.stderr)
        return 1
    else:
        if st is not None and os.path.isdir(src):
            raise UsageError(f"cannot copy directory to file: {dst}")
        target, name = os.path.dirname(dst.rstrip("/")) or "/", os.path.basename(
            dst.rstrip("/"))
    with tempfile.TemporaryFile() as tmp:
        if contents_only:
            from dockling.formats import pack

            pack.write_layer(os.path.abspath(src), tmp)
        else:
            write_archive(os.path.abspath(src), name, tmp)
        size = tmp.tell()
        tmp.seek(0)
        cli.call("PUT", f"/containers/{container}/archive", {"path": target}, body=tmp.read())
    if not quiet:
        print(f"Successfully copied {human_size(size)} to {container}:{dst}", file=sys.stderr)
    return 0


def cmd_export(cli: Client, a) -> int:
    refuse_terminal(a.output)
    save_stream(cli.open("GET", f"/containers/{a.container}/export"), a.output)
    return 0


def _b64decode(text: str) -> bytes:
    import base64  # here: its import loads re

    return base64.b64decode(text)
