"""Benchmark: how many idle long links a rendered nginx stream config holds, and what it adds to connect time.

Not a test.  Everything stays on loopback: fake IM nodes on 127.0.1.x, a private nginx (own prefix,
pid file and error log) on 127.0.2.1, clients on 127.0.0.1.  The run is bounded by ``--target``
connections and ``--max-seconds``, and stops every process it started.

Phases:

1. fake node processes listen on each node's three service ports; each connection is greeted with
   "<node> <service>" and echoed afterwards;
2. nginx starts from the config rendered by :func:`wfga.plan.nginx.render_nginx_conf`;
3. client processes open up to ``--target`` long links through nginx, spread over the nodes, and
   check each greeting names the node the public port belongs to;
4. while the links sit idle for ``--hold`` seconds, the parent times connect-to-greeting, alternating
   through nginx and directly to the node (same run, same load);
5. every held link must then echo a probe: a link that does not is a drop.

    .venv/bin/python -m bench.nginx_idle --target 20000 --hold 60
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ipaddress
import json
import math
import multiprocessing as mp
import os
import platform
import queue
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from tests.loopback import free_ports
from wfga.plan.nginx import render_nginx_conf
from wfga.plan.portplan import SERVICES, PortMapping

NGINX = "/usr/sbin/nginx"
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
LISTEN = "127.0.2.1"
NODE_NET = "127.0.1."
# Descriptors a helper process keeps for itself (pipes, epoll, the interpreter's own files).
FD_RESERVE = 200


def build(nodes: int) -> list[PortMapping]:
    """Nodes im-1..im-N on 127.0.1.1..N, all on the same three service ports, as real nodes are."""
    service_ports = dict(zip(SERVICES, free_ports(f"{NODE_NET}1", 3), strict=True))
    public = free_ports(LISTEN, 3 * nodes)
    mappings = [
        PortMapping(
            access_point="bench",
            load_balancer="vm-1",
            node=f"im-{i}",
            service=service,
            public_port=public[3 * (i - 1) + k],
            target_ip=f"{NODE_NET}{i}",
            target_port=service_ports[service],
            idle_timeout_s=900,
        )
        for i in range(1, nodes + 1)
        for k, service in enumerate(SERVICES)
    ]
    for m in mappings:
        assert ipaddress.IPv4Address(m.target_ip).is_loopback
    return mappings


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# --- fake nodes -------------------------------------------------------------------------------


def serve_nodes(mappings: Sequence[PortMapping], ready: Any, reports: Any) -> None:
    """Serve the fake nodes of ``mappings`` until SIGTERM, then report accept errors by kind."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        errors: collections.Counter[str] = collections.Counter()
        # asyncio logs every failed accept (and retries each second); at the fd limit that is a flood,
        # so count them instead and report the totals.
        loop.set_exception_handler(lambda _loop, context: errors.update([str(context.get("message"))]))
        servers = []
        for m in mappings:

            async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, m: PortMapping = m) -> None:
                try:
                    writer.write(f"{m.node} {m.service}\n".encode())
                    while data := await reader.read(4096):
                        writer.write(data)
                        await writer.drain()
                except ConnectionError:
                    pass
                finally:
                    writer.close()

            servers.append(await asyncio.start_server(greet, m.target_ip, m.target_port, backlog=4096))
        ready.put(os.getpid())
        await stop.wait()
        reports.put(dict(errors))
        for server in servers:
            server.close()

    raise_nofile()
    asyncio.run(main())


# --- clients ----------------------------------------------------------------------------------


def hold_links(
    share: int, targets: list[tuple[int, str]], deadline: float, check: Event, results: Any, index: int
) -> None:
    """Open ``share`` links round-robin over ``targets`` (public port, expected greeting), hold them until
    ``check`` is set, then probe each one and report."""

    async def main() -> None:
        links: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        failures: collections.Counter[str] = collections.Counter()
        gate = asyncio.Semaphore(200)
        started = time.monotonic()

        async def open_one(n: int) -> None:
            port, expected = targets[n % len(targets)]
            async with gate:
                if time.time() > deadline or failures.total() > 1000:
                    failures["not attempted"] += 1
                    return
                try:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(LISTEN, port), 10)
                    greeting = await asyncio.wait_for(reader.readline(), 10)
                except (OSError, TimeoutError) as err:
                    failures[type(err).__name__ + (f" {err.errno}" if isinstance(err, OSError) else "")] += 1
                    return
                if greeting.decode().strip() != expected:
                    failures[f"misrouted: {greeting!r} for {expected}"] += 1
                    writer.close()
                    return
                links.append((reader, writer))

        await asyncio.gather(*(open_one(n) for n in range(share)))
        results.put(("opened", index, len(links), time.monotonic() - started, dict(failures)))
        while not check.is_set():
            await asyncio.sleep(0.2)

        probe_gate = asyncio.Semaphore(500)

        async def probe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
            async with probe_gate:
                try:
                    writer.write(b"probe\n")
                    await writer.drain()
                    return await asyncio.wait_for(reader.readline(), 15) == b"probe\n"
                except (OSError, TimeoutError):
                    return False

        alive = await asyncio.gather(*(probe(r, w) for r, w in links))
        results.put(("checked", index, sum(alive), len(links) - sum(alive)))
        for _, writer in links:
            writer.close()

    raise_nofile()
    asyncio.run(main())


