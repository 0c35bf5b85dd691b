#!/bin/bash
# Run opencontainers/runtime-tools' validation programs against dockling-runc
# and runc, count the top-level TAP results of each and list the tests whose
# result differs.
#
#   tools/runtime_tools.sh [-o OUT] [-k] CHECKOUT [TEST...]
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
# share fixed cgroup paths. The TAP of each program is kept in
# OUT/<runtime>/<name>.tap, its stderr in <name>.err.
#
# A top-level result is a line at column 0 starting `ok` or `not ok` (the
# output of a nested runtimetest is indented in YAML); `# SKIP` counts as
# skipped. A program that ends without any result counts as one failure
# named "(no result: exit N)".
#
# Run as root on a disposable host: the programs create containers, cgroups
# and (for the namespace tests) processes of their own.

set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out=/tmp/runtime-tools-out
keep=0
while getopts "o:k" opt; do
    case $opt in
        o) out=$OPTARG ;;
        k) keep=1 ;;
        *) echo "usage: $0 [-o OUT] [-k] CHECKOUT [TEST...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
if [ $# -lt 1 ]; then
    echo "usage: $0 [-o OUT] [-k] CHECKOUT [TEST...]" >&2
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

# --- run -------------------------------------------------------------------
# results.tsv: program, description (numbered when it repeats), ok|fail|skip
run_all() {  # run_all LABEL RUNTIME
    local label=$1 runtime=$2 dir=$out/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    : > "$dir/results.tsv"
    for t in "${tests[@]}"; do
        local rc=0
        (cd "$bin" && RUNTIME=$runtime timeout -k 10 "$per_test_timeout" "./$t.t") \
            > "$dir/$t.tap" 2> "$dir/$t.err" < /dev/null || rc=$?
        awk -v prog="$t" -v rc="$rc" -F '\t' '
            /^(not )?ok( |$)/ {
                res = ($1 ~ /^not/) ? "fail" : "ok"
                line = $0
                sub(/^(not )?ok *[0-9]* *(- )?/, "", line)
                if (line ~ /# *[Ss][Kk][Ii][Pp]/) res = "skip"
                sub(/ *# *[Ss][Kk][Ii][Pp].*$/, "", line)
                if (line == "") line = "(no description)"
                n[line]++
                if (n[line] > 1) line = line " #" n[line]
                printf "%s\t%s\t%s\n", prog, line, res
                seen = 1
            }
            END { if (!seen) printf "%s\t(no result: exit %s)\tfail\n", prog, rc }
        ' "$dir/$t.tap" >> "$dir/results.tsv"
        echo "  $label $t: $(awk -F '\t' -v p="$t" '$1 == p {c[$3]++}
            END {printf "%d ok, %d not ok, %d skip", c["ok"], c["fail"], c["skip"]}' "$dir/results.tsv")" >&2
    done
    # What a program left behind would fail the next one (or the other
    # runtime): delete whatever containers are still listed.
    "$runtime" list -q 2>/dev/null | while read -r id; do
        "$runtime" delete --force "$id" >/dev/null 2>&1 || true
    done
}

counts() {  # counts LABEL
    awk -F '\t' -v label="$1" '{c[$3]++; n++}
        END {printf "%-14s %4d results: %4d ok, %4d not ok, %4d skipped\n", label, n, c["ok"], c["fail"], c["skip"]}' \
        "$out/$1/results.tsv"
}

echo "running against runc ($runc)" >&2
run_all runc "$runc"
echo "running against dockling-runc ($dockling_runc)" >&2
run_all dockling-runc "$dockling_runc"

echo
echo "runtime-tools $(cd "$src" && git describe --always --dirty 2>/dev/null || echo '?'), top-level TAP results"
counts runc
counts dockling-runc
echo
echo "differences (runc / dockling-runc):"
join -t $'\t' -a 1 -a 2 -e missing -o 0,1.2,2.2 \
    <(awk -F '\t' '{print $1 ": " $2 "\t" $3}' "$out/runc/results.tsv" | sort -t $'\t' -k1,1) \
    <(awk -F '\t' '{print $1 ": " $2 "\t" $3}' "$out/dockling-runc/results.tsv" | sort -t $'\t' -k1,1) |
    awk -F '\t' '$2 != $3 {printf "  %-4s / %-7s %s\n", $2, $3, $1; d++}
                 END {if (!d) print "  none"}'
echo
echo "TAP and stderr of each program: $out/{runc,dockling-runc}/"
