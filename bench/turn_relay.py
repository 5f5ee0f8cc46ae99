"""Benchmark: concurrent TURN allocations and relayed packet rate through the rendered coturn config.

Not a test.  Everything stays on loopback: a private coturn (own directory, config, pid file,
database and log) on 127.0.6.1 runs the config :func:`wfga.plan.turn.render_turnserver_conf`
renders, with its relay allowed to reach one peer, a UDP echo process on 127.0.6.2 standing in for
Janus; clients use 127.0.0.1.  Every phase is bounded by ``--max-seconds`` and every process the
run starts is stopped at the end, also on errors.

Phases:

1. allocations: ``--allocations`` TURN allocations over UDP opened concurrently (at most
   ``--in-flight`` requests outstanding) with aioice; then each one sends a packet through its relay
   to the echo peer and must get the echo back; coturn's memory is read while all are held;
2. packet rate: ``--flows`` allocations bound to the echo peer by a TURN channel, each keeping
   ``--window`` packets of ``--size`` bytes in flight for ``--seconds``; the same loop then runs
   against the echo peer directly, twice each, alternating; the ratio is relayed / direct;
3. round trip: one packet in flight, alternating relayed and direct, ``--samples`` each.

    .venv/bin/python -m bench.turn_relay --allocations 2000 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import platform
import resource
import selectors
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from aioice import stun, turn

from tests.coturn import TURNSERVER, Coturn, running_coturn
from tests.loopback import free_dual_ports
from wfga.plan.turn import TurnSpec, render_turnserver_conf

TURN_IP = "127.0.6.1"
JANUS_IP = "127.0.6.2"
CLIENT_IP = "127.0.0.1"
USER = "wfchat"
REALM = "turn.bench.test"
PASSWORD = "bench-only-password"
RELAY = (40000, 59999)
UDP_TRANSPORT = 0x11000000
FIRST_CHANNEL = 0x4000


def echo(port_out: Any, stop: Event) -> None:
    """The Janus stand-in: answers every datagram to its sender, as fast as one process can."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((JANUS_IP, 0))
    s.settimeout(0.2)
    port_out.put(s.getsockname()[1])
    while not stop.is_set():
        try:
            data, addr = s.recvfrom(65535)
        except TimeoutError:
            continue
        s.sendto(data, addr)


@contextlib.contextmanager
def echo_peer() -> Iterator[tuple[str, int]]:
    ports: mp.Queue[int] = mp.Queue()
    stop = mp.Event()
    process = mp.Process(target=echo, args=(ports, stop), daemon=True)
    process.start()
    try:
        yield JANUS_IP, ports.get(timeout=10)
    finally:
        stop.set()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)