# --- latency ----------------------------------------------------------------------------------


def greeting_time(host: str, port: int) -> float:
    """Seconds from connect() to the node's greeting: what a client waits before it can talk."""
    start = time.perf_counter()
    with socket.create_connection((host, port), timeout=10) as s, s.makefile("rb") as f:
        line = f.readline()
    elapsed = time.perf_counter() - start
    if not line:
        raise ConnectionError(f"{host}:{port} closed without greeting")
    return elapsed


def sample_latency(links: list[PortMapping], samples: int, deadline: float) -> dict[str, float]:
    via: list[float] = []
    direct: list[float] = []
    failed = 0
    for n in range(samples):
        if time.time() > deadline:
            break
        m = links[n % len(links)]
        # Alternate which path goes first so neither always meets a warmer cache.
        pair = [(via, LISTEN, m.public_port), (direct, m.target_ip, m.target_port)]
        for bucket, host, port in pair if n % 2 == 0 else reversed(pair):
            try:
                bucket.append(greeting_time(host, port))
            except OSError:
                failed += 1
    if len(via) < 2 or len(direct) < 2:
        return {"failed_samples": failed}
    q = statistics.quantiles
    return {
        "samples_each": len(via),
        "failed_samples": failed,
        "median_via_nginx_ms": statistics.median(via) * 1000,
        "median_direct_ms": statistics.median(direct) * 1000,
        "p90_via_nginx_ms": q(via, n=10)[-1] * 1000,
        "p90_direct_ms": q(direct, n=10)[-1] * 1000,
        "median_ratio": statistics.median(via) / statistics.median(direct),
    }


# --- run --------------------------------------------------------------------------------------


def nginx_log_summary(path: Path) -> dict[str, Any]:
    levels: collections.Counter[str] = collections.Counter()
    messages: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
        parts = line.split(" ", 4)
        if len(parts) == 5 and parts[2].startswith("["):
            level = parts[2].strip("[]")
            levels[level] += 1
            messages.setdefault(level, parts[4][:200])
    return {"lines_by_level": dict(levels), "first_message_by_level": messages}


def run(args: argparse.Namespace) -> dict[str, Any]:
    limit = raise_nofile()
    per_process = limit - FD_RESERVE
    workers = args.workers or max(2, math.ceil(2 * args.target / (0.5 * per_process)))
    client_procs = max(1, math.ceil(args.target / per_process))
    # Each fake node process holds the node side of its nodes' links, so whole nodes are spread over
    # as many processes as it takes to keep each under the open-file limit.
    links_per_node = math.ceil(args.target / args.nodes)
    if links_per_node > per_process:
        raise SystemExit(f"{links_per_node} links per node exceed {per_process} files per process; raise --nodes")
    nodes_per_process = per_process // links_per_node
    mappings = build(args.nodes)
    long_links = [m for m in mappings if m.service == "long"]
    prefix = Path(tempfile.mkdtemp(prefix="wfga-bench-"))
    conf = render_nginx_conf(
        mappings,
        listen_address=LISTEN,
        connections=args.target,
        worker_processes=workers,
        pid_path=str(prefix / "nginx.pid"),
        error_log=str(prefix / "error.log"),
        stream_module=STREAM_MODULE,
    )
    (prefix / "nginx.conf").write_text(conf)
    deadline = time.time() + args.max_seconds
    ctx = mp.get_context("fork")
    ready = ctx.Queue()
    results = ctx.Queue()
    check = ctx.Event()
    reports = ctx.Queue()
    node_groups = [
        [m for m in mappings if (int(m.node.removeprefix("im-")) - 1) // nodes_per_process == g]
        for g in range(math.ceil(args.nodes / nodes_per_process))
    ]
    servers = [ctx.Process(target=serve_nodes, args=(group, ready, reports)) for group in node_groups]
    clients: list[Any] = []
    nginx: subprocess.Popen[bytes] | None = None
    report: dict[str, Any] = {}
    try:
        for p in servers:
            p.start()
        for _ in servers:
            ready.get(timeout=30)
        command = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
        nginx = subprocess.Popen([*command, "-g", "daemon off;"], start_new_session=True)
        targets = [(m.public_port, f"{m.node} long") for m in long_links]
        wait_listening(targets[0][0], time.time() + 10)
        base, extra = divmod(args.target, client_procs)
        shares = [base + (1 if i < extra else 0) for i in range(client_procs)]
        clients = [
            ctx.Process(target=hold_links, args=(share, targets, deadline, check, results, i))
            for i, share in enumerate(shares)
        ]
        for p in clients:
            p.start()
        opened = [results.get(timeout=max(1.0, deadline - time.time())) for _ in clients]
        established = sum(o[2] for o in opened)
        failures: collections.Counter[str] = collections.Counter()
        for o in opened:
            failures.update(o[4])
        hold_started = time.monotonic()
        latency = sample_latency(long_links, args.samples, deadline - 30)
        time.sleep(max(0.0, min(args.hold - (time.monotonic() - hold_started), deadline - time.time() - 30)))
        held_for = time.monotonic() - hold_started
        rss_mb = nginx_rss_mb(nginx.pid)
        check.set()
        checked = [results.get(timeout=max(1.0, deadline - time.time())) for _ in clients]
        alive = sum(c[2] for c in checked)
        report = {
            "target": args.target,
            "nodes": args.nodes,
            "nginx_workers": workers,
            "client_processes": client_procs,
            "established": established,
            "open_failures": dict(failures),
            "open_seconds": max(o[3] for o in opened),
            "held_seconds": round(held_for, 1),
            "alive_after_hold": alive,
            "dropped": established - alive,
            "latency": latency,
            "nginx_rss_mb_while_holding": rss_mb,
        }
    finally:
        check.set()
        for p in clients:
            p.join(timeout=30)
        if nginx is not None:
            nginx.send_signal(signal.SIGTERM)
            try:
                nginx.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(nginx.pid, signal.SIGKILL)
                nginx.wait(timeout=10)
        for p in servers:
            if p.pid is not None:
                os.kill(p.pid, signal.SIGTERM)
        node_errors: collections.Counter[str] = collections.Counter()
        for p in servers:
            if p.pid is not None:
                with contextlib.suppress(queue.Empty):
                    node_errors.update(reports.get(timeout=10))
            p.join(timeout=10)
        for p in [*clients, *servers]:
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
    report["fake_node_errors"] = dict(node_errors)
    report["fake_node_processes"] = len(servers)
    report["nginx_error_log"] = nginx_log_summary(prefix / "error.log")
    report["machine"] = {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "rlimit_nofile": limit,
        "ip_local_port_range": Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split(),
        "nginx": subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=False).stderr.strip(),
        "python": platform.python_version(),
    }
    report["prefix"] = str(prefix)
    return report


