"""HostConfig security fields -> capabilities, seccomp, devices, NNP.

docker's rules: capabilities start from the default set, ``ALL`` in
--cap-drop empties it first, ``ALL`` in --cap-add grants every one;
--privileged means every capability, every host device, no seccomp, no
masked or read-only paths and a writable /sys; --security-opt takes
no-new-privileges[:true|false] and seccomp=unconfined|<profile JSON>.
"""

from __future__ import annotations

import json
import os
import stat

from dockling.containers.model import DeviceMapping, HostConfig
from dockling.errors import InvalidArgument
from dockling.runtime import capabilities


def _norm(name: str, field: str) -> str:
    if name.upper() == "ALL":
        return "ALL"
    n = name.upper()
    n = n if n.startswith("CAP_") else "CAP_" + n
    if capabilities.number(n) is None:
        raise InvalidArgument(f"invalid {field}: unknown capability: \"{n}\"")
    return n


def capability_set(default: list[str], hc: HostConfig) -> list[str]:
    if hc.Privileged:
        return capabilities.available()
    add = [_norm(c, "CapAdd") for c in hc.CapAdd or []]
    drop = [_norm(c, "CapDrop") for c in hc.CapDrop or []]
    if "ALL" in add:
        caps = capabilities.available()
    else:
        caps = [] if "ALL" in drop else list(default)
        caps += [c for c in add if c not in caps]
    if "ALL" not in drop:
        caps = [c for c in caps if c not in drop or c in add]
    return caps


class SecurityOpts:
    def __init__(self, no_new_privs: bool, seccomp: dict | None, unconfined: bool) -> None:
        self.no_new_privs = no_new_privs
        self.seccomp = seccomp
        self.unconfined = unconfined


def parse_security_opts(opts: list[str]) -> SecurityOpts:
    nnp, profile, unconfined = False, None, False
    for opt in opts or []:
        key, sep, val = opt.partition("=") if "=" in opt else opt.partition(":")
        if key == "no-new-privileges":
            if sep and val not in ("true", "false"):
                raise InvalidArgument(f"invalid --security-opt 2: {opt!r}")
            nnp = val != "false"
        elif key == "seccomp":
            if val == "unconfined":
                unconfined = True
            else:
                try:
                    profile = json.loads(val)
                except ValueError as err:
                    raise InvalidArgument(f"Decoding seccomp profile failed: {err}") from err
        elif key in ("apparmor", "label", "systempaths"):
            continue  # no AppArmor/SELinux here; systempaths handled with privileged
        else:
            raise InvalidArgument(f"invalid --security-opt: {opt!r}")
    return SecurityOpts(nnp, profile, unconfined)


def docker_profile_to_oci(profile: dict) -> dict:
    """docker's seccomp profile format (names/action/args, archMap) -> OCI linux.seccomp."""
    arches = list(profile.get("architectures") or [])
    for m in profile.get("archMap") or []:
        arches += [m.get("architecture")] + list(m.get("subArchitectures") or [])
    out = {"defaultAction": profile.get("defaultAction", "SCMP_ACT_ERRNO"),
           "architectures": [a for a in arches if a], "syscalls": []}
    if "defaultErrnoRet" in profile:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    for sc in profile.get("syscalls") or []:
        names = list(sc.get("names") or ([sc["name"]] if sc.get("name") else []))
        entry = {"names": names, "action": sc.get("action", "SCMP_ACT_ALLOW")}
        if "errnoRet" in sc:
            entry["errnoRet"] = sc["errnoRet"]
        if sc.get("args"):
            entry["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op") if k in a}
                             for a in sc["args"]]
        out["syscalls"].append(entry)
    return out


def oci_devices(entries: list[DeviceMapping]) -> tuple[list[dict], list[dict]]:
    """HostConfig.Devices -> (linux.devices, device cgroup allow rules)."""
    devs, rules = [], []
    for e in entries:
        try:
            st = os.stat(e.PathOnHost)
        except OSError as err:
            raise InvalidArgument(f"error gathering device information while adding custom "
                                  f"device \"{e.PathOnHost}\": no such file or "
                                  "directory") from err
        if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
            raise InvalidArgument(f"error gathering device information while adding custom "
                                  f"device \"{e.PathOnHost}\": not a device node")
        typ = "c" if stat.S_ISCHR(st.st_mode) else "b"
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
        devs.append({"type": typ, "path": e.PathInContainer or e.PathOnHost,
                     "major": major, "minor": minor, "fileMode": stat.S_IMODE(st.st_mode),
                     "uid": st.st_uid, "gid": st.st_gid})
        rules.append({"allow": True, "type": typ, "major": major, "minor": minor,
                      "access": e.CgroupPermissions or "rwm"})
    return devs, rules


def host_devices() -> list[DeviceMapping]:
    """Every char/block device directly under the host's /dev (for --privileged)."""
    out = []
    for name in sorted(os.listdir("/dev")):
        path = os.path.join("/dev", name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            out.append(DeviceMapping(path, path, "rwm"))
    return out
