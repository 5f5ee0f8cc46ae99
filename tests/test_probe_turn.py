"""`wfga probe` against TURN: a real coturn running the rendered config, on loopback only.

The TURN server listens on 127.0.6.1 (its "private address"), Janus would be 127.0.6.2; the IM port
map holds one listening socket on 127.0.6.3.  A fake STUN server on 127.0.6.4 answers what coturn
never would (a success not signed with the credential, a stale nonce).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.coturn import require_coturn, running_coturn, self_signed_certificate
from tests.loopback import free_dual_ports
from wfga.cli import main
from wfga.model.av import AvConfig
from wfga.ops import probe, turnclient
from wfga.plan.turn import render_turnserver_conf, turn_spec

TURN_IP, JANUS_IP, IM_IP, FAKE_IP = "127.0.6.1", "127.0.6.2", "127.0.6.3", "127.0.6.4"
USER, REALM, PASSWORD = "wfchat", "turn.loopback.test", "Probe-Turn-Pass-7"
RELAY = (50000, 60000)
ENV = "WFGA_TEST_TURN_PASSWORD"


@dataclass
class Turn:
    port: int
    tls_port: int
    ca: Path


@contextlib.contextmanager
def _coturn(workdir: Path, external_ip: str | None = None) -> Iterator[Turn]:
    spec = turn_spec(
        AvConfig.model_validate(
            {
                "janus": {"private_ips": [JANUS_IP]},
                "turn": {
                    "realm": REALM,
                    "user": USER,
                    "relay_ports": {"min": RELAY[0], "max": RELAY[1]},
                    "tls": True,
                },
                "access_points": {"lo": {"instance_type": "none"}},
            }
        )
    )
    port, tls_port = free_dual_ports(TURN_IP, 2)
    cert, key = self_signed_certificate(workdir, TURN_IP)
    conf = render_turnserver_conf(
        spec,
        password=PASSWORD,
        private_ip=TURN_IP,
        external_ip=external_ip,
        port=port,
        tls_port=tls_port,
        log_file=str(workdir / "turn.log"),
        cert=str(cert),
        pkey=str(key),
    )
    with running_coturn(conf, workdir, TURN_IP, port):
        yield Turn(port, tls_port, cert)


@pytest.fixture(scope="module")
def turn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Turn]:
    require_coturn()
    with _coturn(tmp_path_factory.mktemp("coturn")) as server:
        yield server


@pytest.fixture
def im_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind((IM_IP, 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


def outputs(tmp_path: Path, im_port: int, urls: list[str], **extra: Any) -> Path:
    row = {
        "access_point": "sg",
        "load_balancer": "nlb-1",
        "zone": "z-a",
        "public_ip": IM_IP,
        "public_port": im_port,
        "node": "im-1",
        "service": "short",
        "target_ip": "172.16.0.11",
        "target_port": 80,
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"port_map": [row], "turn_servers": {"sg": {"urls": urls, "user": USER, **extra}}}))
    return path


def urls(turn: Turn) -> list[str]:
    return [
        f"turn:{TURN_IP}:{turn.port}?transport=udp",
        f"turn:{TURN_IP}:{turn.port}?transport=tcp",
        f"turns:{TURN_IP}:{turn.tls_port}?transport=tcp",
    ]


def run(args: list[str], password: str | None, monkeypatch: pytest.MonkeyPatch) -> int:
    if password is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, password)
    return main(["probe", *args, "--turn-password-env", ENV])


def test_every_turn_url_allocates_a_relay_on_the_private_address(tmp_path, turn, im_port, monkeypatch, capsys):
    path = outputs(tmp_path, im_port, urls(turn))
    result = tmp_path / "result.json"
    code = run(["--outputs", str(path), "--turn-ca", str(turn.ca), "--json", str(result)], PASSWORD, monkeypatch)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "1 of 1 addresses answered" in out
    assert "3 of 3 TURN allocations succeeded" in out
    rows = [r for r in json.loads(result.read_text()) if r.get("kind") == "turn"]
    expected = [("udp", False, True), ("tcp", False, True), ("tcp", True, True)]
    assert [(r["transport"], r["tls"], r["ok"]) for r in rows] == expected
    for r in rows:
        # The relayed candidate carries the configured external IP: here the TURN's own "private" address.
        host, port = r["relayed"].split(":")
        assert host == TURN_IP and RELAY[0] <= int(port) <= RELAY[1]
        assert 0 < r["rtt_ms"] <= r["allocate_ms"]
    assert PASSWORD not in out and PASSWORD not in result.read_text()


def test_a_wrong_password_fails_the_run_and_names_the_refusal(tmp_path, turn, im_port, monkeypatch, capsys):
    path = outputs(tmp_path, im_port, urls(turn)[:2])
    assert run(["--outputs", str(path)], "not-the-password", monkeypatch) == 1
    out = capsys.readouterr().out
    assert out.count("allocation refused: 401") == 2
    assert "0 of 2 TURN allocations succeeded" in out
    assert "not-the-password" not in out


def test_an_unverified_certificate_fails_turns_only(tmp_path, turn, im_port, monkeypatch, capsys):
    path = outputs(tmp_path, im_port, urls(turn))
    assert run(["--outputs", str(path)], PASSWORD, monkeypatch) == 1
    out = capsys.readouterr().out
    assert "2 of 3 TURN allocations succeeded" in out
    assert "CERTIFICATE_VERIFY_FAILED" in out or "certificate verify failed" in out


def test_without_a_password_turn_is_skipped_with_a_note(tmp_path, turn, im_port, monkeypatch, capsys):
    path = outputs(tmp_path, im_port, urls(turn))
    assert run(["--outputs", str(path)], None, monkeypatch) == 0
    captured = capsys.readouterr()
    assert "TURN servers not probed" in captured.err and ENV in captured.err
    assert "TURN allocations" not in captured.out
    # The password from a file works as the variable does; --no-turn skips TURN altogether.
    secret = tmp_path / "turn-password"
    secret.write_text(PASSWORD + "\n")
    assert run(["--outputs", str(path), "--turn-password-file", str(secret), "--no-turn"], None, monkeypatch) == 0
    assert "TURN" not in capsys.readouterr().out
    two = outputs(tmp_path, im_port, urls(turn)[:2])
    assert run(["--outputs", str(two), "--turn-password-file", str(secret)], None, monkeypatch) == 0
    assert "2 of 2 TURN allocations succeeded" in capsys.readouterr().out


def test_a_relay_outside_the_private_ranges_is_flagged(tmp_path_factory, tmp_path, im_port, monkeypatch, capsys):
    require_coturn()
    # external-ip is what the relayed candidate announces: a public-looking one is WildFire's mistake.
    with _coturn(tmp_path_factory.mktemp("coturn-public"), external_ip="100.64.7.7") as server:
        path = outputs(tmp_path, im_port, urls(server)[:1])
        assert run(["--outputs", str(path)], PASSWORD, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "100.64.7.7:" in out and "(not private!)" in out
    with _coturn(tmp_path_factory.mktemp("coturn-private"), external_ip="10.9.8.7") as server:
        path = outputs(tmp_path, im_port, urls(server)[:1])
        assert run(["--outputs", str(path)], PASSWORD, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "10.9.8.7:" in out and "(not private!)" not in out


# --- a fake server: what coturn never does ---------------------------------------------------------


def _stun(kind: int, txid: bytes, attrs: list[tuple[int, bytes]], key: bytes | None = None, bad: bool = False) -> bytes:
    body = b"".join(struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4) for t, v in attrs)
    if key is None:
        return struct.pack("!HHI12s", kind, len(body), turnclient.MAGIC_COOKIE, txid) + body
    head = struct.pack("!HHI12s", kind, len(body) + 24, turnclient.MAGIC_COOKIE, txid)
    mac = hmac.new(key, head + body, hashlib.sha1).digest()
    if bad:
        mac = bytes(20)
    return head + body + struct.pack("!HH", turnclient.MESSAGE_INTEGRITY, 20) + mac


def _xor(ip: str, port: int) -> bytes:
    packed = struct.unpack("!I", socket.inet_aton(ip))[0] ^ turnclient.MAGIC_COOKIE
    return struct.pack("!BBHI", 0, 1, port ^ (turnclient.MAGIC_COOKIE >> 16), packed)


@contextlib.contextmanager
def fake_turn(stale_first: bool, bad_signature: bool) -> Iterator[tuple[int, list[bytes]]]:
    """A UDP STUN responder: 401 first, then optionally 438, then a success signed right or wrong."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((FAKE_IP, 0))
    sock.settimeout(0.05)
    key = turnclient.credential(USER, REALM, PASSWORD)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        stale = stale_first
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(2048)
            except TimeoutError:
                continue
            kind, txid = struct.unpack_from("!H", data)[0], data[8:20]
            seen.append(data)
            nonces = [b"nonce-1", b"nonce-2"]
            realm = (turnclient.REALM, REALM.encode())
            if kind == turnclient.REFRESH:
                reply = _stun(turnclient.REFRESH | turnclient.SUCCESS, txid, [], key)
            elif len(seen) == 1:
                error = struct.pack("!HBB", 0, 4, 1) + b"Unauthorized"
                attrs = [(turnclient.ERROR_CODE, error), realm, (turnclient.NONCE, nonces[0])]
                reply = _stun(turnclient.ALLOCATE | turnclient.ERROR, txid, attrs)
            elif stale:
                stale = False
                error = struct.pack("!HBB", 0, 4, 38) + b"Stale Nonce"
                attrs = [(turnclient.ERROR_CODE, error), realm, (turnclient.NONCE, nonces[1])]
                reply = _stun(turnclient.ALLOCATE | turnclient.ERROR, txid, attrs)
            else:
                attrs = [
                    (turnclient.XOR_RELAYED_ADDRESS, _xor("10.21.0.5", 50123)),
                    (turnclient.XOR_MAPPED_ADDRESS, _xor(peer[0], peer[1])),
                ]
                reply = _stun(turnclient.ALLOCATE | turnclient.SUCCESS, txid, attrs, key, bad=bad_signature)
            sock.sendto(reply, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], seen
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()


