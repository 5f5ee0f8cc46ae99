"""``wfga probe``: TCP-connect to every public ip:port of a deployed stack's port map, and allocate a
relay on every TURN server of its ``turn_servers``.

A completed handshake shows the EIP, the load balancer and its listener answer; whether the node
behind it is healthy depends on how the load balancer handles the handshake, so a probe is a smoke
test of the access point, not of the IM service.  Connections are opened and closed at once, at most
``concurrency`` at a time, each bounded by ``timeout``.

A TURN probe (``wfga.ops.turnclient``) logs in with the stack's TURN user and password, allocates a
relay over each URL's transport, checks the server's signed answer, and frees the relay: it shows
the EIP, the security group, coturn and the credential work, and which address coturn relays from
(WildFire's set-up wants the VM's private address there).  It does not reach Janus.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import re
import ssl
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from wfga.ops import turnclient
from wfga.ops.report import table
from wfga.plan.nodeline import PLACEHOLDER_NETWORKS

DEFAULT_CONCURRENCY = 32
DEFAULT_TIMEOUT_S = 3.0


class ProbeInputError(Exception):
    """The outputs file cannot be probed; printed as is, exit 2."""


@dataclass(frozen=True)
class Target:
    access_point: str
    load_balancer: str
    zone: str
    node: str
    service: str
    ip: str
    port: int


@dataclass(frozen=True)
class Result:
    target: Target
    ok: bool
    latency_ms: float | None
    error: str = ""


def _target(i: int, row: Any, allow_placeholders: bool = False) -> Target:
    if not isinstance(row, Mapping):
        raise ProbeInputError(f"port_map[{i}]: expected an object, got {type(row).__name__}")
    try:
        target = Target(
            access_point=str(row["access_point"]),
            load_balancer=str(row["load_balancer"]),
            zone=str(row["zone"]),
            node=str(row["node"]),
            service=str(row["service"]),
            ip=str(ipaddress.IPv4Address(str(row["public_ip"]))),
            port=int(row["public_port"]),
        )
    except KeyError as err:
        raise ProbeInputError(f"port_map[{i}]: missing {err.args[0]}") from None
    except ValueError as err:
        raise ProbeInputError(f"port_map[{i}]: {err}") from None
    if not 1 <= target.port <= 65535:
        raise ProbeInputError(f"port_map[{i}]: public_port {target.port} is not a TCP port")
    if not allow_placeholders and any(ipaddress.IPv4Address(target.ip) in net for net in PLACEHOLDER_NETWORKS):
        raise ProbeInputError(
            f"port_map[{i}]: {target.ip} is a placeholder of the offline plan, not a deployed address "
            "(--address IP probes the ports at an address of yours)"
        )
    return target


def targets_from_outputs(data: Any) -> list[Target]:
    """The targets of ``pulumi stack output --json``; an offline plan is refused (its IPs are fake)."""
    if not isinstance(data, Mapping):
        raise ProbeInputError("expected the JSON object of `pulumi stack output --json`")
    if "resources" in data and "placeholders" in data:
        raise ProbeInputError(
            "this is an offline plan (wfga plan --json): its addresses are placeholders; "
            "give `pulumi stack output --json` of a deployed stack, or --address IP for a local dry run"
        )
    return targets_from_rows(data)


def targets_from_rows(outputs: Mapping[str, Any], allow_placeholders: bool = False) -> list[Target]:
    """One target per public ip:port of the outputs' port map."""
    rows = outputs.get("port_map")
    if not isinstance(rows, list) or not rows:
        raise ProbeInputError("no port_map in these outputs; give the outputs of a stack with access points")
    targets = [_target(i, row, allow_placeholders) for i, row in enumerate(rows)]
    # One probe per public ip:port even if a file lists it twice.
    return list({(t.ip, t.port): t for t in targets}.values())


def at_address(targets: Sequence[Target], address: str) -> list[Target]:
    """The same ports at another address: a dry run against local listeners (a rendered nginx.conf...)."""
    try:
        ip = str(ipaddress.IPv4Address(address))
    except ValueError as err:
        raise ProbeInputError(f"--address: {err}") from None
    moved = [replace(t, ip=ip) for t in targets]
    # Every zone's address collapses onto one: probe each port once, under its first zone.
    return list({t.port: t for t in reversed(moved)}.values())[::-1]


def read_targets(path: Path) -> list[Target]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ProbeInputError(f"{path}: cannot read stack outputs ({err})") from None
    try:
        return targets_from_outputs(data)
    except ProbeInputError as err:
        raise ProbeInputError(f"{path}: {err}") from None


