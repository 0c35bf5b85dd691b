"""The API's filters as docker applies them: the query's two JSON forms, and the
container list, image list, events, network and volume filters. Values of one key
are OR-ed, keys are AND-ed. No daemon: records and stand-in stores."""

from __future__ import annotations

import io
import json
import re
import urllib.parse

import pytest

from dockling import events
from dockling.api.routing import Request
from dockling.containers.filters import Query
from dockling.containers.model import (
    Config,
    Container,
    EndpointSettings,
    Health,
    MountSpec,
    PortBinding,
    State,
)
from dockling.errors import InvalidArgument, NotFound
from dockling.images import filters as image_filters
from dockling.images.model import ContainerConfig
from dockling.network import filters as net_filters
from dockling.network.model import Network
from dockling.volumes import store as volume_store
from dockling.volumes.model import Volume

BUSYBOX = "sha256:" + "b" * 64
ALPINE = "sha256:" + "a" * 64


def request(filters) -> Request:
    q = urllib.parse.urlencode({"filters": filters if isinstance(filters, str)
                                else json.dumps(filters)})
    return Request("GET", f"/containers/json?{q}", {}, io.BytesIO(), {})


def test_query_forms():
    assert request({"status": ["running", "exited"]}).filters() == {
        "status": ["running", "exited"]}
    # the old form (API < 1.22 clients, docker-py's dicts): {"k": {"v": true}}
    assert request({"label": {"a=1": True, "b": False}}).filters() == {"label": ["a=1"]}
    assert Request("GET", "/containers/json", {}, io.BytesIO(), {}).filters() == {}
    with pytest.raises(InvalidArgument):
        request("[1, 2]").filters()
    with pytest.raises(InvalidArgument):
        request("{not json").filters()


# -- containers -------------------------------------------------------------------------
class FakeImages:
    def __init__(self) -> None:
        self.tags = {"busybox": BUSYBOX, "busybox:latest": BUSYBOX, "alpine:3": ALPINE}

    def resolve(self, name: str) -> str:
        if name in self.tags:
            return self.tags[name]
        for full in (BUSYBOX, ALPINE):
            if full.removeprefix("sha256:").startswith(name.removeprefix("sha256:")):
                return full
        raise NotFound(f"No such image: {name}")


def container(name: str, status: str = "running", code: int = 0, image: str = BUSYBOX,
              image_ref: str = "busybox", labels: dict | None = None,
              cid: str = "") -> Container:
    return Container(Id=cid or (name.encode().hex() * 64)[:64], Name="/" + name, Image=image,
                     Config=Config(Image=image_ref, Labels=labels or {}),
                     State=State(Status=status, ExitCode=code))


WEB = container("web-1", labels={"app": "web", "tier": "front"}, cid="abc123" + "0" * 58)
DB = container("db", status="exited", code=3, image=ALPINE, image_ref="alpine:3",
               labels={"app": "db"}, cid="def456" + "0" * 58)
NEW = container("fresh", status="created", image_ref="busybox:latest", cid="abd000" + "0" * 58)
ALL = [WEB, DB, NEW]


def ps(filters: dict) -> list[str]:
    query = Query(filters, FakeImages(), {c.Name[1:]: c for c in ALL}.__getitem__)
    return [c.Name[1:] for c in ALL if query.matches(c)]


@pytest.mark.parametrize("filters, names", [
    ({}, ["web-1", "db", "fresh"]),
    ({"status": ["running"]}, ["web-1"]),
    ({"status": ["running", "exited"]}, ["web-1", "db"]),
    ({"name": ["web"]}, ["web-1"]),                  # part of the name
    ({"name": ["^d"]}, ["db"]),                      # a regular expression
    ({"name": ["^/db$"]}, ["db"]),                   # with docker's leading slash too
    ({"name": ["^fresh$", "^db$"]}, ["db", "fresh"]),
    ({"id": ["ab"]}, ["web-1", "fresh"]),            # an ID prefix
    ({"id": ["def456"]}, ["db"]),
    ({"label": ["app"]}, ["web-1", "db"]),
    ({"label": ["app=web"]}, ["web-1"]),
    ({"label": ["app", "tier=front"]}, ["web-1"]),   # labels: every one must match
    ({"label": ["app=nope"]}, []),
    ({"ancestor": ["busybox"]}, ["web-1", "fresh"]),
    ({"ancestor": ["busybox:latest"]}, ["web-1", "fresh"]),
    ({"ancestor": ["aaaa"]}, ["db"]),                # by image ID prefix
    ({"ancestor": ["alpine:3", "busybox"]}, ["web-1", "db", "fresh"]),
    ({"ancestor": ["missing:tag"]}, []),
    ({"exited": ["3"]}, ["db"]),
    ({"exited": ["0"]}, []),                         # running containers have no exit
    ({"status": ["running"], "label": ["app"]}, ["web-1"]),
    ({"status": ["exited"], "name": ["web"]}, []),
    ({"status": []}, ["web-1", "db", "fresh"]),      # a key without values: no filter
])
def test_container_filters(filters, names):
    assert ps(filters) == names