def test_a_stale_nonce_is_retried_with_the_fresh_one():
    with fake_turn(stale_first=True, bad_signature=False) as (port, seen):
        allocation = turnclient.allocate(FAKE_IP, port, "udp", USER, PASSWORD, timeout=2)
    assert allocation.relayed == "10.21.0.5:50123"
    assert [m[:2] for m in seen] == [b"\x00\x03"] * 3 + [b"\x00\x04"]  # 401, 438, success, then the release
    assert b"nonce-2" in seen[2] and b"nonce-1" in seen[1]
    assert PASSWORD.encode() not in b"".join(seen)


def test_a_success_not_signed_with_the_credential_fails():
    with (
        fake_turn(stale_first=False, bad_signature=True) as (port, _),
        pytest.raises(turnclient.TurnError, match="fails MESSAGE-INTEGRITY"),
    ):
        turnclient.allocate(FAKE_IP, port, "udp", USER, PASSWORD, timeout=2)


def test_a_silent_server_times_out():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((FAKE_IP, 0))
    try:
        target = probe.TurnTarget("sg", "turn:x", FAKE_IP, sock.getsockname()[1], "udp", False, USER)
        (result,) = probe.probe_turn([target], PASSWORD, timeout=0.6)
    finally:
        sock.close()
    assert not result.ok and result.error == "no answer within 0.6 s"


