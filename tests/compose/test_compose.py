"""docker-compose 1.29 (Debian's, on docker-py) runs a real project on a test daemon's
socket: a built service, a healthchecked one that gates the others, an HTTP one with
a bind mount and a published port, two networks with aliases, a named volume; then
ps, logs, exec, run, top, scale, stop/start/restart, an `up` that changes nothing,
and a `down` that leaves nothing behind (checked through the API and the kernel).

Compose takes docker-py's paths here (COMPOSE_DOCKER_CLI_BUILD=0,
COMPOSE_INTERACTIVE_NO_CLI=1): its defaults hand build and exec to a `docker` CLI,
which need not be installed. What compose sends is described request by request in
../shared/clients/compose-1.29-requests.md."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
import uuid
from urllib.parse import quote

import pytest

from dockling.network import bridge
from dockling.testing.net import free_port
from tests.engine.conftest import running_daemon

COMPOSE = shutil.which("docker-compose")
pytestmark = [pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed"),
              pytest.mark.timeout(600)]

DOCKERFILE = """\
FROM busybox
ARG APP_VERSION=dev
RUN mkdir -p /www && echo "built $APP_VERSION" > /www/index.html
COPY hello.txt /www/hello.txt
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"""

# db: healthy once it has written /data/ready (2 s after it starts); it stops on
# SIGUSR1 (its StopSignal) and says so. app: records at its start whether db's
# volume already held the file, which it can only if `service_healthy` held it back.
COMPOSE_FILE = """\
version: "2.4"
services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'echo db-stopping; exit 0' USR1; echo db-starting; sleep 2;
              echo ok > /data/ready; echo db-ready; while true; do sleep 1; done"]
    stop_signal: SIGUSR1
    volumes:
      - dbdata:/data
    healthcheck:
      test: ["CMD", "test", "-f", "/data/ready"]
      interval: 1s
      timeout: 2s
      retries: 60
    networks:
      back:
        aliases: [database]
  app:
    build:
      context: ./app
      args:
        APP_VERSION: v-compose
    command: ["sh", "-c", "cat /shared/ready > /www/dbstate 2>&1 || echo not-ready > /www/dbstate;
              exec httpd -f -p 8080 -h /www"]
    init: true
    volumes:
      - dbdata:/shared:ro
    depends_on:
      db:
        condition: service_healthy
    networks: [default, back]
  web:
    image: busybox
    command: httpd -f -p 80 -h /srv
    init: true
    volumes:
      - ./site:/srv:ro
    ports:
      - "127.0.0.1:{port}:80"
    depends_on: [app]
volumes:
  dbdata: {{}}
networks:
  back:
    driver_opts:
      com.docker.network.driver.mtu: "1400"
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, busybox_tar):
    with running_daemon(tmp_path_factory, busybox_tar) as d:
        yield d