def test_more_container_filters():
    """moby's other ps filters: before/since (creation order), health, volume, network,
    publish (host ports) and expose (container ports), is-task."""
    a, b, c = (container(n) for n in ("a", "b", "c"))
    a.Created, b.Created, c.Created = "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", \
        "2026-01-01T00:00:03Z"
    b.State.Health = Health(Status="healthy")
    b._MountPoints = [MountSpec(Type="volume", Name="data", Source="/v/data/_data",
                                Destination="/srv")]
    c.NetworkSettings.Networks["web"] = EndpointSettings(NetworkID="f00d" + "0" * 60)
    c.NetworkSettings.Ports = {"80/tcp": [PortBinding("0.0.0.0", "8080")], "53/udp": None}
    every = {x.Name[1:]: x for x in (a, b, c)}

    def names(filters):
        q = Query(filters, FakeImages(), every.__getitem__)
        return [x.Name[1:] for x in every.values() if q.matches(x)]

    assert names({"before": ["c"]}) == ["a", "b"] and names({"since": ["a"]}) == ["b", "c"]
    assert names({"health": ["healthy"]}) == ["b"]
    assert names({"health": ["none"]}) == ["a", "c"]
    assert names({"volume": ["data"]}) == names({"volume": ["/srv"]}) == ["b"]
    assert names({"network": ["web"]}) == names({"network": ["f00d"]}) == ["c"]
    assert names({"publish": ["8080"]}) == names({"publish": ["8000-8090/tcp"]}) == ["c"]
    assert names({"publish": ["80"]}) == [] and names({"expose": ["80"]}) == ["c"]
    assert names({"expose": ["53/udp"]}) == ["c"] and names({"expose": ["53"]}) == []
    assert names({"is-task": ["true"]}) == [] and len(names({"is-task": ["false"]})) == 3


@pytest.mark.parametrize("filters, message", [
    ({"bogus": ["1"]}, "invalid filter 'bogus'"),
    ({"status": ["up"]}, "Unrecognised filter value for status: up"),
    ({"health": ["sick"]}, "Unrecognised filter value for health: sick"),
    ({"exited": ["x"]}, "invalid filter 'exited=x'"),
])
def test_container_filters_refused_as_docker(filters, message):
    with pytest.raises(InvalidArgument, match=f"^{re.escape(message)}$"):
        ps(filters)


def test_before_names_a_container():
    with pytest.raises(NotFound):
        Query({"before": ["ghost"]}, FakeImages(), _missing)


def _missing(ref):
    raise NotFound(f"No such container: {ref}")


# -- images -----------------------------------------------------------------------------
class Img:
    def __init__(self, iid: str, created: str, tags: list[str], labels=None) -> None:
        self.id = iid
        self.created = created
        self.tags = tags
        self.container_config = ContainerConfig(Labels=labels or {})


OLD = Img("sha256:" + "1" * 64, "2024-01-01T00:00:00Z", ["busybox:latest", "busybox:1.36"],
          {"maintainer": "me"})
MID = Img("sha256:" + "2" * 64, "2024-02-01T00:00:00Z", ["example.com/team/app:v1"])
DANGLING = Img("sha256:" + "3" * 64, "2024-03-01T00:00:00Z", [], {"stage": "build"})
IMAGES = [OLD, MID, DANGLING]


class ImageStoreStub:
    def resolve(self, name: str) -> str:
        tag = name if ":" in name else name + ":latest"
        for img in IMAGES:
            if tag in img.tags or img.id.removeprefix("sha256:").startswith(name):
                return img.id
        raise NotFound(f"No such image: {name}")

    def load(self, iid: str) -> Img:
        return next(i for i in IMAGES if i.id == iid)


def image_list(filters: dict) -> list[str]:
    return [i.id[7:8] for i in IMAGES if image_filters.matches(i, filters, ImageStoreStub())]


@pytest.mark.parametrize("filters, ids", [
    ({}, ["1", "2", "3"]),
    ({"dangling": ["true"]}, ["3"]),
    ({"dangling": ["false"]}, ["1", "2"]),
    ({"reference": ["busybox"]}, ["1"]),
    ({"reference": ["busybox:1.36"]}, ["1"]),
    ({"reference": ["busybox:9"]}, []),
    ({"reference": ["busy*"]}, ["1"]),
    ({"reference": ["example.com/team/*"]}, ["2"]),
    ({"reference": ["busybox", "example.com/team/app"]}, ["1", "2"]),
    ({"label": ["maintainer"]}, ["1"]),
    ({"label": ["stage=build"]}, ["3"]),
    ({"label": ["stage=run"]}, []),
    ({"before": ["example.com/team/app:v1"]}, ["1"]),
    ({"since": ["busybox"]}, ["2", "3"]),
    ({"since": ["busybox"], "dangling": ["true"]}, ["3"]),
    ({"before": ["nothing:here"]}, []),
])
def test_image_filters(filters, ids):
    assert image_list(filters) == ids


