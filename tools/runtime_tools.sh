#!/bin/bash
# Run opencontainers/runtime-tools' validation programs against dockling-runc
# and runc, count the top-level TAP results of each and list the tests whose
# result differs.
#
#   tools/runtime_tools.sh [-o OUT] [-k] [-n] CHECKOUT [TEST...]
#
# CHECKOUT is a runtime-tools checkout (commit 27bf223 is the newest that
# builds with Debian 12's Go 1.19); this script neither holds nor fetches
# their code. The programs (validation/<name>/*.go, one `<name>.t` each) and a
# static `runtimetest` are built into OUT/bin (default /tmp/runtime-tools-out)
# from the checkout's vendor/ tree, offline. TEST names limit the run
# (`state kill`); -k keeps existing binaries instead of rebuilding.
#
# Runtimes: $DOCKLING_RUNC (default: the repo's .venv/bin/dockling-runc) and
# $RUNC (default: runc on PATH). Each program runs with cwd OUT/bin (it untars
# rootfs-amd64.tar.gz and copies runtimetest from there), one at a time: some
# share fixed cgroup paths. Each runtime keeps its state in OUT/state/<runtime>
# (--root). The TAP of each program is kept in OUT/<runtime>/<name>.tap, its
# stderr in <name>.err, its exit status in <name>.rc.
#
# A top-level result is a line at column 0 starting `ok` or `not ok` (the
# output of a nested runtimetest is indented in YAML); `# SKIP` counts as
# skipped. A program's exit status is a verdict too (util.Fatal exits 1; the
# *_fail programs exit 0, silent, when the runtime refuses their config): a
# program without a result counts as one, "(no TAP output, exit N)", ok for
# 0; a non-zero exit after results adds a failed "(exit N)".
#
# The programs' bundles go to OUT/tmp (TMPDIR); mounts a runtime left below
# them (runc 1.1 leaves a config without a mount namespace's) are detached
# after each program. -n reports on the results of the last run only.
#
# Run as root on a disposable host: the programs create containers, cgroups
# and (for the namespace tests) processes of their own.

set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out=/tmp/runtime-tools-out
keep=0
report_only=0
usage="usage: $0 [-o OUT] [-k] [-n] CHECKOUT [TEST...]"
while getopts "o:kn" opt; do
    case $opt in
        o) out=$OPTARG ;;
        k) keep=1 ;;
        n) report_only=1 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