async def _connect(target: Target, timeout: float, limit: asyncio.Semaphore) -> Result:
    async with limit:
        start = time.perf_counter()
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(target.ip, target.port), timeout)
        except TimeoutError:
            return Result(target, False, None, f"no answer within {timeout:g} s")
        except OSError as err:
            return Result(target, False, None, err.strerror or str(err))
        latency = (time.perf_counter() - start) * 1000
        writer.close()
        # The peer may reset first; the handshake already succeeded.
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return Result(target, True, latency)


async def probe_async(targets: Sequence[Target], concurrency: int, timeout: float) -> list[Result]:
    limit = asyncio.Semaphore(concurrency)
    return list(await asyncio.gather(*(_connect(t, timeout, limit) for t in targets)))


def probe(
    targets: Sequence[Target], concurrency: int = DEFAULT_CONCURRENCY, timeout: float = DEFAULT_TIMEOUT_S
) -> list[Result]:
    if concurrency < 1 or timeout <= 0:
        raise ProbeInputError("--concurrency must be at least 1 and --timeout positive")
    return asyncio.run(probe_async(targets, concurrency, timeout))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render(results: Sequence[Result]) -> str:
    """A table per access point, a row per node naming the zone and address of each failure; then every failure."""
    out: list[str] = []
    for ap in dict.fromkeys(r.target.access_point for r in results):
        rows = []
        mine = [r for r in results if r.target.access_point == ap]
        for node in dict.fromkeys(r.target.node for r in mine):
            probes = [r for r in mine if r.target.node == node]
            latencies = [r.latency_ms for r in probes if r.latency_ms is not None]
            failed = [r for r in probes if not r.ok]
            rows.append(
                [
                    node,
                    str(len(probes) - len(failed)),
                    str(len(failed)),
                    _ms(min(latencies, default=None)),
                    _ms(max(latencies, default=None)),
                    " ".join(f"{r.target.zone}/{r.target.ip}:{r.target.port}" for r in failed) or "-",
                ]
            )
        out += [f"Access point {ap}", table(rows, ["node", "ok", "failed", "min ms", "max ms", "failed at"]), ""]
    failures = [r for r in results if not r.ok]
    if failures:
        out.append("Failures")
        out.append(
            table(
                [
                    [
                        r.target.access_point,
                        r.target.load_balancer,
                        r.target.zone,
                        f"{r.target.ip}:{r.target.port}",
                        r.target.node,
                        r.target.service,
                        r.error,
                    ]
                    for r in failures
                ],
                ["access point", "load balancer", "zone", "address", "node", "service", "error"],
            )
        )
        out.append("")
    out.append(f"{len(results) - len(failures)} of {len(results)} addresses answered")
    return "\n".join(out)


def to_json(results: Sequence[Result]) -> list[dict[str, Any]]:
    return [{**asdict(r.target), "ok": r.ok, "latency_ms": r.latency_ms, "error": r.error} for r in results]


# --- TURN -------------------------------------------------------------------------------------------

_TURN_URL = re.compile(r"(turns?):([0-9.]+):([0-9]+)\?transport=(udp|tcp)")
PRIVATE_NETWORKS = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


@dataclass(frozen=True)
class TurnTarget:
    access_point: str
    url: str
    ip: str
    port: int
    transport: str  # "udp" or "tcp"
    tls: bool
    user: str


@dataclass(frozen=True)
class TurnResult:
    target: TurnTarget
    ok: bool
    rtt_ms: float | None  # round trip of the first request (the server's credential challenge)
    allocate_ms: float | None  # until the allocation was granted and its answer verified
    relayed: str = ""  # ip:port coturn relays from
    error: str = ""

    @property
    def relayed_private(self) -> bool:
        host = self.relayed.rsplit(":", 1)[0]
        return bool(host) and any(ipaddress.IPv4Address(host) in net for net in PRIVATE_NETWORKS)