def nginx_rss_mb(master: int) -> float:
    out = subprocess.run(["ps", "-o", "rss=", "--ppid", str(master)], capture_output=True, text=True, check=False)
    own = Path(f"/proc/{master}/status").read_text().split("VmRSS:")[1].split()[0]
    return round((sum(int(kb) for kb in out.stdout.split()) + int(own)) / 1024, 1)


def wait_listening(port: int, deadline: float) -> None:
    while time.time() < deadline:
        try:
            socket.create_connection((LISTEN, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on {LISTEN}:{port}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--target", type=int, default=20000, help="idle long links to open (at most)")
    parser.add_argument("--nodes", type=int, default=10, help="fake nodes; links spread over them")
    parser.add_argument("--hold", type=float, default=60.0, help="seconds the links stay idle before the probe")
    parser.add_argument("--samples", type=int, default=500, help="connect-time samples per path")
    parser.add_argument("--workers", type=int, default=0, help="nginx workers; 0 sizes them to the fd limit")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="hard bound on the whole run")
    parser.add_argument("--json", action="store_true", help="print the report as JSON only")
    args = parser.parse_args(argv)
    if not 1 <= args.nodes <= 250:
        parser.error("--nodes must be 1..250 (one loopback address each)")
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0 if report.get("dropped") == 0 else 1
    lat = report.get("latency", {})
    print(f"machine: {report['machine']}")
    print(
        f"links: target {report.get('target')}, established {report.get('established')} "
        f"in {report.get('open_seconds', 0):.1f} s, failures {report.get('open_failures')}"
    )
    print(
        f"hold: {report.get('held_seconds')} s idle, alive after hold {report.get('alive_after_hold')}, "
        f"dropped {report.get('dropped')}"
    )
    if "median_ratio" in lat:
        print(
            f"connect-to-greeting median: via nginx {lat['median_via_nginx_ms']:.3f} ms, "
            f"direct {lat['median_direct_ms']:.3f} ms, ratio {lat['median_ratio']:.2f} "
            f"(p90 {lat['p90_via_nginx_ms']:.3f} / {lat['p90_direct_ms']:.3f} ms, {lat['samples_each']} each)"
        )
    else:
        print(f"connect-to-greeting: too few samples before the deadline ({lat})")
    print(f"fake nodes: {report['fake_node_processes']} processes, errors {report['fake_node_errors']}")
    print(f"nginx RSS while holding: {report.get('nginx_rss_mb_while_holding')} MB")
    print(f"nginx error log: {report['nginx_error_log']}")
    return 0 if report.get("dropped") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
