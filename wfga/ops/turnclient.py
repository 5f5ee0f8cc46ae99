"""A minimal TURN client for ``wfga probe``: one Allocate with the long-term credential, then release.

RFC 8489 (STUN) and RFC 8656 (TURN), only what a probe needs: Allocate a UDP relay over UDP, TCP or
TLS, answer the 401 challenge with the realm and nonce the server sent, check the MESSAGE-INTEGRITY
of the success response (so a server that does not hold the key cannot pass), and free the
allocation with a Refresh of lifetime 0.  The password never travels: only the user name and an
HMAC keyed with MD5(user:realm:password).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import os
import socket
import ssl
import struct
import time
from dataclasses import dataclass

MAGIC_COOKIE = 0x2112A442
HEADER = struct.Struct("!HHI12s")
ALLOCATE, REFRESH = 0x003, 0x004
SUCCESS, ERROR = 0x100, 0x110  # class bits of a response, OR-ed into the method
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE, LIFETIME = 0x0006, 0x0008, 0x0009, 0x000D
REALM, NONCE, XOR_RELAYED_ADDRESS, REQUESTED_TRANSPORT = 0x0014, 0x0015, 0x0016, 0x0019
XOR_MAPPED_ADDRESS = 0x0020
UDP_PROTOCOL = 17
# RFC 8489 section 6.2.1: retransmit over UDP from 500 ms on, doubling.
INITIAL_RTO_S = 0.5
MAX_MESSAGE = 65535


class TurnError(Exception):
    """The allocation failed; the message says how (shown to the operator as is)."""


@dataclass(frozen=True)
class Allocation:
    rtt_ms: float  # the first request's round trip (the server's 401 challenge)
    allocate_ms: float  # from the first request to the verified success response
    relayed: str  # ip:port the server relays from: for wfga's TURN, the VM's private address
    mapped: str  # ip:port the server saw the probe come from


def _attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def _message(method: int, txid: bytes, attributes: list[tuple[int, bytes]], key: bytes | None = None) -> bytes:
    body = b"".join(_attribute(k, v) for k, v in attributes)
    if key is None:
        return HEADER.pack(method, len(body), MAGIC_COOKIE, txid) + body
    # The HMAC covers the header with a length that already counts the MESSAGE-INTEGRITY attribute.
    head = HEADER.pack(method, len(body) + 24, MAGIC_COOKIE, txid)
    mac = hmac.new(key, head + body, hashlib.sha1).digest()
    return head + body + _attribute(MESSAGE_INTEGRITY, mac)


@dataclass(frozen=True)
class _Response:
    kind: int
    txid: bytes
    attributes: list[tuple[int, bytes, int]]  # (type, value, offset of the attribute in the message)
    raw: bytes

    def get(self, kind: int) -> bytes | None:
        return next((v for k, v, _ in self.attributes if k == kind), None)

    def error(self) -> tuple[int, str]:
        value = self.get(ERROR_CODE) or b"\0\0\0\0"
        return (value[2] & 0x7) * 100 + value[3], value[4:].decode("utf-8", "replace")

    def integrity_ok(self, key: bytes) -> bool:
        found = next(((v, at) for k, v, at in self.attributes if k == MESSAGE_INTEGRITY), None)
        if found is None:
            return False
        value, at = found
        head = struct.pack("!HH", self.kind, at - HEADER.size + 24) + self.raw[4 : HEADER.size]
        expected = hmac.new(key, head + self.raw[HEADER.size : at], hashlib.sha1).digest()
        return hmac.compare_digest(value, expected)


def _parse(data: bytes) -> _Response:
    if len(data) < HEADER.size:
        raise TurnError("a reply too short for STUN")
    kind, length, cookie, txid = HEADER.unpack_from(data)
    if cookie != MAGIC_COOKIE or kind & 0xC000 or length % 4 or HEADER.size + length > len(data):
        raise TurnError("a reply that is not STUN")
    attributes: list[tuple[int, bytes, int]] = []
    at = HEADER.size
    end = HEADER.size + length
    while at + 4 <= end:
        attr, size = struct.unpack_from("!HH", data, at)
        if at + 4 + size > end:
            raise TurnError("a STUN attribute runs past the message")
        attributes.append((attr, data[at + 4 : at + 4 + size], at))
        at += 4 + size + (-size % 4)
    return _Response(kind, txid, attributes, data[:end])


def _xor_address(value: bytes | None) -> str:
    if value is None or len(value) < 8 or value[1] != 1:
        raise TurnError("no IPv4 address where the success response must carry one")
    port = struct.unpack_from("!H", value, 2)[0] ^ (MAGIC_COOKIE >> 16)
    address = struct.unpack_from("!I", value, 4)[0] ^ MAGIC_COOKIE
    return f"{ipaddress.IPv4Address(address)}:{port}"


class _Channel:
    """Request/response over one transport: UDP with retransmissions, or a TCP/TLS stream."""

    def __init__(self, host: str, port: int, transport: str, deadline: float, tls: ssl.SSLContext | None) -> None:
        self.deadline = deadline
        self.udp = transport == "udp"
        if self.udp:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.connect((host, port))
        else:
            self.sock = socket.create_connection((host, port), timeout=self._left())
            if tls is not None:
                self.sock = tls.wrap_socket(self.sock, server_hostname=host)
        self.buffer = b""

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def close(self) -> None:
        self.sock.close()

    def _read_stream(self) -> bytes:
        # STUN over a stream: messages back to back, each 20 bytes of header plus its length.
        while True:
            if len(self.buffer) >= HEADER.size:
                size = HEADER.size + struct.unpack_from("!H", self.buffer, 2)[0]
                if len(self.buffer) >= size:
                    data, self.buffer = self.buffer[:size], self.buffer[size:]
                    return data
            self.sock.settimeout(self._left())
            chunk = self.sock.recv(MAX_MESSAGE)
            if not chunk:
                raise TurnError("the server closed the connection")
            self.buffer += chunk

    def request(self, message: bytes) -> _Response:
        txid = message[8:20]
        rto = INITIAL_RTO_S
        self.sock.sendall(message)
        next_send = time.monotonic() + rto
        while True:
            if self.udp:
                self.sock.settimeout(max(0.001, min(self._left(), next_send - time.monotonic())))
                try:
                    data = self.sock.recv(MAX_MESSAGE)
                except TimeoutError:
                    self._left()  # raises once the whole probe is out of time
                    rto *= 2
                    self.sock.send(message)
                    next_send = time.monotonic() + rto
                    continue
            else:
                data = self._read_stream()
            response = _parse(data)
            if response.txid == txid:  # a late answer to an earlier request is not this one's
                return response


def credential(user: str, realm: str, password: str) -> bytes:
    """The long-term credential key (RFC 8489 section 9.2.2)."""
    return hashlib.md5(f"{user}:{realm}:{password}".encode()).digest()


def allocate(
    host: str,
    port: int,
    transport: str,
    user: str,
    password: str,
    *,
    timeout: float,
    tls: ssl.SSLContext | None = None,
) -> Allocation:
    """Allocate a UDP relay on ``host:port`` over ``transport`` ("udp" or "tcp"; ``tls`` wraps TCP),
    verify the server's answer, and free the allocation.  Raises TurnError, OSError or TimeoutError."""
    if transport not in ("udp", "tcp") or (tls is not None and transport != "tcp"):
        raise ValueError(f"transport {transport!r}: udp, tcp, or tcp with TLS")
    start = time.monotonic()
    channel = _Channel(host, port, transport, start + timeout, tls)
    try:
        wanted = [(REQUESTED_TRANSPORT, bytes([UDP_PROTOCOL, 0, 0, 0]))]
        asked = time.monotonic()
        challenge = channel.request(_message(ALLOCATE, os.urandom(12), wanted))
        rtt_ms = (time.monotonic() - asked) * 1000
        if challenge.kind != ALLOCATE | ERROR or challenge.error()[0] != 401:
            raise TurnError(f"the server did not ask for credentials (message type 0x{challenge.kind:04x})")
        realm, nonce = challenge.get(REALM), challenge.get(NONCE)
        if realm is None or nonce is None:
            raise TurnError("the 401 challenge carries no realm or nonce")
        key = credential(user, realm.decode("utf-8", "replace"), password)
        for _ in range(2):  # one retry with a fresh nonce (438 Stale Nonce)
            auth = [(USERNAME, user.encode()), (REALM, realm), (NONCE, nonce)]
            answer = channel.request(_message(ALLOCATE, os.urandom(12), [*wanted, *auth], key))
            if answer.kind == ALLOCATE | ERROR and answer.error()[0] == 438 and answer.get(NONCE):
                nonce = answer.get(NONCE) or nonce
                continue
            break
        if answer.kind == ALLOCATE | ERROR:
            code, reason = answer.error()
            raise TurnError(f"allocation refused: {code} {reason}".rstrip())
        if answer.kind != ALLOCATE | SUCCESS:
            raise TurnError(f"unexpected message type 0x{answer.kind:04x}")
        if not answer.integrity_ok(key):
            raise TurnError("the success response fails MESSAGE-INTEGRITY: the server does not hold this credential")
        allocate_ms = (time.monotonic() - start) * 1000
        relayed = _xor_address(answer.get(XOR_RELAYED_ADDRESS))
        mapped = _xor_address(answer.get(XOR_MAPPED_ADDRESS))
        # Free the relay port now rather than when coturn's allocation lifetime runs out.
        auth = [(USERNAME, user.encode()), (REALM, realm), (NONCE, nonce)]
        # If this fails the allocation expires on its own; the probe's verdict stands.
        with contextlib.suppress(OSError, TimeoutError, TurnError):
            channel.request(_message(REFRESH, os.urandom(12), [(LIFETIME, b"\0\0\0\0"), *auth], key))
        return Allocation(rtt_ms=rtt_ms, allocate_ms=allocate_ms, relayed=relayed, mapped=mapped)
    finally:
        channel.close()
