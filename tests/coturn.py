"""A private coturn on loopback, shared by the real-TURN tests and the benchmark (127.0.0.0/8 only).

Each instance runs from its own directory (config, pid file, SQLite database, log) and is stopped
when its context ends, also on errors; the system coturn and its files are never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

TURNSERVER = "/usr/bin/turnserver"
STUN_COOKIE = 0x2112A442
BINDING_REQUEST, BINDING_SUCCESS = 0x0001, 0x0101


def require_coturn() -> None:
    if not os.path.exists(TURNSERVER):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{TURNSERVER} missing; CI must prove the TURN config with a real coturn")
        pytest.skip(f"{TURNSERVER} missing (apt-get install coturn)")


@dataclass
class Coturn:
    process: subprocess.Popen[bytes]
    workdir: Path
    address: str
    port: int

    @property
    def log(self) -> str:
        """Everything coturn wrote: its log file and its standard streams."""
        parts = [p.read_text(errors="replace") for p in self.workdir.glob("*.log")]
        return "\n".join([*parts, (self.workdir / "stdout.txt").read_text(errors="replace")])


def stun_binding(address: str, port: int, timeout: float = 0.2) -> bool:
    """One unauthenticated STUN Binding over UDP: True when coturn answers it."""
    txid = os.urandom(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(struct.pack("!HHI12s", BINDING_REQUEST, 0, STUN_COOKIE, txid), (address, port))
        try:
            data = s.recv(2048)
        except OSError:
            return False
    return len(data) >= 20 and struct.unpack("!H", data[:2])[0] == BINDING_SUCCESS and data[8:20] == txid


def tcp_open(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=0.2).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def running_coturn(
    conf: str, workdir: Path, address: str, port: int, *, udp: bool = True, timeout_s: float = 15
) -> Iterator[Coturn]:
    """coturn with ``conf`` as its only config file, ready to serve when the context starts.

    ``--allow-loopback-peers`` is the one addition: coturn refuses 127.0.0.0/8 peers by default,
    and every peer here is a loopback address standing in for a Janus server.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "turnserver.conf"
    path.write_text(conf)
    command = [
        TURNSERVER,
        "-c",
        str(path),
        "--pidfile",
        str(workdir / "turnserver.pid"),
        "--db",
        str(workdir / "turndb"),
        "--allow-loopback-peers",
    ]
    with (workdir / "stdout.txt").open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Coturn(process, workdir, address, port)
    try:
        deadline = time.monotonic() + timeout_s
        while not (stun_binding(address, port) if udp else tcp_open(address, port)):
            if process.poll() is not None:
                raise RuntimeError(f"coturn exited with {process.returncode}:\n{server.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"coturn did not answer on {address}:{port} within {timeout_s} s:\n{server.log}")
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def self_signed_certificate(directory: Path, ip: str) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for ``ip`` (its subjectAltName), so TLS is verified for real."""
    cert, key = directory / "cert.pem", directory / "privkey.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={ip}",
            "-addext",
            f"subjectAltName=IP:{ip}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key