# -- events -----------------------------------------------------------------------------
def event(typ: str, action: str, actor: str, **attrs) -> dict:
    return {"Type": typ, "Action": action, "Actor": {"ID": actor, "Attributes": attrs},
            "scope": "local"}


CID = "c0ffee" + "0" * 58
EVENTS = {
    "create": event("container", "create", CID, name="web", image="busybox", app="web"),
    "health": event("container", "health_status: healthy", CID, name="web", image="busybox"),
    "pull": event("image", "pull", "busybox:latest", name="busybox:latest"),
    "tag": event("image", "tag", "sha256:" + "1" * 64, name="busybox:mine"),
    "vol": event("volume", "create", "data", driver="local"),
    "net": event("network", "connect", "n" * 64, name="bridge", container=CID),
}


def seen(filters: dict) -> list[str]:
    return [k for k, ev in EVENTS.items() if events.matches(ev, filters)]


@pytest.mark.parametrize("filters, keys", [
    ({}, list(EVENTS)),
    ({"type": ["container"]}, ["create", "health"]),
    ({"type": ["volume", "network"]}, ["vol", "net"]),
    ({"event": ["create"]}, ["create", "vol"]),
    ({"event": ["health_status"]}, ["health"]),      # docker: the prefix before ':'
    ({"event": ["health"]}, []),
    ({"container": ["c0ffee"]}, ["create", "health"]),  # an ID prefix, and only containers
    ({"container": ["web"]}, ["create", "health"]),     # or the name
    ({"volume": ["data"]}, ["vol"]),
    ({"network": ["bridge"]}, ["net"]),
    ({"image": ["busybox"]}, ["create", "health"]),
    ({"image": ["busybox:latest"]}, ["pull"]),
    ({"image": ["1" * 64]}, ["tag"]),                  # an image event by its ID
    ({"label": ["app"]}, ["create"]),
    ({"label": ["app=web"]}, ["create"]),
    ({"label": ["app=db"]}, []),
    ({"label": ["app", "name=web"]}, ["create"]),     # every value must hold (moby's
    ({"label": ["app", "app=db"]}, []),               # MatchKVList), not any one
    ({"scope": ["local"]}, list(EVENTS)),
    ({"scope": ["swarm"]}, []),
    ({"type": ["container"], "event": ["create", "pull"]}, ["create"]),
])
def test_event_filters(filters, keys):
    assert seen(filters) == keys


# -- networks and volumes -----------------------------------------------------------------
def test_network_filters():
    nets = [Network(Name="bridge", Id="b" * 64, Driver="bridge", Scope="local"),
            Network(Name="mine", Id="m" * 64, Driver="bridge", Scope="local",
                    Labels={"env": "test"}),
            Network(Name="host", Id="h" * 64, Driver="host", Scope="local")]

    def ls(filters, used=()):
        return [n.Name for n in nets
                if net_filters.matches(n, filters, lambda n: n.Name in used)]

    assert ls({"driver": ["bridge"]}) == ["bridge", "mine"]
    assert ls({"type": ["custom"]}) == ["mine"]
    assert ls({"type": ["builtin"]}) == ["bridge", "host"]
    assert ls({"name": ["mi"]}) == ["mine"]
    assert ls({"id": ["hh"]}) == ["host"]
    assert ls({"label": ["env=test"]}) == ["mine"]
    assert ls({"label!": ["env"]}) == ["bridge", "host"]
    assert ls({"dangling": ["true"]}) == ["mine"]       # custom and unused
    assert ls({"dangling": ["true"]}, used=("mine",)) == []


def test_volume_filters():
    vols = [Volume(Name=name, Driver="local", Labels=labels, Mountpoint="", Options=None,
                   Scope="local") for name, labels in (("data", {"keep": "1"}), ("cache", {}))]
    users = {"data": ["c1"]}

    def ls(filters):
        return [v.Name for v in vols if volume_store._matches(v, filters, users)]

    assert ls({"dangling": ["true"]}) == ["cache"]
    assert ls({"dangling": ["false"]}) == ["data"]
    assert ls({"name": ["at"]}) == ["data"]
    assert ls({"label": ["keep"]}) == ["data"]
    assert ls({"label!": ["keep=1"]}) == ["cache"]
    assert ls({"driver": ["other"]}) == []
