"""OCI linux.seccomp -> a libseccomp filter (through pyseccomp).

``compile_rules`` is pure: it validates the profile and turns it into
(action, syscall, conditions) triples, so a bad profile fails at create
time with the field named, and tests can check the translation without
loading anything. ``load`` installs it in the calling process.

Compatibility decisions, as runc makes them:
- syscall names libseccomp does not know are skipped (profiles list
  syscalls of newer kernels and other architectures);
- a rule whose action equals the default action is skipped (libseccomp
  refuses it);
- several conditions on the same argument index become separate rules
  (libseccomp cannot AND two comparisons of one argument);
- SCMP_ACT_ERRNO without errnoRet means EPERM;
- no_new_privs is not implied by loading a filter (CTL_NNP off); the
  process's own noNewPrivileges decides it.
"""

from __future__ import annotations

import contextlib
import errno
import os

import msgspec
import msgspec.structs
import pyseccomp

from dockling.errors import InvalidArgument
from dockling.kernel import syscalls

_ARCHES = {
    "SCMP_ARCH_X86": pyseccomp.Arch.X86,
    "SCMP_ARCH_X86_64": pyseccomp.Arch.X86_64,
    "SCMP_ARCH_X32": pyseccomp.Arch.X32,
    "SCMP_ARCH_ARM": pyseccomp.Arch.ARM,
    "SCMP_ARCH_AARCH64": pyseccomp.Arch.AARCH64,
    "SCMP_ARCH_MIPS": pyseccomp.Arch.MIPS,
    "SCMP_ARCH_MIPS64": pyseccomp.Arch.MIPS64,
    "SCMP_ARCH_MIPS64N32": pyseccomp.Arch.MIPS64N32,
    "SCMP_ARCH_MIPSEL": pyseccomp.Arch.MIPSEL,
    "SCMP_ARCH_MIPSEL64": pyseccomp.Arch.MIPSEL64,
    "SCMP_ARCH_MIPSEL64N32": pyseccomp.Arch.MIPSEL64N32,
    "SCMP_ARCH_PPC": pyseccomp.Arch.PPC,
    "SCMP_ARCH_PPC64": pyseccomp.Arch.PPC64,
    "SCMP_ARCH_PPC64LE": pyseccomp.Arch.PPC64LE,
    "SCMP_ARCH_S390": pyseccomp.Arch.S390,
    "SCMP_ARCH_S390X": pyseccomp.Arch.S390X,
    "SCMP_ARCH_PARISC": pyseccomp.Arch.PARISC,
    "SCMP_ARCH_PARISC64": pyseccomp.Arch.PARISC64,
    "SCMP_ARCH_RISCV64": pyseccomp.Arch.RISCV64,
}

_OPS = {
    "SCMP_CMP_NE": pyseccomp.NE,
    "SCMP_CMP_LT": pyseccomp.LT,
    "SCMP_CMP_LE": pyseccomp.LE,
    "SCMP_CMP_EQ": pyseccomp.EQ,
    "SCMP_CMP_GE": pyseccomp.GE,
    "SCMP_CMP_GT": pyseccomp.GT,
    "SCMP_CMP_MASKED_EQ": pyseccomp.MASKED_EQ,
}

_FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": pyseccomp.Attr.CTL_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": pyseccomp.Attr.CTL_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": pyseccomp.Attr.CTL_SSB,
}


def action(name: str, errno_ret: int | None, where: str) -> int:
    if name == "SCMP_ACT_ALLOW":
        return pyseccomp.ALLOW
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return pyseccomp.KILL_THREAD
    if name == "SCMP_ACT_KILL_PROCESS":
        return pyseccomp.KILL_PROCESS
    if name == "SCMP_ACT_TRAP":
        return pyseccomp.TRAP
    if name == "SCMP_ACT_LOG":
        return pyseccomp.LOG
    if name == "SCMP_ACT_ERRNO":
        return pyseccomp.ERRNO(errno.EPERM if errno_ret is None else errno_ret)
    if name == "SCMP_ACT_TRACE":
        return pyseccomp.TRACE(errno.EPERM if errno_ret is None else errno_ret)
    if name == "SCMP_ACT_NOTIFY":
        raise InvalidArgument(f"{where}: SCMP_ACT_NOTIFY is not supported by dockling-runc")
    raise InvalidArgument(f"{where}: unknown seccomp action {name!r}")