def turn_targets_from_outputs(data: Any, user: str | None = None) -> list[TurnTarget]:
    """Every URL of ``turn_servers`` in stack outputs (none when the stack has no audio/video).

    ``user`` overrides the user name the outputs give.
    """
    if not isinstance(data, Mapping):
        raise ProbeInputError("expected the JSON object of `pulumi stack output --json`")
    servers = data.get("turn_servers")
    if servers is None:
        return []
    if not isinstance(servers, Mapping):
        raise ProbeInputError("turn_servers: expected an object of access point -> TURN servers")
    targets = []
    for ap, item in servers.items():
        urls = item.get("urls") if isinstance(item, Mapping) else None
        if not isinstance(urls, list):
            raise ProbeInputError(f"turn_servers.{ap}: no urls list")
        name = user or (item.get("user") if isinstance(item.get("user"), str) else None)
        if not name:
            raise ProbeInputError(f"turn_servers.{ap}: no user in the outputs; give --turn-user")
        for i, url in enumerate(urls):
            where = f"turn_servers.{ap}.urls[{i}]"
            match = _TURN_URL.fullmatch(str(url))
            if match is None:
                raise ProbeInputError(f"{where}: {str(url)[:80]!r} is not turn(s):IPv4:PORT?transport=udp|tcp")
            scheme, ip, port, transport = match.groups()
            try:
                address = ipaddress.IPv4Address(ip)
            except ValueError as err:
                raise ProbeInputError(f"{where}: {err}") from None
            if any(address in net for net in PLACEHOLDER_NETWORKS):
                raise ProbeInputError(f"{where}: {ip} is a placeholder of the offline plan, not a deployed address")
            if not 1 <= int(port) <= 65535 or (scheme == "turns" and transport != "tcp"):
                raise ProbeInputError(f"{where}: {url!r} has no usable port and transport")
            targets.append(TurnTarget(str(ap), str(url), ip, int(port), transport, scheme == "turns", name))
    return targets


def read_turn_targets(path: Path, user: str | None = None) -> list[TurnTarget]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ProbeInputError(f"{path}: cannot read stack outputs ({err})") from None
    try:
        return turn_targets_from_outputs(data, user)
    except ProbeInputError as err:
        raise ProbeInputError(f"{path}: {err}") from None


def _allocate(target: TurnTarget, password: str, timeout: float, tls: ssl.SSLContext | None) -> TurnResult:
    try:
        allocation = turnclient.allocate(
            target.ip,
            target.port,
            target.transport,
            target.user,
            password,
            timeout=timeout,
            tls=tls if target.tls else None,
        )
    except TimeoutError:
        return TurnResult(target, False, None, None, error=f"no answer within {timeout:g} s")
    except turnclient.TurnError as err:
        return TurnResult(target, False, None, None, error=str(err))
    except OSError as err:
        return TurnResult(target, False, None, None, error=err.strerror or str(err))
    return TurnResult(target, True, allocation.rtt_ms, allocation.allocate_ms, allocation.relayed)


def probe_turn(
    targets: Sequence[TurnTarget],
    password: str,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float = DEFAULT_TIMEOUT_S,
    cafile: str | None = None,
) -> list[TurnResult]:
    """One allocation per target, at most ``concurrency`` at a time, each within ``timeout``;
    ``cafile`` verifies turns: URLs (default: the system's CAs)."""
    if concurrency < 1 or timeout <= 0:
        raise ProbeInputError("--concurrency must be at least 1 and --timeout positive")
    if not password:
        raise ProbeInputError("the TURN password is empty")
    try:
        tls = ssl.create_default_context(cafile=cafile) if any(t.tls for t in targets) else None
    except (OSError, ssl.SSLError) as err:
        raise ProbeInputError(f"--turn-ca: cannot load {cafile} ({err})") from None
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(lambda t: _allocate(t, password, timeout, tls), targets))


def render_turn(results: Sequence[TurnResult]) -> str:
    rows = [
        [
            r.target.access_point,
            r.target.url,
            "yes" if r.ok else "no",
            _ms(r.rtt_ms),
            _ms(r.allocate_ms),
            (r.relayed + ("" if r.relayed_private else " (not private!)")) if r.relayed else "-",
            r.error or "-",
        ]
        for r in results
    ]
    header = ["access point", "url", "allocated", "rtt ms", "allocate ms", "relayed from", "error"]
    out = ["TURN servers", table(rows, header)]
    if any(r.ok and not r.relayed_private for r in results):
        out.append(
            "(not private!): coturn relays from an address outside the private ranges; WildFire's set-up has it "
            "relay from the VM's private address (external-ip), which Janus reaches over the link"
        )
    out.append(f"{sum(1 for r in results if r.ok)} of {len(results)} TURN allocations succeeded")
    return "\n".join(out)


def turn_to_json(results: Sequence[TurnResult]) -> list[dict[str, Any]]:
    return [
        {
            "kind": "turn",
            **asdict(r.target),
            "ok": r.ok,
            "rtt_ms": r.rtt_ms,
            "allocate_ms": r.allocate_ms,
            "relayed": r.relayed,
            "error": r.error,
        }
        for r in results
    ]
