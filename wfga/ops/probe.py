"""``wfga probe``: TCP-connect to every public ip:port of a deployed stack's port map.

A completed handshake shows the EIP, the load balancer and its listener answer; whether the node
behind it is healthy depends on how the load balancer handles the handshake, so a probe is a smoke
test of the access point, not of the IM service.  Connections are opened and closed at once, at most
``concurrency`` at a time, each bounded by ``timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

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