def rss_kb(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def cpu_s(pid: int) -> float:
    """User plus system CPU time of a process, all threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Phase 1: concurrent allocations with aioice.


@dataclass
class Sink(asyncio.DatagramProtocol):
    got: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.put_nowait(data)


async def allocations(port: int, peer: tuple[str, int], count: int, in_flight: int, pid: int) -> dict[str, Any]:
    gate = asyncio.Semaphore(in_flight)
    latencies: list[float] = []

    async def one() -> tuple[turn.TurnTransport, Sink]:
        async with gate:
            started = time.perf_counter()
            pair = await asyncio.wait_for(turn.create_turn_endpoint(Sink, (TURN_IP, port), USER, PASSWORD), timeout=30)
            latencies.append(time.perf_counter() - started)
            return pair

    started = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    open_s = time.perf_counter() - started
    held = [r for r in results if not isinstance(r, BaseException)]
    failures = Counter(type(r).__name__ for r in results if isinstance(r, BaseException))
    memory = rss_kb(pid)

    async def check(i: int, t: turn.TurnTransport, sink: Sink) -> bool:
        async with gate:
            t.sendto(f"check {i}".encode(), peer)
            try:
                return await asyncio.wait_for(sink.got.get(), timeout=10) == f"check {i}".encode()
            except TimeoutError:
                return False

    relayed = await asyncio.gather(*(check(i, t, sink) for i, (t, sink) in enumerate(held)))
    for t, _ in held:
        t.close()
    await asyncio.sleep(1)
    return {
        "requested": count,
        "allocated": len(held),
        "failures": dict(failures),
        "open_s": round(open_s, 2),
        "per_s": round(len(held) / open_s, 1),
        "median_allocate_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "relayed_ok": sum(relayed),
        "coturn_rss_mb": round(memory / 1024, 1) if memory else None,
    }


# Phases 2 and 3: a minimal synchronous TURN client (aioice's STUN codec), so the relayed and the
# direct path run the same Python loop and the difference is what coturn adds.


class Channel:
    """One allocation with one channel to ``peer``; ``send`` and ``parse`` speak ChannelData."""

    def __init__(self, port: int, peer: tuple[str, int]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((CLIENT_IP, 0))
        self.sock.connect((TURN_IP, port))
        self.sock.settimeout(5)
        self.key = turn.make_integrity_key(USER, REALM, PASSWORD)
        self.nonce = b""
        allocate = stun.Message(stun.Method.ALLOCATE, stun.Class.REQUEST)
        allocate.attributes["REQUESTED-TRANSPORT"] = UDP_TRANSPORT
        first = self.request(allocate, signed=False)
        self.nonce = first.attributes["NONCE"]
        allocate = stun.Message(stun.Method.ALLOCATE, stun.Class.REQUEST)
        allocate.attributes["REQUESTED-TRANSPORT"] = UDP_TRANSPORT
        self.relayed = self.request(allocate).attributes["XOR-RELAYED-ADDRESS"]
        bind = stun.Message(stun.Method.CHANNEL_BIND, stun.Class.REQUEST)
        bind.attributes["CHANNEL-NUMBER"] = FIRST_CHANNEL
        bind.attributes["XOR-PEER-ADDRESS"] = peer
        self.request(bind)
        self.sock.setblocking(False)

    def request(self, message: stun.Message, signed: bool = True) -> stun.Message:
        if signed:
            message.attributes.update(USERNAME=USER, REALM=REALM, NONCE=self.nonce)
            message.add_message_integrity(self.key)
        self.sock.send(bytes(message))
        while True:
            reply = stun.parse_message(self.sock.recv(4096))
            if reply.transaction_id == message.transaction_id:
                break
        if signed and reply.message_class != stun.Class.RESPONSE:
            raise RuntimeError(f"TURN {message.message_method.name} failed: {reply.attributes.get('ERROR-CODE')}")
        return reply

    def frame(self, payload: bytes) -> bytes:
        return struct.pack("!HH", FIRST_CHANNEL, len(payload)) + payload

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.setblocking(True)
            self.sock.settimeout(1)
            refresh = stun.Message(stun.Method.REFRESH, stun.Class.REQUEST)
            refresh.attributes["LIFETIME"] = 0
            self.request(refresh)
        self.sock.close()


@dataclass
class Flow:
    sock: socket.socket
    packet: bytes
    outstanding: int = 0


def direct_flow(peer: tuple[str, int], payload: bytes) -> Flow:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((CLIENT_IP, 0))
    s.connect(peer)
    s.setblocking(False)
    return Flow(s, payload)


def pump(flows: list[Flow], window: int, seconds: float) -> dict[str, float]:
    """Keep ``window`` packets in flight per flow for ``seconds``; count round trips and losses."""
    selector = selectors.DefaultSelector()
    for flow in flows:
        selector.register(flow.sock, selectors.EVENT_READ, flow)
    done = lost = 0
    started = time.perf_counter()
    try:
        for flow in flows:
            for _ in range(window):
                flow.sock.send(flow.packet)
            flow.outstanding = window
        while (now := time.perf_counter()) - started < seconds:
            events = selector.select(timeout=0.2)
            if not events:
                # Everything in flight is lost: refill the windows.
                for flow in flows:
                    lost += flow.outstanding
                    for _ in range(window):
                        flow.sock.send(flow.packet)
                    flow.outstanding = window
                continue
            for key, _ in events:
                flow = key.data
                while True:
                    try:
                        flow.sock.recv(65535)
                    except BlockingIOError:
                        break
                    done += 1
                    flow.sock.send(flow.packet)
        elapsed = now - started
        # Drain what is still in flight so the next phase starts clean.
        deadline = time.perf_counter() + 0.5
        while time.perf_counter() < deadline and (ready := selector.select(timeout=0.1)):
            for key, _ in ready:
                with contextlib.suppress(BlockingIOError):
                    while True:
                        key.data.sock.recv(65535)
    finally:
        selector.close()
    return {"round_trips_per_s": done / elapsed, "lost": lost, "seconds": elapsed}


def rtt_samples(relayed: Channel, direct: Flow, payload: bytes, samples: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"relayed": [], "direct": []}
    for _ in range(samples):
        for name, sock, packet in (
            ("relayed", relayed.sock, relayed.frame(payload)),
            ("direct", direct.sock, payload),
        ):
            sock.setblocking(True)
            sock.settimeout(1)
            started = time.perf_counter()
            sock.send(packet)
            try:
                sock.recv(65535)
            except TimeoutError:
                continue
            out[name].append(1000 * (time.perf_counter() - started))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def run(args: argparse.Namespace) -> dict[str, Any]:
    nofile = raise_nofile()
    if args.allocations + 200 > nofile:
        raise SystemExit(f"--allocations {args.allocations} needs more than RLIMIT_NOFILE {nofile} sockets")
    spec = TurnSpec(realm=REALM, user=USER, relay_ports=RELAY, transports=("udp", "tcp"), tls=False, peers=(JANUS_IP,))
    workdir = Path(tempfile.mkdtemp(prefix="wfga-bench-turn-"))
    (port,) = free_dual_ports(TURN_IP, 1)
    conf = render_turnserver_conf(
        spec, password=PASSWORD, private_ip=TURN_IP, port=port, log_file=str(workdir / "turn.log")
    )
    version = subprocess.run([TURNSERVER, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "coturn": version,
            "kernel": platform.release(),
            "nofile": nofile,
            "load_before": [round(x, 2) for x in os.getloadavg()],
        },
        "workdir": str(workdir),
    }
    deadline = time.monotonic() + args.max_seconds
    with echo_peer() as peer, running_coturn(conf, workdir, TURN_IP, port) as coturn:
        report["allocations"] = asyncio.run(
            asyncio.wait_for(
                allocations(port, peer, args.allocations, args.in_flight, coturn.process.pid),
                timeout=max(1.0, deadline - time.monotonic()),
            )
        )
        report["rate"] = rate_phase(args, coturn, port, peer, deadline)
    report["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return report


def rate_phase(
    args: argparse.Namespace, coturn: Coturn, port: int, peer: tuple[str, int], deadline: float
) -> dict[str, Any]:
    payload = os.urandom(args.size)
    channels = [Channel(port, peer) for _ in range(args.flows)]
    direct = [direct_flow(peer, payload) for _ in range(args.flows)]
    relayed = [Flow(c.sock, c.frame(payload)) for c in channels]
    runs: dict[str, list[dict[str, float]]] = {"relayed": [], "direct": []}
    try:
        for _ in range(2):
            for name, flows in (("relayed", relayed), ("direct", direct)):
                if time.monotonic() + args.seconds > deadline:
                    raise TimeoutError("--max-seconds reached during the rate phase")
                cpu = cpu_s(coturn.process.pid)
                result = pump(flows, args.window, args.seconds)
                result["coturn_cpu_s"] = cpu_s(coturn.process.pid) - cpu
                runs[name].append(result)
        samples = rtt_samples(channels[0], direct[0], payload, args.samples)
        memory = rss_kb(coturn.process.pid)
    finally:
        for c in channels:
            c.close()
        for f in direct:
            f.sock.close()
    rate = {name: sum(r["round_trips_per_s"] for r in rs) / len(rs) for name, rs in runs.items()}
    # Each relayed round trip crosses coturn twice: client -> peer and peer -> client.
    relayed_packets = sum(2 * r["round_trips_per_s"] * r["seconds"] for r in runs["relayed"])
    coturn_cpu = sum(r["coturn_cpu_s"] for r in runs["relayed"])
    return {
        "flows": args.flows,
        "window": args.window,
        "size": args.size,
        "seconds_each": args.seconds,
        "relayed_round_trips_per_s": round(rate["relayed"]),
        "direct_round_trips_per_s": round(rate["direct"]),
        "ratio_relayed_to_direct": round(rate["relayed"] / rate["direct"], 3),
        "relayed_mbit_per_s_each_way": round(rate["relayed"] * args.size * 8 / 1e6, 1),
        "coturn_cpu_us_per_relayed_packet": round(1e6 * coturn_cpu / relayed_packets, 2),
        "coturn_cpu_share_while_relaying": round(coturn_cpu / sum(r["seconds"] for r in runs["relayed"]), 2),
        "lost": {name: sum(int(r["lost"]) for r in rs) for name, rs in runs.items()},
        "runs": {name: [round(r["round_trips_per_s"]) for r in rs] for name, rs in runs.items()},
        "rtt_ms": {
            name: {"median": round(statistics.median(v), 3), "p90": round(pct(v, 0.9), 3), "n": len(v)}
            for name, v in samples.items()
            if v
        },
        "coturn_rss_mb": round(memory / 1024, 1) if memory else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--allocations", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--flows", type=int, default=8)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--size", type=int, default=1000, help="payload bytes (a video RTP packet is ~1,200)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not os.path.exists(TURNSERVER):
        print(f"{TURNSERVER} missing (apt-get install coturn)", file=sys.stderr)
        return 2
    if not 1 <= args.allocations <= RELAY[1] - RELAY[0] + 1:
        parser.error(f"--allocations must be 1..{RELAY[1] - RELAY[0] + 1} (the relay range)")
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    a, r = report["allocations"], report["rate"]
    print(f"machine: {report['machine']}")
    print(
        f"allocations: {a['allocated']}/{a['requested']} in {a['open_s']} s ({a['per_s']}/s, "
        f"median {a['median_allocate_ms']} ms, failures {a['failures']}), relayed ok {a['relayed_ok']}, "
        f"coturn RSS {a['coturn_rss_mb']} MB"
    )
    print(
        f"rate ({r['flows']} flows x {r['window']} in flight, {r['size']} B): relayed "
        f"{r['relayed_round_trips_per_s']}/s, direct {r['direct_round_trips_per_s']}/s, ratio "
        f"{r['ratio_relayed_to_direct']} (runs {r['runs']}, lost {r['lost']}), relayed "
        f"{r['relayed_mbit_per_s_each_way']} Mbit/s each way"
    )
    print(
        f"coturn CPU: {r['coturn_cpu_us_per_relayed_packet']} us per relayed packet, "
        f"{r['coturn_cpu_share_while_relaying']} cores busy while relaying, RSS {r['coturn_rss_mb']} MB"
    )
    print(f"round trip ms: {r['rtt_ms']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
