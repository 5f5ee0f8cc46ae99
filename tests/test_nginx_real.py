"""The rendered stream config in a real, private nginx, in front of fake IM nodes, on loopback only.

Fake nodes listen on 127.0.1.x, all on the same three service ports as real nodes do; nginx listens
on 127.0.2.1.  Every nginx here runs from its own prefix with its own pid file and error log.
"""

from __future__ import annotations

import os
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import yaml

from tests.loopback import free_ports
from wfga.plan.cloudinit import STAGED_CONF, bootstrap_files, render_delivery, render_user_data
from wfga.plan.nginx import render_nginx_conf
from wfga.plan.portplan import SERVICES, PortMapping

NGINX = "/usr/sbin/nginx"
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
LISTEN = "127.0.2.1"
NODE_NET = "127.0.1."


def require_nginx() -> None:
    missing = [p for p in (NGINX, STREAM_MODULE) if not os.path.exists(p)]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{', '.join(missing)} missing; CI must prove the config with a real nginx")
        pytest.skip(f"{', '.join(missing)} missing (apt-get install nginx libnginx-mod-stream)")


class _Handler(socketserver.BaseRequestHandler):
    """Greets with "<node> <service>", then echoes, like a node that proves who answered."""

    server: _NodeServer

    def handle(self) -> None:
        self.request.sendall(f"{self.server.node} {self.server.service}\n".encode())
        while data := self.request.recv(4096):
            self.request.sendall(data)


class _NodeServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], node: str, service: str) -> None:
        self.node = node
        self.service = service
        super().__init__(address, _Handler)


@dataclass
class FakeNodes:
    ports: dict[str, int]
    servers: list[_NodeServer] = field(default_factory=list)

    def add(self, node: str, ip: str) -> None:
        for service in SERVICES:
            server = _NodeServer((ip, self.ports[service]), node, service)
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            self.servers.append(server)

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def nodes() -> Iterator[FakeNodes]:
    require_nginx()
    first = f"{NODE_NET}1"
    fake = FakeNodes(ports=dict(zip(SERVICES, free_ports(first, 3), strict=True)))
    try:
        for i in range(1, 5):
            fake.add(f"im-{i}", f"{NODE_NET}{i}")
        yield fake
    finally:
        fake.close()


def plan(nodes: FakeNodes, count: int, public: dict[str, int], idle: int = 900) -> list[PortMapping]:
    """Mappings of nodes im-1..im-count, public port of node i and service s = public[s] + i."""
    return [
        PortMapping("lo", "vm-1", f"im-{i}", s, public[s] + i, f"{NODE_NET}{i}", nodes.ports[s], idle)
        for i in range(1, count + 1)
        for s in SERVICES
    ]


def public_bases() -> dict[str, int]:
    """Three bases with four consecutive free ports after each (nodes 1..4)."""
    while True:
        bases = free_ports(LISTEN, 3)
        wanted = [b + i for b in bases for i in range(1, 5)]
        if len(set(wanted)) == len(wanted) and all(b + 4 <= 65535 for b in bases):
            try:
                probes = []
                for port in wanted:
                    s = socket.socket()
                    probes.append(s)
                    s.bind((LISTEN, port))
                return dict(zip(SERVICES, bases, strict=True))
            except OSError:
                continue
            finally:
                for s in probes:
                    s.close()


@dataclass
class Nginx:
    prefix: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    def command(self, *extra: str) -> list[str]:
        return [NGINX, "-p", str(self.prefix), "-c", str(self.conf), "-e", str(self.error_log), *extra]

    def render(self, mappings: list[PortMapping]) -> None:
        self.conf.write_text(
            render_nginx_conf(
                mappings,
                listen_address=LISTEN,
                connections=500,
                worker_processes=2,
                pid_path=str(self.prefix / "nginx.pid"),
                error_log=str(self.error_log),
                stream_module=STREAM_MODULE,
            )
        )

    def start(self, mappings: list[PortMapping]) -> None:
        self.render(mappings)
        # Its own session, so a stuck instance can be killed with every worker it forked, by group id.
        self.procs.append(subprocess.Popen(self.command("-g", "daemon off;"), start_new_session=True))
        wait_until(lambda: listening(mappings[0].public_port), what="nginx to listen")
        # The master writes its pid file after it starts listening.
        wait_until((self.prefix / "nginx.pid").exists, what="nginx's pid file")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)

    def test_config(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30, check=False)

    def master_pid(self) -> int:
        return int((self.prefix / "nginx.pid").read_text())

    def workers(self) -> set[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.master_pid())], capture_output=True, text=True, check=False
        )
        return {int(p) for p in out.stdout.split()}


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    require_nginx()
    instance = Nginx(tmp_path)
    try:
        yield instance
    finally:
        instance.stop()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def listening(port: int) -> bool:
    try:
        socket.create_connection((LISTEN, port), timeout=1).close()
    except OSError:
        return False
    return True


