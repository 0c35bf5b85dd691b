"""A busybox root filesystem made from Debian's busybox-static, as the
official busybox image is: one static binary, applet symlinks, passwd/group.

    python -m dockling.testing.busybox --rootfs DIR    # just the rootfs
    python -m dockling.testing.busybox --bundle DIR    # rootfs + config.json
"""

from __future__ import annotations

import os
import shutil
import subprocess

BUSYBOX = "/bin/busybox"

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
www-data:x:33:
users:x:100:
nogroup:x:65534:
"""


def make_rootfs(dest: str) -> str:
    """Fill ``dest`` with a busybox root filesystem and return it."""
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "tmp", "var", "home",
              "proc", "sys", "dev"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(dest, "bin/busybox"))
    applets = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    for path in applets:
        link = os.path.join(dest, path)
        if path == "bin/busybox" or os.path.lexists(link):
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink("/bin/busybox", link)
    _write_inside(dest, "etc/passwd", PASSWD)
    _write_inside(dest, "etc/group", GROUP)
    return dest


def _write_inside(root: str, rel: str, text: str) -> None:
    """Write root/rel without following a symlink on the way: a dest whose etc/
    had become a link to the host's /etc once cost this machine its /etc/passwd."""
    parent = os.path.join(root, os.path.dirname(rel))
    if os.path.realpath(parent) != os.path.join(os.path.realpath(root), os.path.dirname(rel)):
        raise RuntimeError(f"{parent}: a symlink; refusing to write {rel} through it")
    fd = os.open(os.path.join(root, rel),
                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def make_bundle(dest: str, args: list[str] | None = None) -> str:
    """An OCI bundle: busybox rootfs plus runc's default config, no terminal."""
    import json

    from dockling.runtime import defaults

    os.makedirs(dest, exist_ok=True)
    make_rootfs(os.path.join(dest, "rootfs"))
    cfg = defaults.runc_spec()
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = args or ["sh"]
    with open(os.path.join(dest, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    return dest


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m dockling.testing.busybox")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--rootfs", help="write a busybox root filesystem here")
    g.add_argument("--bundle", help="write an OCI bundle (rootfs + config.json) here")
    p.add_argument("args", nargs="*", help="process args for --bundle")
    a = p.parse_args(argv)
    if a.rootfs:
        make_rootfs(a.rootfs)
    else:
        make_bundle(a.bundle, a.args or None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
