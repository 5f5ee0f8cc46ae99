"""Loopback helpers shared by the real-nginx tests and the benchmark (127.0.0.0/8 only)."""

from __future__ import annotations

import socket


def free_ports(address: str, count: int) -> list[int]:
    """Distinct ports free on ``address``: all probes stay bound until every port is chosen."""
    probes = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((address, 0))
            probes.append(s)
        return [s.getsockname()[1] for s in probes]
    finally:
        for s in probes:
            s.close()


def free_dual_ports(address: str, count: int) -> list[int]:
    """Distinct ports free on ``address`` for TCP and UDP alike (a TURN port serves both)."""
    for _ in range(50):
        ports = free_ports(address, count)
        probes = []
        try:
            for port in ports:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(s)
                s.bind((address, port))
            return ports
        except OSError:
            continue
        finally:
            for s in probes:
                s.close()
    raise RuntimeError(f"no {count} ports free for both TCP and UDP on {address}")
