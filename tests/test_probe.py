"""`wfga probe` against listeners on loopback only: every address here is in 127.0.0.0/8."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wfga.cli import main
from wfga.ops import probe

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def listening(ip: str, backlog: int = 16) -> socket.socket:
    # The kernel completes the handshake for a listening socket; nobody needs to accept.
    sock = socket.socket()
    sock.bind((ip, 0))
    sock.listen(backlog)
    return sock


def closed_port(ip: str) -> int:
    sock = socket.socket()
    sock.bind((ip, 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def row(ap: str, node: str, service: str, ip: str, port: int, zone: str = "z-a") -> dict[str, Any]:
    assert ipaddress.ip_address(ip) in LOOPBACK  # this test never sends traffic elsewhere
    return {
        "access_point": ap,
        "load_balancer": "nlb-1",
        "zone": zone,
        "public_ip": ip,
        "public_port": port,
        "node": node,
        "service": service,
        "target_ip": "172.16.0.11",
        "target_port": 80,
    }


def write_outputs(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"port_map": rows, "backup_addresses": {}}))
    return path


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def test_every_address_answers(tmp_path, sockets, capsys):
    rows = []
    for ap, ip in (("sg", "127.0.0.1"), ("fra", "127.0.0.2")):
        for node in ("im-1", "im-2"):
            for service in ("short", "long", "ws"):
                sockets.append(listening(ip))
                rows.append(row(ap, node, service, ip, sockets[-1].getsockname()[1]))
    assert main(["probe", "--outputs", str(write_outputs(tmp_path, rows)), "--concurrency", "4"]) == 0
    out = capsys.readouterr().out
    assert "Access point sg" in out
    assert "Access point fra" in out
    assert "12 of 12 addresses answered" in out
    assert "Failures" not in out


def test_a_refused_port_fails_the_run_and_is_named(tmp_path, sockets, capsys):
    sockets.append(listening("127.0.0.1"))
    dead = closed_port("127.0.0.3")
    rows = [
        row("sg", "im-1", "short", "127.0.0.1", sockets[0].getsockname()[1]),
        row("sg", "im-2", "long", "127.0.0.3", dead),
    ]
    out_json = tmp_path / "results.json"
    assert main(["probe", "--outputs", str(write_outputs(tmp_path, rows)), "--json", str(out_json)]) == 1
    out = capsys.readouterr().out
    assert f"127.0.0.3:{dead}" in out
    assert "1 of 2 addresses answered" in out
    results = json.loads(out_json.read_text())
    assert [(r["node"], r["ok"]) for r in results] == [("im-1", True), ("im-2", False)]
    assert results[0]["latency_ms"] >= 0


def test_a_silent_address_times_out(sockets):
    # A full accept queue makes Linux drop further SYNs: the connect hangs until our timeout.
    sockets.append(listening("127.0.0.4", backlog=0))
    port = sockets[0].getsockname()[1]
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.4", port))
        sockets.append(filler)
    target = probe.Target("sg", "nlb-1", "z-a", "im-1", "long", "127.0.0.4", port)
    [result] = probe.probe([target], concurrency=1, timeout=0.3)
    assert not result.ok
    assert result.error == "no answer within 0.3 s"


def test_concurrency_is_bounded(monkeypatch):
    in_flight = 0
    peak = 0

    class Writer:
        def close(self) -> None:
            pass

        async def wait_closed(self) -> None:
            pass

    async def fake_open_connection(host: str, port: int) -> tuple[None, Writer]:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return None, Writer()

    monkeypatch.setattr(asyncio, "open_connection", fake_open_connection)
    targets = [probe.Target("sg", "nlb-1", "z", f"n{i}", "short", "127.0.0.1", 1000 + i) for i in range(20)]
    results = probe.probe(targets, concurrency=3, timeout=1)
    assert all(r.ok for r in results)
    assert peak == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"resources": [], "outputs": {}, "placeholders": []}, "offline plan"),
        ({"backup_addresses": {}}, "no port_map"),
        ({"port_map": [row("sg", "im-1", "short", "127.0.0.1", 81) | {"public_ip": "198.51.100.7"}]}, "placeholder"),
        ({"port_map": [row("sg", "im-1", "short", "127.0.0.1", 81) | {"public_port": 70000}]}, "not a TCP port"),
        ({"port_map": [{"access_point": "sg"}]}, "missing load_balancer"),
    ],
)
def test_unusable_outputs_exit_2(tmp_path, capsys, data, message):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(data))
    assert main(["probe", "--outputs", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_filters_select_access_points_and_nodes(tmp_path, sockets, capsys):
    sockets.append(listening("127.0.0.1"))
    port = sockets[0].getsockname()[1]
    rows = [
        row("sg", "im-1", "short", "127.0.0.1", port),
        row("fra", "im-2", "short", "127.0.0.5", closed_port("127.0.0.5")),
    ]
    path = write_outputs(tmp_path, rows)
    assert main(["probe", "--outputs", str(path), "--access-point", "sg"]) == 0
    assert main(["probe", "--outputs", str(path), "--node", "im-9"]) == 2
    assert "no address left" in capsys.readouterr().err


def test_each_failure_names_its_zone_and_address_in_the_node_table(tmp_path, sockets, capsys):
    sockets.append(listening("127.0.0.1"))
    dead = closed_port("127.0.0.6")
    rows = [
        row("sg", "im-1", "short", "127.0.0.1", sockets[0].getsockname()[1], zone="ap-southeast-1a"),
        row("sg", "im-1", "short", "127.0.0.6", dead, zone="ap-southeast-1b"),
    ]
    assert main(["probe", "--outputs", str(write_outputs(tmp_path, rows))]) == 1
    out = capsys.readouterr().out.splitlines()
    header = next(line for line in out if line.startswith("node"))
    assert header.split()[-2:] == ["failed", "at"]
    [im1] = [line for line in out if line.startswith("im-1 ")]
    assert im1.split()[-1] == f"ap-southeast-1b/127.0.0.6:{dead}"
    failure = out[out.index("Failures") + 3]
    assert failure.split()[:4] == ["sg", "nlb-1", "ap-southeast-1b", f"127.0.0.6:{dead}"]


def test_a_local_dry_run_probes_a_plans_ports_at_one_address(tmp_path, sockets, capsys):
    # An offline plan's port map with placeholder addresses, probed at 127.0.0.1 where a local
    # stand-in listens on two of its ports: every zone's address collapses onto the one address.
    sockets += [listening("127.0.0.1"), listening("127.0.0.1")]
    ports = [s.getsockname()[1] for s in sockets]
    rows = [
        row("sg", "im-1", service, "127.0.0.1", port, zone=zone) | {"public_ip": ip}
        for service, port in zip(("short", "long"), ports, strict=True)
        for zone, ip in (("z-a", "198.51.100.7"), ("z-b", "198.51.100.8"))
    ]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"stack": "t", "resources": [], "outputs": {"port_map": rows}, "placeholders": []}))
    assert main(["probe", str(plan)]) == 2  # placeholders are not deployed addresses
    assert "--address" in capsys.readouterr().err
    assert main(["probe", str(plan), "--address", "127.0.0.1"]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 addresses answered" in out
    assert main(["probe", str(plan), "--address", "127.0.0.1", "--node", "im-9"]) == 2