if [ $# -lt 1 ]; then
    echo "$usage" >&2
    exit 2
fi
src=$(cd "$1" && pwd)
shift
dockling_runc=${DOCKLING_RUNC:-$here/.venv/bin/dockling-runc}
runc=${RUNC:-$(command -v runc || true)}
per_test_timeout=${TIMEOUT:-300}

for f in "$src/validation/util/test.go" "$src/rootfs-amd64.tar.gz"; do
    [ -e "$f" ] || { echo "$src is not a runtime-tools checkout ($f missing)" >&2; exit 2; }
done
command -v go >/dev/null || { echo "go is missing (apt-get install golang-go)" >&2; exit 2; }
[ -x "$dockling_runc" ] || { echo "no dockling-runc at $dockling_runc" >&2; exit 2; }
[ -n "$runc" ] || { echo "no runc (apt-get install runc, or RUNC=...)" >&2; exit 2; }

if [ $# -gt 0 ]; then
    tests=("$@")
else
    tests=()
    for d in "$src"/validation/*/; do
        name=$(basename "$d")
        [ "$name" = util ] || tests+=("$name")
    done
fi

# --- build -----------------------------------------------------------------
bin=$out/bin
if [ $report_only = 0 ]; then
mkdir -p "$bin"
export GOFLAGS=-mod=vendor GOPROXY=off GOCACHE=${GOCACHE:-$out/gocache}
build() {  # build OUTPUT PACKAGE [go build flags...]
    local target=$1 pkg=$2
    shift 2
    if [ $keep = 1 ] && [ -x "$target" ]; then return; fi
    (cd "$src" && go build "$@" -o "$target" "$pkg")
}
echo "building runtimetest and ${#tests[@]} validation programs from $src" \
     "($(cd "$src" && git describe --always --dirty 2>/dev/null || echo '?'))" >&2
# The Makefile's STATIC_BUILD_FLAGS, without cgo: runtimetest runs inside
# the test rootfs, which has no libc to link against.
CGO_ENABLED=0 build "$bin/runtimetest" ./cmd/runtimetest -tags "netgo osusergo"
for t in "${tests[@]}"; do
    build "$bin/$t.t" "./validation/$t"
done
ln -sf "$src/rootfs-amd64.tar.gz" "$bin/rootfs-amd64.tar.gz"
fi

# --- run -------------------------------------------------------------------
# The relative-cgroup programs use runtime-tools' fixed cgroupsPath
# "testdir/cgrouptest/container" below the runtime's cgroup: the runtime removes
# the container's leaf, nobody its two parents. Whatever way the run ends, the
# empty ones go (a cgroup that still holds a process stays: rmdir refuses it).
remove_fixed_cgroups() {
    find /sys/fs/cgroup -mindepth 2 -maxdepth 8 -type d -path '*/testdir/cgrouptest' \
        2>/dev/null | while read -r d; do
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        rmdir "$(dirname "$d")" 2>/dev/null || true
    done
}
if [ $report_only = 0 ]; then
    trap remove_fixed_cgroups EXIT
fi

unmount_below() {  # detach every mount below $1, deepest first
    awk -v d="$1/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$(printf '%b' "$m")" 2>/dev/null || true; done
}

run_all() {  # run_all LABEL RUNTIME
    local label=$1 dir=$out/$1 tmp=$out/tmp runtime=$out/$1.runtime
    rm -rf "$dir"
    mkdir -p "$dir" "$tmp"
    # The programs call the runtime without --root: a wrapper gives it a
    # state root of its own, so the clean-up below sees only their containers.
    printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$2" "$out/state/$label" > "$runtime"
    chmod +x "$runtime"
    for t in "${tests[@]}"; do
        local rc=0
        (cd "$bin" && TMPDIR=$tmp RUNTIME=$runtime timeout -k 10 "$per_test_timeout" "./$t.t") \
            > "$dir/$t.tap" 2> "$dir/$t.err" < /dev/null || rc=$?
        echo "$rc" > "$dir/$t.rc"
        unmount_below "$tmp"
        rm -rf "${tmp:?}"/*
        echo "  $label $t: exit $rc, $(grep -cE '^ok( |$)' "$dir/$t.tap") ok," \
             "$(grep -cE '^not ok( |$)' "$dir/$t.tap") not ok" >&2
    done
    # What a program left behind would fail the next one (or the other
    # runtime): delete whatever containers are still listed.
    "$runtime" list -q 2>/dev/null | while read -r id; do
        "$runtime" delete --force "$id" >/dev/null 2>&1 || true
    done
}

if [ $report_only = 0 ]; then
    echo "running against runc ($runc)" >&2
    run_all runc "$runc"
    echo "running against dockling-runc ($dockling_runc)" >&2
    run_all dockling-runc "$dockling_runc"
fi

# --- report ----------------------------------------------------------------
python3 - "$out" "$(cd "$src" && git describe --always --dirty 2>/dev/null || echo '?')" \
    "${tests[@]}" <<'EOF'
import os
import re
import sys

out, version, tests = sys.argv[1], sys.argv[2], sys.argv[3:]
RESULT = re.compile(r"^(not )?ok\b *\d* *(?:- )?(.*)$")
SKIP = re.compile(r"\s*#\s*skip\b.*$", re.I)


def results(label, prog):
    """[(description, ok|fail|skip)] of one program's top-level TAP lines."""
    base = os.path.join(out, label, prog)
    if not os.path.exists(base + ".rc"):
        return [("(not run)", "fail")], False
    rc = int(open(base + ".rc").read())
    res, seen = [], {}
    with open(base + ".tap", errors="replace") as f:
        for line in f:
            m = RESULT.match(line.rstrip("\n"))
            if not m:
                continue
            desc, verdict = m.group(2), "fail" if m.group(1) else "ok"
            if SKIP.search(desc):
                desc, verdict = SKIP.sub("", desc), "skip"
            desc = desc or "(no description)"
            seen[desc] = seen.get(desc, 0) + 1
            if seen[desc] > 1:
                desc = f"{desc} #{seen[desc]}"
            res.append((desc, verdict))
    tap = bool(res)
    if not res:
        res.append((f"(no TAP output, exit {rc})", "ok" if rc == 0 else "fail"))
    elif rc != 0:
        res.append((f"(exit {rc})", "fail"))
    return res, tap


def summary(res):
    c = {v: sum(1 for _, x in res if x == v) for v in ("ok", "fail", "skip")}
    return f"{c['ok']} ok, {c['fail']} not ok, {c['skip']} skipped"


runtimes = ("runc", "dockling-runc")
data = {rt: {t: results(rt, t) for t in tests} for rt in runtimes}
print(f"runtime-tools {version}: top-level TAP results of {len(tests)} programs")
for rt in runtimes:
    every = [r for t in tests for r in data[rt][t][0]]
    print(f"  {rt:<14} {len(every):5d} results: {summary(every)}")

# One line per test whose verdict differs; a program that printed no TAP
# under one runtime is one line with both summaries, put by its verdict: a
# silent exit 0 beats results ending in a failed exit (the *_fail programs:
# the runtime ran what it had to refuse), results beat a failed exit.
diffs = {"runc": [], "dockling-runc": [], "neither": []}
for t in tests:
    (ra, tap_a), (rb, tap_b) = data["runc"][t], data["dockling-runc"][t]
    a, b = dict(ra), dict(rb)
    if tap_a and tap_b:
        for desc in sorted(set(a) | set(b)):
            va, vb = a.get(desc, "missing"), b.get(desc, "missing")
            if va != vb:
                who = "runc" if va == "ok" else "dockling-runc" if vb == "ok" else "neither"
                diffs[who].append(f"{t}: {desc}  [runc {va}, dockling-runc {vb}]")
        continue
    if a == b:
        continue
    line = f"{t}: runc {summary(ra)}; dockling-runc {summary(rb)}"
    if not tap_a and not tap_b:
        who = "runc" if ra[0][1] == "ok" else "dockling-runc" if rb[0][1] == "ok" else "neither"
    else:
        silent, loud = ("runc", "dockling-runc") if not tap_a else ("dockling-runc", "runc")
        quiet, noisy = (ra, rb) if not tap_a else (rb, ra)
        if quiet[0][1] == "ok" and noisy[-1][0].startswith("(exit "):
            who = silent
        elif quiet[0][1] == "fail" and any(v == "ok" for _, v in noisy):
            who = loud
        else:
            who = "neither"
    diffs[who].append(line)

for key, title in (("runc", "passed by runc, not by dockling-runc"),
                   ("dockling-runc", "passed by dockling-runc, not by runc"),
                   ("neither", "other differences (passed by neither)")):
    print(f"\n{title} ({len(diffs[key])}):")
    for line in diffs[key] or ["none"]:
        print(f"  {line}")
print(f"\nTAP, stderr and exit status of each program: {out}/{{{','.join(runtimes)}}}/")
EOF
