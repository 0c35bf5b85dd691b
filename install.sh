#!/usr/bin/env bash
# Set-up on a fresh Debian machine, as root: system packages, a venv with
# dockling in it, and dockling-runc/dockling linked onto PATH.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (containers need namespaces, mounts and cgroups)" >&2
    exit 1
fi

# busybox-static: the test image and the default busybox rootfs;
# runc: behaviour is compared against it; libseccomp2: seccomp filters;
# procps: `ps` for `dockling-runc ps`; iproute2 and iptables: networking;
# tini: the static init that `run --init` puts in front of the command;
# docker-registry, skopeo, openssl: the tests' registries, seeding and test CA;
# etcd-server (3.4): overlay networks' cluster store (tests/overlay runs three members);
PKGS="python3 python3-venv busybox-static runc libseccomp2 procps iproute2 iptables tini
      docker-registry skopeo openssl mmdebstrap etcd-server"
# Without their Recommends: docker-compose (1.29, on docker-py; tests/compose runs a
# real project with it) recommends docker.io, a dockerd that would start beside dockling.
BARE="docker-compose"
missing() {
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || printf ' %s' "$p"
    done
}
want=$(missing $PKGS)
bare=$(missing $BARE)
if [ -n "$want$bare" ]; then
    apt-get update -qq
    [ -z "$want" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $want >/dev/null
    [ -z "$bare" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends $bare >/dev/null
fi

# Debian's python3 starts faster than a pyenv one (DESIGN.md, Performance).
[ -x .venv/bin/python ] || /usr/bin/python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
# compat mode: a plain path entry, no import hook to slow every start
.venv/bin/pip install -q -e '.[test]' --config-settings editable_mode=compat
# The CLI's launcher in place of pip's script: -IS leaves site out (the venv's .pth
# files, Debian's sitecustomize: ~7 ms of each command's start). The CLI needs only the
# standard library and this checkout (tests/cli/test_imports.py); `dockling daemon`
# loads site itself (cli/main.py).
cat > .venv/bin/dockling <<EOF
#!$PWD/.venv/bin/python3 -IS
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))))
from dockling.cli.main import entry
entry()
EOF
# Bytecode now: with PYTHONDONTWRITEBYTECODE set (as on these machines) every CLI
# call would compile what it imports again (~10 ms of a ~40 ms start).
.venv/bin/python -m compileall -q dockling >/dev/null

for cmd in dockling dockling-runc; do
    ln -sf "$PWD/.venv/bin/$cmd" "/usr/local/bin/$cmd"
done

# Offline there is no Docker Hub: make busybox:latest the way the official
# image is made (a static busybox, FROM scratch), unless one exists.
if ! dockling image inspect busybox:latest >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    .venv/bin/python -m dockling.testing.busybox --rootfs "$tmp/rootfs"
    tar -C "$tmp/rootfs" -cf "$tmp/busybox.tar" .
    dockling import --change 'CMD ["sh"]' -m "busybox from Debian's busybox-static" \
        "$tmp/busybox.tar" busybox:latest >/dev/null
    echo "install.sh: imported busybox:latest from Debian's busybox-static"
fi
echo "install.sh: dockling installed (.venv, /usr/local/bin/dockling, /usr/local/bin/dockling-runc)"