class Filter(msgspec.Struct):
    default: int
    arches: list[int] = []
    flags: list[int] = []
    # (action, syscall number, [(index, op, value, value_two)])
    rules: list[tuple[int, int, list[tuple[int, int, int, int]]]] = []
    # The BPF libseccomp makes of the above, when cached (see with_program).
    program: bytes = b""


def compile_rules(sc) -> Filter:
    """Validate an OCI Seccomp struct and resolve it to numbered rules."""
    f = Filter(action(sc.default_action, sc.default_errno_ret, "linux.seccomp.defaultAction"))
    for i, arch in enumerate(sc.architectures):
        if arch not in _ARCHES:
            raise InvalidArgument(f"linux.seccomp.architectures[{i}]: unknown arch {arch!r}")
        f.arches.append(_ARCHES[arch])
    for i, flag in enumerate(sc.flags):
        if flag not in _FLAGS:
            raise InvalidArgument(f"linux.seccomp.flags[{i}]: unknown flag {flag!r}")
        f.flags.append(_FLAGS[flag])
    for i, rule in enumerate(sc.syscalls):
        where = f"linux.seccomp.syscalls[{i}]"
        act = action(rule.action, rule.errno_ret, where + ".action")
        conds = []
        for j, a in enumerate(rule.args):
            if a.op not in _OPS:
                raise InvalidArgument(f"{where}.args[{j}].op: unknown operator {a.op!r}")
            if a.index > 5:
                raise InvalidArgument(f"{where}.args[{j}].index: must be 0..5")
            conds.append((a.index, _OPS[a.op], a.value, a.value_two))
        if act == f.default:
            continue
        for name in rule.names:
            nr = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
            if nr < 0:
                continue
            for group in _split_same_index(conds):
                f.rules.append((act, nr, group))
    return f


def _split_same_index(conds):
    """Conditions on distinct args form one rule; repeats of an index split it."""
    if not conds:
        return [[]]
    indexes = [c[0] for c in conds]
    if len(set(indexes)) == len(indexes):
        return [conds]
    return [[c] for c in conds]


def _build(f: Filter):
    flt = pyseccomp.SyscallFilter(f.default)
    flt.set_attr(pyseccomp.Attr.CTL_NNP, 0)
    # A binary tree of the syscall numbers, not a list (libseccomp >= 2.5): the same
    # rules, but the kernel's load of docker's profile (its JIT and per-syscall action
    # cache, paid by every start and exec) took ~2.3 -> ~1.0 ms here, and each
    # filtered syscall walks log(n) instructions instead of up to n.
    with contextlib.suppress(OSError, ValueError):
        flt.set_attr(pyseccomp.Attr.CTL_OPTIMIZE, 2)
    for attr in f.flags:
        flt.set_attr(attr, 1)
    for arch in f.arches:
        try:
            flt.add_arch(arch)
        except OSError as err:
            if err.errno != errno.EEXIST:
                raise
    for act, nr, conds in f.rules:
        flt.add_rule(act, nr, *(pyseccomp.Arg(i, op, a, b) for i, op, a, b in conds))
    return flt


# Part of the cache key: a change in how _build makes the BPF is a new program.
_BUILD_VERSION = b"tree-2\0"


def with_program(f: Filter, cache_dir: str) -> Filter:
    """Attach the filter's BPF, built once per distinct filter and kept on disk.

    libseccomp needs ~7 ms to turn docker's default profile into BPF (for
    three architectures); every container of the same profile shares it.
    """
    import hashlib
    import tempfile

    key = hashlib.sha256(_BUILD_VERSION + msgspec.msgpack.encode(f)).hexdigest()
    path = os.path.join(cache_dir, key + ".bpf")
    try:
        with open(path, "rb") as fh:
            program = fh.read()
    except FileNotFoundError:
        os.makedirs(cache_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache_dir, delete=False) as tmp:
            _build(f).export_bpf(tmp)
        with open(tmp.name, "rb") as fh:
            program = fh.read()
        os.rename(tmp.name, path)
    if not program or len(program) % 8:
        return f
    return msgspec.structs.replace(f, program=program)


_FILTER_FLAGS = {pyseccomp.Attr.CTL_TSYNC: 1, pyseccomp.Attr.CTL_LOG: 2,
                 pyseccomp.Attr.CTL_SSB: 4}


def load(f: Filter) -> None:
    """Install the filter in the calling process (the cached BPF when there is one)."""
    if not f.program:
        _build(f).load()
        return
    flags = 0
    for attr in f.flags:
        flags |= _FILTER_FLAGS.get(attr, 0)
    syscalls.seccomp(f.program, flags)
