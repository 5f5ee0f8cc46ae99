"""The rendered coturn config in a real coturn, with a real TURN client (aioice), on loopback only.

The TURN VM's private address is 127.0.5.1, the Janus server it may relay to is 127.0.5.2, and
127.0.5.3 stands for any other host.  Each server runs the config that
:func:`wfga.plan.turn.render_turnserver_conf` renders from a ``wfga:av`` model, unchanged; only
its ports (free ones instead of 3478/5349) and log file differ from what a VM gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from aioice import stun, turn

from tests.coturn import Coturn, require_coturn, running_coturn, self_signed_certificate
from tests.loopback import free_dual_ports
from wfga.model.av import AvConfig
from wfga.plan.turn import TurnSpec, credential_key, render_turnserver_conf, turn_spec

TURN_IP = "127.0.5.1"
JANUS_IP = "127.0.5.2"
OTHER_IP = "127.0.5.3"
USER = "wfchat"
PASSWORD = "Loopback-Turn-Pass-42"
RELAY = (50000, 60000)
TIMEOUT_S = 5.0


def spec(**turn_settings: Any) -> TurnSpec:
    return turn_spec(
        AvConfig.model_validate(
            {
                "janus": {"private_ips": [JANUS_IP]},
                "turn": {
                    "realm": "turn.loopback.test",
                    "user": USER,
                    "relay_ports": {"min": RELAY[0], "max": RELAY[1]},
                    **turn_settings,
                },
                "access_points": {"lo": {"instance_type": "none"}},
            }
        )
    )


@dataclass
class Server:
    coturn: Coturn
    port: int
    tls_port: int
    cert: Path | None = None


@contextlib.contextmanager
def start(tmp: Path, s: TurnSpec, *, external_ip: str | None = None) -> Iterator[Server]:
    port, tls_port = free_dual_ports(TURN_IP, 2)
    cert = key = None
    if s.tls:
        cert, key = self_signed_certificate(tmp, TURN_IP)
    conf = render_turnserver_conf(
        s,
        password=PASSWORD,
        private_ip=TURN_IP,
        external_ip=external_ip,
        port=port,
        tls_port=tls_port,
        log_file=str(tmp / "turn.log"),
        **({"cert": str(cert), "pkey": str(key)} if cert and key else {}),
    )
    with running_coturn(conf, tmp, TURN_IP, port, udp="udp" in s.transports) as coturn:
        yield Server(coturn, port, tls_port, cert)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Both transports and TLS: the most the stack can turn on."""
    require_coturn()
    with start(tmp_path_factory.mktemp("coturn"), spec(tls=True)) as s:
        yield s


@dataclass
class Received(asyncio.DatagramProtocol):
    packets: asyncio.Queue[tuple[bytes, tuple[str, int]]] = field(default_factory=asyncio.Queue)
    errors: asyncio.Queue[Exception] = field(default_factory=asyncio.Queue)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets.put_nowait((data, addr))

    def error_received(self, exc: Exception) -> None:
        self.errors.put_nowait(exc)


class Echo(Received):
    """A Janus stand-in: records what arrives and answers each packet to its sender."""

    transport: asyncio.DatagramTransport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        super().datagram_received(data, addr)
        self.transport.sendto(b"echo " + data, addr)


@dataclass
class Exchange:
    relayed: tuple[str, int]
    seen_by_peer: list[tuple[bytes, tuple[str, int]]]
    answers: list[tuple[bytes, tuple[str, int]]]
    peer: tuple[str, int]


