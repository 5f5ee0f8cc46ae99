"""Render the nginx ``stream`` configuration of a VM access point from the port plan.

Pure: the input is a sequence of :class:`~wfga.plan.portplan.PortMapping` and a few knobs, the output is
the text of a complete ``nginx.conf`` (main context, ``events``, ``stream``), identical for identical
input.  One ``server`` per mapping, sorted by public port, each on one line.  See
``docs/vm-access-points.md`` for the sizing rationale and for what has been proven against a real nginx.

The layout is compact on purpose: the config travels gzip-compressed in the user data and in the
day-2 delivery command, whose size limits (EC2 16 KB, Cloud Assistant 18 KB of base64) a few
hundred nodes would otherwise exceed.  Settings equal for every server sit once in ``stream {}``,
where nginx inherits them into each server.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from wfga.plan.portplan import SERVICES, PortMapping

DEFAULT_CONNECTIONS = 20000

# An idle HTTP short link is a kept-alive request channel; dropping it after two minutes frees its
# two sockets and costs the client one reconnect, whereas long links and WebSockets must outlive
# the slowest client heartbeat and therefore keep the mapping's full idle timeout.
SHORT_LINK_TIMEOUT_S = 120

# The node sits on the private side of the access point; when it does not answer within a few
# seconds, closing the client quickly lets the client's own racing (10 s per attempt) move on to
# another address instead of waiting on a connection that will never be proxied.
CONNECT_TIMEOUT_S = 5

# Mobile clients often vanish without a FIN.  Probing after 60 s of silence (3 probes, 20 s apart)
# finds such a peer in about two minutes instead of holding its sockets for the whole idle timeout.
# Probes carry no payload, so they never reset proxy_timeout for a live but silent client.
CLIENT_KEEPALIVE = "60s:20s:3"

# nginx's own listen backlog (511) overflows when thousands of clients reconnect at once after a
# node restart; the kernel also caps it with net.core.somaxconn, which cloud-init raises to match.
LISTEN_BACKLOG = 4096

# Descriptors a worker needs beyond its connections: log files, eventfd/epoll, inherited sockets.
RLIMIT_HEADROOM = 1024

_LABEL = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class Sizing:
    """Per-worker limits for a target number of concurrent proxied connections.

    Every proxied connection holds two sockets in the worker (client side and node side), and with
    ``reuseport`` each worker also owns one listening socket per server.  The kernel spreads new
    connections over the workers' sockets by hash, so every worker is sized for the whole target:
    the worker count is unknown at render time (``auto``) and an uneven spread must not refuse
    connections.  A worker's connection array costs a few hundred bytes per slot, about 20 MB for
    the default target, which any VM can afford.
    """

    connections: int
    listeners: int

    def __post_init__(self) -> None:
        if self.connections < 1:
            raise ValueError(f"connections must be at least 1, got {self.connections}")

    @property
    def worker_connections(self) -> int:
        return 2 * self.connections + self.listeners

    @property
    def rlimit_nofile(self) -> int:
        return self.worker_connections + RLIMIT_HEADROOM


def proxy_timeout_s(mapping: PortMapping) -> int:
    if mapping.service == "short":
        return min(mapping.idle_timeout_s, SHORT_LINK_TIMEOUT_S)
    return mapping.idle_timeout_s


def _check(mappings: Sequence[PortMapping], listen_address: str | None) -> list[PortMapping]:
    if listen_address is not None:
        ipaddress.IPv4Address(listen_address)
    problems: list[str] = []
    owner: dict[int, PortMapping] = {}
    for m in mappings:
        # Names end up in comments; a newline in one would smuggle directives into the config.
        for label in (m.access_point, m.load_balancer, m.node):
            if not _LABEL.match(label):
                problems.append(f"{m.key}: {label!r} may only use letters, digits, '.', '_' and '-'")
        if m.service not in SERVICES:
            problems.append(f"{m.key}: service must be one of {', '.join(SERVICES)}")
        for what, port in (("public_port", m.public_port), ("target_port", m.target_port)):
            if not 1 <= port <= 65535:
                problems.append(f"{m.key}: {what} {port} is outside 1..65535")
        try:
            ipaddress.IPv4Address(m.target_ip)
        except ValueError:
            problems.append(f"{m.key}: target_ip {m.target_ip!r} is not an IPv4 address")
        if m.idle_timeout_s < 1:
            problems.append(f"{m.key}: idle_timeout_s must be at least 1 s")
        other = owner.get(m.public_port)
        if other is not None:
            problems.append(f"public port {m.public_port} is used by both {other.key} and {m.key}")
        owner[m.public_port] = m
    if problems:
        raise ValueError("cannot render nginx config:\n" + "\n".join(f"  - {p}" for p in problems))
    return sorted(mappings, key=lambda m: m.public_port)


def render_nginx_conf(
    mappings: Sequence[PortMapping],
    *,
    listen_address: str | None = None,
    connections: int = DEFAULT_CONNECTIONS,
    worker_processes: int | None = None,
    user: str | None = None,
    pid_path: str = "/run/nginx.pid",
    error_log: str = "/var/log/nginx/error.log",
    modules_include: str | None = None,
    stream_module: str | None = None,
) -> str:
    """The complete ``nginx.conf`` for one VM access point.

    ``listen_address`` None listens on every IPv4 address.  ``worker_processes`` None means one
    worker per core (``auto``).  The stream module comes from ``modules_include`` (a distribution's
    snippet directory, e.g. ``/etc/nginx/modules-enabled/*.conf``) or ``stream_module`` (an explicit
    ``load_module`` path, for a private instance whose prefix does not hold the distribution's
    relative module paths); give neither when nginx has stream built in.  ``pid_path`` must match
    the ``PIDFile`` of the distribution's systemd unit, or ``systemctl reload`` signals nobody.
    """
    if modules_include is not None and stream_module is not None:
        raise ValueError("give modules_include or stream_module, not both: nginx refuses a module loaded twice")
    ordered = _check(mappings, listen_address)
    sizing = Sizing(connections=connections, listeners=len(ordered))
    prefix = f"{listen_address}:" if listen_address is not None else ""
    listen_options = f"reuseport backlog={LISTEN_BACKLOG} so_keepalive={CLIENT_KEEPALIVE}"
    carriers = sorted({f"{m.access_point} {m.load_balancer}" for m in ordered})
    lines = [
        "# Rendered by wfga from the port plan; change the stack configuration, not this file.",
        f"# {len(ordered)} listeners on {', '.join(carriers)}, sized for {connections} concurrent connections.",
        "",
    ]
    if user is not None:
        lines.append(f"user {user};")
    lines += [
        f"worker_processes {worker_processes if worker_processes is not None else 'auto'};",
        f"worker_rlimit_nofile {sizing.rlimit_nofile};",
        f"pid {pid_path};",
        f"error_log {error_log} warn;",
    ]
    if modules_include is not None:
        lines.append(f"include {modules_include};")
    if stream_module is not None:
        lines.append(f"load_module {stream_module};")
    lines += [
        "",
        "events {",
        f"    worker_connections {sizing.worker_connections};",
        "}",
        "",
        "stream {",
        f"    proxy_connect_timeout {CONNECT_TIMEOUT_S}s;",
        "    proxy_socket_keepalive on;",
        "",
    ]
    # listen options cannot be inherited: each listen carries its own.
    lines += [
        f"    server {{ listen {prefix}{m.public_port} {listen_options}; proxy_pass {m.target_ip}:{m.target_port};"
        f" proxy_timeout {proxy_timeout_s(m)}s; }}  # {m.node} {m.service}"
        for m in ordered
    ]
    lines += ["}", ""]
    return "\n".join(lines)