class Project:
    """A compose project in a temp dir, with a name of its own, on the daemon's socket."""

    def __init__(self, daemon, base: str, docker_paths: bool = False) -> None:
        self.d = daemon
        self.docker_paths = docker_paths  # compose's defaults: build and exec by `docker`
        self.dir = base
        self.name = f"cp{uuid.uuid4().hex[:8]}"
        self.port = free_port("127.0.0.1")
        os.makedirs(os.path.join(base, "app"))
        os.makedirs(os.path.join(base, "site"))
        for path, text in (("app/Dockerfile", DOCKERFILE), ("app/hello.txt", "hello-copy\n"),
                           ("site/index.html", "site-bind\n"),
                           ("docker-compose.yml", COMPOSE_FILE.format(port=self.port))):
            with open(os.path.join(base, path), "w") as f:
                f.write(text)

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DOCKER_", "COMPOSE_"))}
        env.update(DOCKER_HOST=f"unix://{self.d.sock}", DOCKER_CONFIG=os.path.join(
            self.dir, ".d"))
        if not self.docker_paths:
            env.update(COMPOSE_DOCKER_CLI_BUILD="0", COMPOSE_INTERACTIVE_NO_CLI="1")
        res = subprocess.run([COMPOSE, "-p", self.name, *args], cwd=self.dir, env=env,
                             capture_output=True, text=True, stdin=subprocess.DEVNULL,
                             timeout=180, check=False)
        if check:
            assert res.returncode == 0, (args, res.returncode, res.stdout, res.stderr)
        return res

    def exec(self, service: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return self("exec", "-T", service, *cmd, check=check)

    def containers(self, **labels: str) -> list[dict]:
        """The project's containers (all states) as the API lists them."""
        want = [f"com.docker.compose.project={self.name}"] + [
            f"com.docker.compose.{k}={v}" for k, v in labels.items()]
        status, _, body = self.d.api(
            "GET", "/containers/json?all=1&filters=" + quote(json.dumps({"label": want})))
        assert status == 200, body
        return body

    def inspect(self, ref: str) -> dict:
        status, _, body = self.d.api("GET", f"/containers/{ref}/json")
        assert status == 200, body
        return body

    def remove_all(self) -> None:
        """Whatever a failed test left: containers, networks, volumes, the built image."""
        self("down", "-v", "--rmi", "local", "--remove-orphans", "-t", "1", check=False)
        for c in self.containers():
            self.d.api("DELETE", f"/containers/{c['Id']}?force=1&v=1")
        for net in ("default", "back"):
            self.d.api("DELETE", f"/networks/{self.name}_{net}")
        self.d.api("DELETE", f"/volumes/{self.name}_dbdata")
        self.d.api("DELETE", f"/images/{self.name}_app?force=1")


@pytest.fixture
def project(daemon, tmp_path):
    p = Project(daemon, str(tmp_path / "proj"))
    try:
        yield p
    finally:
        p.remove_all()


@pytest.fixture
def docker_project(daemon, tmp_path):
    if shutil.which("docker") is None:
        pytest.skip("compose's default paths need the docker CLI")
    p = Project(daemon, str(tmp_path / "proj"), docker_paths=True)
    try:
        yield p
    finally:
        p.remove_all()


def http_get(port: int, path: str = "/") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.read().decode()


def image_ids(daemon) -> set[str]:
    return {i["Id"] for i in daemon.api("GET", "/images/json?all=1")[2]}


def test_a_project_from_build_to_down(project, daemon):
    p = project
    images_before = image_ids(daemon)
    up = p("up", "-d")
    assert "Successfully built" in up.stdout + up.stderr  # compose's only way to the ID

    # ps: every service up, the health check passed, the port as docker shows it
    ps = p("ps").stdout
    rows = {line.split()[0]: line for line in ps.splitlines() if line.startswith(p.name)}
    assert sorted(rows) == [f"{p.name}_{s}_1" for s in ("app", "db", "web")], ps
    assert "Up (healthy)" in rows[f"{p.name}_db_1"]
    assert f"127.0.0.1:{p.port}->80/tcp" in rows[f"{p.name}_web_1"]
    assert p.inspect(f"{p.name}_db_1")["State"]["Health"]["Status"] == "healthy"

    # the published port from the host, served from the read-only bind mount
    assert http_get(p.port) == "site-bind\n"
    assert p.exec("web", "sh", "-c", "echo x > /srv/f", check=False).returncode != 0

    # depends_on: service_healthy held app back until db's volume had the file
    assert p.exec("web", "wget", "-qO-", "http://app:8080/dbstate").stdout == "ok\n"
    # the built image: its RUN with the build arg, its COPY
    assert p.exec("web", "wget", "-qO-", "http://app:8080/").stdout == "built v-compose\n"
    assert p.exec("web", "wget", "-qO-", "http://app:8080/hello.txt").stdout == "hello-copy\n"

    # names: service names and aliases on the networks the asker shares, nothing else
    for name in ("db", "database", "app", "web"):
        assert p.exec("app", "nslookup", name, check=False).returncode == 0, name
    assert p.exec("web", "nslookup", "db", check=False).returncode != 0  # db: back only
    back = daemon.api("GET", f"/networks/{p.name}_back")[2]
    assert back["Options"] == {"com.docker.network.driver.mtu": "1400"}
    mtus = p.exec("app", "cat", "/sys/class/net/eth0/mtu", "/sys/class/net/eth1/mtu").stdout
    assert sorted(mtus.split()) == ["1400", "1500"], mtus  # back's driver_opts, default's
    default = daemon.api("GET", f"/networks/{p.name}_default")[2]
    assert default["Options"] == {}
    devices = ["br-" + default["Id"][:12], "br-" + back["Id"][:12]]
    assert all(bridge.link_exists(dev) for dev in devices)

    # exec with env, user, working directory and an exit status
    res = p("exec", "-T", "-e", "P_X=42", "-u", "65534", "-w", "/tmp", "app", "sh", "-c",
            'echo "$P_X $(id -u) $(pwd)"; exit 3', check=False)
    assert (res.returncode, res.stdout) == (3, "42 65534 /tmp\n"), res.stderr

    # logs (all, and the last line with its timestamp), top
    logs = p("logs", "--no-color", "db").stdout
    assert "db-starting" in logs and "db-ready" in logs, logs
    last = p("logs", "--no-color", "-t", "--tail=1", "db").stdout.strip().splitlines()[-1]
    assert last.split("|", 1)[1].split()[1] == "db-ready" and "T" in last, last
    top = p("top", "db").stdout
    assert "UID" in top and "PID" in top and "sleep" in top, top

    # run --rm: a one-off container on the project's networks, its exit status, gone
    # after. Compose (dockerpty) attaches after the start, so with docker too a program
    # that ends at once may end unattached, its output unseen: this one waits a little.
    res = p("run", "--rm", "-T", "app", "sh", "-c", "sleep 1; nslookup database >/dev/null "
            "&& echo resolved; cat /www/index.html; exit 4", check=False)
    assert (res.returncode, res.stdout) == (4, "resolved\nbuilt v-compose\n"), res.stderr
    assert p.containers(oneoff="True") == []

    # scale up (each replica answers to the service's name), then down
    p("up", "-d", "--scale", "app=3")
    assert len(p.containers(service="app")) == 3
    answer = p.exec("web", "nslookup", "app").stdout
    addresses = {c["NetworkSettings"]["Networks"][f"{p.name}_default"]["IPAddress"]
                 for c in p.containers(service="app")}
    assert all(a in answer for a in addresses), answer
    p("scale", "app=2")
    assert len(p.containers(service="app")) == 2

    # stop uses the service's stop signal; start and restart bring all back
    p("stop", "-t", "20")
    states = {c["Names"][0]: c["State"] for c in p.containers()}
    assert set(states.values()) == {"exited"}, states
    db = p.inspect(f"{p.name}_db_1")
    assert db["State"]["ExitCode"] == 0 and db["Config"]["StopSignal"] == "SIGUSR1"
    assert "db-stopping" in p("logs", "--no-color", "db").stdout
    p("start")
    assert {c["State"] for c in p.containers()} == {"running"}
    web_started = p.inspect(f"{p.name}_web_1")["State"]["StartedAt"]
    p("restart", "web")
    assert p.inspect(f"{p.name}_web_1")["State"]["StartedAt"] != web_started
    assert http_get(p.port) == "site-bind\n"

    # an up that changes nothing: the same containers, no network recreated
    ids = sorted(c["Id"] for c in p.containers())
    again = p("up", "-d", "--scale", "app=2")
    out = again.stdout + again.stderr
    assert "needs to be recreated" not in out and "Recreating" not in out, out
    assert out.count("is up-to-date") == 4, out
    assert sorted(c["Id"] for c in p.containers()) == ids

    # down -v --rmi local: no container, network, volume, built image or bridge left
    p("down", "-v", "--rmi", "local", "-t", "20")
    assert p.containers() == []
    names = [n["Name"] for n in daemon.api("GET", "/networks")[2]]
    assert not [n for n in names if n.startswith(p.name)], names
    vols = daemon.api("GET", "/volumes")[2]["Volumes"] or []
    assert not [v["Name"] for v in vols if v["Name"].startswith(p.name)], vols
    assert daemon.api("GET", f"/images/{p.name}_app/json")[0] == 404
    assert image_ids(daemon) == images_before
    assert not [dev for dev in devices if bridge.link_exists(dev)]


def test_compose_defaults_through_the_docker_cli(docker_project):
    """Without the COMPOSE_* switches compose builds with `docker build` (the classic
    builder, no buildx), runs exec as `docker exec` and run as `docker start --attach`
    (attached before the start, so even a quick program's output arrives)."""
    p = docker_project
    up = p("up", "-d")
    assert "Successfully built" in up.stdout + up.stderr
    assert http_get(p.port) == "site-bind\n"
    res = p("exec", "-T", "-e", "P_X=7", "app", "sh", "-c", 'echo "cli $P_X"; exit 5',
            check=False)
    assert (res.returncode, res.stdout) == (5, "cli 7\n"), res.stderr
    res = p("run", "--rm", "-T", "app", "sh", "-c", "echo ran; exit 6", check=False)
    assert (res.returncode, res.stdout) == (6, "ran\n"), res.stderr
    assert p.containers(oneoff="True") == []
    again = p("up", "-d")
    assert "needs to be recreated" not in again.stderr and "Recreating" not in again.stderr
    p("down", "-v", "--rmi", "local", "-t", "20")
    assert p.containers() == []