@pytest.mark.parametrize(
    ("servers", "message"),
    [
        ({"sg": {"urls": ["turn:198.51.100.7:3478?transport=udp"], "user": USER}}, "placeholder of the offline plan"),
        ({"sg": {"urls": ["stun:127.0.0.1:3478"], "user": USER}}, "is not turn(s):IPv4:PORT"),
        ({"sg": {"urls": ["turns:127.0.0.1:5349?transport=udp"], "user": USER}}, "no usable port and transport"),
        ({"sg": {"urls": ["turn:127.0.0.1:3478?transport=udp"]}}, "no user in the outputs; give --turn-user"),
        ({"sg": {"user": USER}}, "turn_servers.sg: no urls list"),
    ],
)
def test_unusable_turn_outputs_exit_2(tmp_path, im_port, monkeypatch, capsys, servers, message):
    path = tmp_path / "outputs.json"
    data = json.loads(outputs(tmp_path, im_port, []).read_text())
    path.write_text(json.dumps({**data, "turn_servers": servers}))
    assert run(["--outputs", str(path)], PASSWORD, monkeypatch) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_access_point_filter_and_user_override_apply_to_turn():
    data = {
        "turn_servers": {
            "sg": {"urls": ["turn:127.0.0.1:3478?transport=udp"], "user": USER},
            "fra": {"urls": ["turn:127.0.0.2:3478?transport=tcp"], "user": USER},
        }
    }
    targets = probe.turn_targets_from_outputs(data, "someone")
    assert [(t.access_point, t.ip, t.transport, t.user) for t in targets] == [
        ("sg", "127.0.0.1", "udp", "someone"),
        ("fra", "127.0.0.2", "tcp", "someone"),
    ]
    assert probe.turn_targets_from_outputs({"port_map": []}) == []


def test_the_password_never_leaves_the_machine_in_clear():
    # The wire carries the user and an HMAC keyed with MD5(user:realm:password), never the password.
    key = turnclient.credential(USER, REALM, PASSWORD)
    assert key == hashlib.md5(f"{USER}:{REALM}:{PASSWORD}".encode()).digest()
    message = turnclient._message(turnclient.ALLOCATE, os.urandom(12), [(turnclient.USERNAME, USER.encode())], key)
    assert PASSWORD.encode() not in message and USER.encode() in message