class Link:
    """A client connection through nginx that has read its node's greeting."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((LISTEN, port), timeout=5)
        self.file = self.sock.makefile("rb")
        self.greeting = self.file.readline().decode().strip()
        self.greeted_at = time.monotonic()

    def echo(self, payload: bytes) -> bytes:
        self.sock.sendall(payload + b"\n")
        return self.file.readline().rstrip(b"\n")

    def closed_after(self, limit: float) -> float | None:
        """Seconds from the greeting until nginx closed the link, None if still open after ``limit``."""
        self.sock.settimeout(max(0.0, self.greeted_at + limit - time.monotonic()))
        try:
            data = self.file.read(1)
        except TimeoutError:
            return None
        assert data == b"", f"unexpected data {data!r}"
        return time.monotonic() - self.greeted_at

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_every_public_port_reaches_its_node_and_service(nodes: FakeNodes, nginx: Nginx) -> None:
    mappings = plan(nodes, 3, public_bases())
    nginx.start(mappings)
    for m in mappings:
        link = Link(m.public_port)
        try:
            assert link.greeting == f"{m.node} {m.service}", m
            assert link.echo(f"hello {m.public_port}".encode()) == f"hello {m.public_port}".encode()
        finally:
            link.close()


def test_nginx_accepts_the_rendered_config_and_needs_the_stream_module(nodes: FakeNodes, nginx: Nginx) -> None:
    nginx.render(plan(nodes, 3, public_bases()))
    result = nginx.test_config()
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    without_module = "\n".join(line for line in nginx.conf.read_text().splitlines() if "load_module" not in line)
    nginx.conf.write_text(without_module)
    result = nginx.test_config()
    assert result.returncode != 0
    assert 'unknown directive "stream"' in result.stderr


def test_the_debian_user_data_config_passes_nginx_t(tmp_path: Path) -> None:
    """The exact config the Debian user data ships, loading the module through modules-enabled."""
    require_nginx()
    mappings = [PortMapping("lo", "vm-1", "im-1", s, 81 + i, "10.0.0.1", 80 + i, 900) for i, s in enumerate(SERVICES)]
    shipped = yaml.safe_load(render_user_data(mappings, distro="debian"))
    conf = next(f["content"] for f in shipped["write_files"] if f["path"] == STAGED_CONF)
    # Only the log moves to the private prefix: nginx -t opens it, and the system one needs root.
    error_log = tmp_path / "error.log"
    conf = conf.replace("error_log /var/log/nginx/error.log warn;", f"error_log {error_log} warn;")
    assert str(error_log) in conf
    (tmp_path / "nginx.conf").write_text(conf)
    # Debian's module snippet names the module relative to the prefix.
    (tmp_path / "modules").symlink_to(Path(STREAM_MODULE).parent)
    result = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(error_log)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_reload_adds_a_node_and_keeps_open_links(nodes: FakeNodes, nginx: Nginx) -> None:
    public = public_bases()
    before = plan(nodes, 3, public)
    nginx.start(before)
    master = nginx.master_pid()
    old_workers = nginx.workers()
    links = {m: Link(m.public_port) for m in before}
    try:
        assert all(link.greeting == f"{m.node} {m.service}" for m, link in links.items())
        after = plan(nodes, 4, public)
        nginx.render(after)
        reload = subprocess.run(nginx.command("-s", "reload"), capture_output=True, text=True, timeout=30, check=False)
        assert reload.returncode == 0, reload.stderr
        added = [m for m in after if m.node == "im-4"]
        wait_until(lambda: all(listening(m.public_port) for m in added), what="the new node's ports")
        # The new generation of workers has taken over, while the master never restarted.
        wait_until(lambda: bool(nginx.workers() - old_workers), what="new workers")
        assert nginx.master_pid() == master
        for m, link in links.items():
            assert link.echo(f"after reload {m.key}".encode()) == f"after reload {m.key}".encode()
        for m in added:
            link = Link(m.public_port)
            try:
                assert link.greeting == f"im-4 {m.service}"
                assert link.echo(b"new") == b"new"
            finally:
                link.close()
        for m, link in links.items():
            assert link.echo(b"still here") == b"still here", m
    finally:
        for link in links.values():
            link.close()


IDLE_S = 2


def test_idle_links_live_until_the_idle_timeout_and_no_longer(nodes: FakeNodes, nginx: Nginx) -> None:
    mappings = plan(nodes, 1, public_bases(), idle=IDLE_S)
    nginx.start(mappings)
    quiet = [Link(m.public_port) for m in mappings]
    chatty = [Link(m.public_port) for m in mappings]
    try:

        def keep_talking(link: Link) -> bool:
            # Idle for three quarters of the bound, twice: well past the bound in total.
            for _ in range(2):
                time.sleep(0.75 * IDLE_S)
                if link.echo(b"heartbeat") != b"heartbeat":
                    return False
            return True

        with ThreadPoolExecutor(len(quiet) + len(chatty)) as pool:
            closing = [pool.submit(link.closed_after, IDLE_S + 2.0) for link in quiet]
            talking = [pool.submit(keep_talking, link) for link in chatty]
            closes = [f.result() for f in closing]
            alive = [f.result() for f in talking]
        assert alive == [True] * len(chatty)
        for m, closed in zip(mappings, closes, strict=True):
            assert closed is not None, f"{m.key}: still open {IDLE_S + 2.0} s after going idle"
            # nginx relays the greeting a moment before the client stamps it; allow that moment.
            assert closed >= IDLE_S - 0.1, f"{m.key}: closed after {closed:.2f} s, before the {IDLE_S} s timeout"
    finally:
        for link in quiet + chatty:
            link.close()


# --- day 2: the exact delivery script against a running nginx -------------------------------------

# Stand-ins that route the delivery's systemctl and nginx calls to the private instance, as the
# distribution's unit would (ExecReload: nginx -s reload).  A restart of nginx fails the test.
_SYSTEMCTL = """#!/bin/sh
echo "systemctl $*" >> "$CALLS"
conf="$WFGA_ROOT/etc/nginx/nginx.conf"
case "$1 ${2:-}" in
    "restart nginx"|"restart nginx.service"|"stop nginx"|"stop nginx.service") exit 99 ;;
    "is-active --quiet") [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null ;;
    "reload nginx") exec "$NGINX_BIN" -p "$PREFIX" -e "$ERRLOG" -c "$conf" -s reload ;;
    # The daemon must not hold the delivery's output pipes open.
    "start nginx") exec "$NGINX_BIN" -p "$PREFIX" -e "$ERRLOG" -c "$conf" </dev/null >>"$ERRLOG" 2>&1 ;;
    *) exit 0 ;;