async def relay_exchange(
    port: int,
    transport: str,
    *,
    password: str = PASSWORD,
    peer_ip: str = JANUS_IP,
    tls: ssl.SSLContext | None = None,
    count: int = 3,
) -> Exchange:
    """Allocate, send ``count`` packets through the relay to a peer, collect what comes back."""
    loop = asyncio.get_running_loop()
    peer_transport, peer = await loop.create_datagram_endpoint(Echo, local_addr=(peer_ip, 0))
    client_transport, client = await asyncio.wait_for(
        turn.create_turn_endpoint(Received, (TURN_IP, port), USER, password, ssl=tls, transport=transport),
        TIMEOUT_S,
    )
    try:
        peer_addr = peer_transport.get_extra_info("sockname")
        for i in range(count):
            client_transport.sendto(f"packet {i}".encode(), peer_addr)
        seen = [await asyncio.wait_for(peer.packets.get(), TIMEOUT_S) for _ in range(count)]
        answers = [await asyncio.wait_for(client.packets.get(), TIMEOUT_S) for _ in range(count)]
        return Exchange(client_transport.get_extra_info("sockname"), seen, answers, peer_addr)
    finally:
        client_transport.close()
        peer_transport.close()
        await asyncio.sleep(0.1)  # lets the allocation's deletion go out


def check_relayed(ex: Exchange, announced_ip: str = TURN_IP) -> None:
    ip, port = ex.relayed
    assert ip == announced_ip
    assert RELAY[0] <= port <= RELAY[1]
    assert sorted(data for data, _ in ex.seen_by_peer) == [b"packet 0", b"packet 1", b"packet 2"]
    assert {source for _, source in ex.seen_by_peer} == {(TURN_IP, port)}
    assert sorted(data for data, _ in ex.answers) == [b"echo packet 0", b"echo packet 1", b"echo packet 2"]
    assert {source for _, source in ex.answers} == {ex.peer}


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_relay_carries_data_to_janus_and_back(server: Server, transport: str) -> None:
    ex = asyncio.run(relay_exchange(server.port, transport))
    check_relayed(ex)


def test_turn_over_tls_on_its_own_port(server: Server) -> None:
    assert server.cert is not None
    context = ssl.create_default_context(cafile=str(server.cert))
    ex = asyncio.run(relay_exchange(server.tls_port, "tcp", tls=context))
    check_relayed(ex)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_wrong_password_is_refused(server: Server, transport: str) -> None:
    with pytest.raises(stun.TransactionFailed) as err:
        asyncio.run(relay_exchange(server.port, transport, password="not-" + PASSWORD))
    assert err.value.response.error_code == 401


def test_the_relay_refuses_peers_other_than_janus(server: Server) -> None:
    async def attempt() -> Exception:
        loop = asyncio.get_running_loop()
        other, _ = await loop.create_datagram_endpoint(Echo, local_addr=(OTHER_IP, 0))
        t, client = await turn.create_turn_endpoint(Received, (TURN_IP, server.port), USER, PASSWORD)
        try:
            t.sendto(b"to a host that is not Janus", other.get_extra_info("sockname"))
            return await asyncio.wait_for(client.errors.get(), TIMEOUT_S)
        finally:
            t.close()
            other.close()
            await asyncio.sleep(0.1)

    error = asyncio.run(attempt())
    assert isinstance(error, stun.TransactionFailed)
    assert error.response.error_code == 403


def test_the_log_never_holds_the_credential(server: Server) -> None:
    asyncio.run(relay_exchange(server.port, "udp"))
    with pytest.raises(stun.TransactionFailed):
        asyncio.run(relay_exchange(server.port, "tcp", password="wrong-" + PASSWORD))
    log = server.coturn.log
    assert "user wfchat credentials are incorrect" in log  # the log covers the logins above
    assert PASSWORD not in log
    assert credential_key(USER, "turn.loopback.test", PASSWORD) not in log


def test_the_external_ip_is_what_relay_candidates_announce(tmp_path: Path) -> None:
    """The setting WildFire points at the private address decides the candidate's address."""
    require_coturn()
    with start(tmp_path, spec(), external_ip="127.0.5.9") as s:
        ex = asyncio.run(relay_exchange(s.port, "udp"))
        check_relayed(ex, announced_ip="127.0.5.9")


@pytest.mark.parametrize(("only", "refused"), [("udp", "tcp"), ("tcp", "udp")])
def test_one_transport_only(tmp_path: Path, only: str, refused: str) -> None:
    require_coturn()
    with start(tmp_path, spec(transports=only)) as s:
        check_relayed(asyncio.run(relay_exchange(s.port, only)))
        with pytest.raises((OSError, TimeoutError, stun.TransactionTimeout)):
            asyncio.run(relay_exchange(s.port, refused))