esac
"""
_NGINX = """#!/bin/sh
echo "nginx $*" >> "$CALLS"
exec "$NGINX_BIN" -p "$PREFIX" -e "$ERRLOG" "$@"
"""
_CLOUD_INIT = """#!/bin/sh
echo "cloud-init $*" >> "$CALLS"
"""


@dataclass
class DeliveredVm:
    """A scratch root (``WFGA_ROOT``) with a private nginx that only delivery scripts manage."""

    base: Path

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def prefix(self) -> Path:
        return self.base / "nginx"

    @property
    def pid_file(self) -> Path:
        return self.prefix / "nginx.pid"

    def setup(self) -> None:
        (self.root / "etc" / "nginx").mkdir(parents=True)  # the package's directory
        self.prefix.mkdir()
        fakes = self.base / "bin"
        fakes.mkdir()
        for name, text in (("systemctl", _SYSTEMCTL), ("nginx", _NGINX), ("cloud-init", _CLOUD_INIT)):
            (fakes / name).write_text(text)
            (fakes / name).chmod(0o755)

    def conf(self, mappings: list[PortMapping]) -> str:
        return render_nginx_conf(
            mappings,
            listen_address=LISTEN,
            connections=500,
            worker_processes=2,
            pid_path=str(self.pid_file),
            error_log=str(self.prefix / "error.log"),
            stream_module=STREAM_MODULE,
        )

    def delivery(self, conf: str, mappings: list[PortMapping]) -> str:
        """The delivery the components ship, with the staged config of this private instance."""
        files = [
            replace(f, content=conf) if f.path == STAGED_CONF else f
            for f in bootstrap_files(mappings, distro="debian", connections=500)
        ]
        return render_delivery(files).script

    def run(self, script: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        calls = self.base / "calls"
        calls.unlink(missing_ok=True)
        path = self.base / "delivery.sh"
        path.write_text(script)
        env = {
            "PATH": f"{self.base / 'bin'}:/usr/bin:/bin",
            "WFGA_ROOT": str(self.root),
            "CALLS": str(calls),
            "NGINX_BIN": NGINX,  # not NGINX: nginx reads that variable as inherited sockets
            "PREFIX": str(self.prefix),
            "ERRLOG": str(self.prefix / "error.log"),
            "PIDFILE": str(self.pid_file),
        }
        result = subprocess.run(
            ["/bin/sh", str(path)], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        return result, calls.read_text().splitlines()

    def master_pid(self) -> int:
        return int(self.pid_file.read_text())

    def stop(self) -> None:
        if not self.pid_file.exists():
            return
        master = self.master_pid()
        try:
            os.kill(master, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(master, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(master, signal.SIGKILL)


@pytest.fixture
def delivered(tmp_path: Path) -> Iterator[DeliveredVm]:
    require_nginx()
    vm = DeliveredVm(tmp_path)
    vm.setup()
    try:
        yield vm
    finally:
        vm.stop()


class Chatter:
    """Keeps talking over links while a delivery runs; counts every exchange that fails."""

    def __init__(self, links: list[Link]) -> None:
        self.links = links
        self.failures: list[str] = []
        self.exchanges = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._talk, daemon=True)

    def _talk(self) -> None:
        while not self._stop.is_set():
            for i, link in enumerate(self.links):
                payload = f"chat {i} {self.exchanges}".encode()
                try:
                    if link.echo(payload) != payload:
                        self.failures.append(f"link {i}: wrong echo")
                except OSError as err:
                    self.failures.append(f"link {i}: {err}")
                self.exchanges += 1
            time.sleep(0.02)

    def __enter__(self) -> Chatter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


LINKS_PER_MAPPING = 8


def test_the_delivery_reaches_a_running_nginx_without_dropping_a_link(nodes: FakeNodes, delivered: DeliveredVm) -> None:
    public = public_bases()
    first = plan(nodes, 2, public)
    # A fresh VM: nginx is not running yet, so the delivery starts it.
    result, calls = delivered.run(delivered.delivery(delivered.conf(first), first))
    assert result.returncode == 0, result.stderr
    assert "systemctl start nginx" in calls
    wait_until(lambda: all(listening(m.public_port) for m in first), what="nginx to listen")
    wait_until(delivered.pid_file.exists, what="nginx's pid file")
    master = delivered.master_pid()

    links = [(m, Link(m.public_port)) for m in first if m.service != "short" for _ in range(LINKS_PER_MAPPING)]
    try:
        assert all(link.greeting == f"{m.node} {m.service}" for m, link in links)
        grown = plan(nodes, 3, public)
        with Chatter([link for _, link in links[::LINKS_PER_MAPPING]]) as chatter:
            result, calls = delivered.run(delivered.delivery(delivered.conf(grown), grown))
            assert result.returncode == 0, result.stderr
            added = [m for m in grown if m.node == "im-3"]
            wait_until(lambda: all(listening(m.public_port) for m in added), what="the new node's ports")
        assert chatter.exchanges > 0
        assert chatter.failures == []
        assert calls[-1] == "systemctl reload nginx"
        assert not [c for c in calls if c.startswith(("systemctl restart nginx", "systemctl stop", "systemctl start"))]
        assert "wfga: nginx config" in result.stdout
        assert delivered.master_pid() == master
        for m in added:
            link = Link(m.public_port)
            try:
                assert link.greeting == f"im-3 {m.service}"
                assert link.echo(b"new node") == b"new node"
            finally:
                link.close()
        dropped = [m.key for m, link in links if link.echo(b"after delivery") != b"after delivery"]
        assert dropped == []

        # A config nginx rejects: the delivery fails visibly, the running config keeps serving.
        live = (delivered.root / "etc/nginx/nginx.conf").read_text()
        broken_plan = plan(nodes, 4, public)
        broken = delivered.conf(broken_plan).replace("stream {\n", "stream {\n    wfga_no_such_directive on;\n")
        result, calls = delivered.run(delivered.delivery(broken, broken_plan))
        assert result.returncode != 0
        assert "the running config stays in place" in result.stderr
        assert "unknown directive" in result.stderr
        assert not [
            c for c in calls if c.startswith(("systemctl reload", "systemctl start", "systemctl restart nginx"))
        ]
        assert (delivered.root / "etc/nginx/nginx.conf").read_text() == live
        assert delivered.master_pid() == master
        assert not any(listening(m.public_port) for m in broken_plan if m.node == "im-4")
        for m in added:
            link = Link(m.public_port)
            try:
                assert link.greeting == f"im-3 {m.service}"
            finally:
                link.close()
        dropped = [m.key for m, link in links if link.echo(b"after the failure") != b"after the failure"]
        assert dropped == []
    finally:
        for _, link in links:
            link.close()
