"""The TURN relay of an access point: coturn's config, its cloud-init user data, and what clients and
Janus need to use it.

Pure: configuration in, text out, identical for identical input.  WildFire's approach (docs
repository, ``md/blogs/野火音视频全球接入方案.md`` and ``md/webrtc/turn_server.md``) is followed:

* coturn listens and relays on the VM's private address and announces that same *private* address
  as its external IP, so the relay candidates it hands out are reachable from Janus over the link;
* Janus keeps its private host candidate (``keep_private_host = true``), which the relay reaches;
* each client adds its region's TURN with ``addIceServer(url, user, password)``.

Credentials: the clients take one fixed user and password (``addIceServer`` has no way to fetch a
fresh one per call), so coturn runs the long-term credential mechanism with one static user, not
the TURN REST shared secret whose time-limited names a server would have to hand out.  The config
carries the user's key, ``MD5(user:realm:password)`` as coturn accepts it (``user=NAME:0xKEY``),
never the password itself.

What stops the relay from being abused, given that every app carries the password: coturn may only
relay to the Janus servers (every other peer address is denied), the relay ports are open only to
the cluster's network, and only 3478 (and 5349 with TLS) face the internet.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from wfga.model.av import TURN_PORT, TURN_TLS_PORT, AvConfig, Janus, Streams, TurnDistro, TurnServers
from wfga.model.config import AccessPoint
from wfga.plan.cloudinit import BootFile, Delivery, render_delivery

STAGED_CONF = "/etc/wfga/turnserver.conf"
# The Debian/Ubuntu coturn unit runs `turnserver -c /etc/turnserver.conf` as user turnserver.
LIVE_CONF = "/etc/turnserver.conf"
APPLY_SCRIPT = "/usr/local/sbin/wfga-apply-coturn"
SYSCTL_FILE = "/etc/sysctl.d/90-wfga-turn.conf"
LIMITS_DROP_IN = "/etc/systemd/system/coturn.service.d/90-wfga-limits.conf"
CERT_PATH = "/etc/wfga/turn/cert.pem"
PKEY_PATH = "/etc/wfga/turn/privkey.pem"
PACKAGES = ("coturn",)
# Written into the staged config when the VM's private address is only known on the VM; the apply
# script replaces it with the address the VM uses toward Janus.
PRIVATE_IP_TOKEN = "@WFGA_PRIVATE_IP@"

# A relayed allocation holds its relay socket, and over TCP the client's socket too.
FDS_PER_ALLOCATION = 2
FD_HEADROOM = 1024
# Clients refresh an allocation before it expires (RFC 8656 section 7); coturn never ends one that
# is refreshed, so a call lasts as long as its client keeps refreshing.  An hour bounds how long
# an allocation whose client vanished keeps its relay port.
MAX_ALLOCATE_LIFETIME_S = 3600
STALE_NONCE_S = 600


@dataclass(frozen=True)
class TurnSpec:
    """The TURN settings that shape one coturn config, shared by every TURN VM of a stack."""

    realm: str
    user: str
    relay_ports: tuple[int, int]
    transports: tuple[str, ...]  # "udp", "tcp": what clients may use on the listening port
    tls: bool
    peers: tuple[str, ...]  # the only addresses the relay may send to: the Janus servers

    def __post_init__(self) -> None:
        problems = []
        low, high = self.relay_ports
        if not 1 <= low <= high <= 65535:
            problems.append(f"relay ports {low}..{high} are not a range inside 1..65535")
        if not self.transports or not set(self.transports) <= {"udp", "tcp"}:
            problems.append(f"transports {self.transports} must be udp, tcp or both")
        if not self.peers:
            problems.append("at least one Janus address is needed: coturn relays to Janus only")
        for peer in self.peers:
            ipaddress.IPv4Address(peer)
        # Realm and user end up on lines of their own; a newline would smuggle in directives.
        for what, value in (("realm", self.realm), ("user", self.user)):
            if not value or any(c in value for c in ":\n\r\t #") or not value.isascii():
                problems.append(f"{what} {value!r} must be non-empty ASCII without ':', '#', spaces or newlines")
        if problems:
            raise ValueError("cannot render a coturn config: " + "; ".join(problems))


def turn_spec(av: AvConfig) -> TurnSpec:
    return TurnSpec(
        realm=av.turn.realm,
        user=av.turn.user,
        relay_ports=(av.turn.relay_ports.min, av.turn.relay_ports.max),
        transports=av.turn.client_transports,
        tls=av.turn.tls,
        peers=tuple(str(ip) for ip in av.janus.private_ips),
    )


def credential_key(user: str, realm: str, password: str) -> str:
    """The long-term credential key of RFC 8489 section 9.2.2, as coturn's ``0x`` user entries hold it.

    MD5 is what the TURN protocol specifies for this key, not a choice made here.
    """
    return hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()


def _conf(
    spec: TurnSpec,
    *,
    key: str,
    address: str,
    external: str,
    port: int,
    tls_port: int,
    log_file: str,
    cert: str,
    pkey: str,
) -> str:
    low, high = spec.relay_ports
    lines = [
        "# Rendered by wfga from wfga:av; change the stack configuration, not this file.",
        "# Listens, relays and announces on the private address, so relay candidates are reachable",
        "# from Janus over the private link (WildFire's audio/video global access).",
        f"listening-ip={address}",
        f"relay-ip={address}",
        f"external-ip={external}",
        f"listening-port={port}",
        f"min-port={low}",
        f"max-port={high}",
    ]
    if "udp" not in spec.transports:
        lines.append("no-udp")
    if "tcp" not in spec.transports:
        lines.append("no-tcp")
    if spec.tls:
        lines += [f"tls-listening-port={tls_port}", f"cert={cert}", f"pkey={pkey}", "no-tlsv1", "no-tlsv1_1"]
    else:
        lines.append("no-tls")
    lines += [
        "no-dtls",
        "# WebRTC relays UDP only.",
        "no-tcp-relay",
        "# One static user: the apps pass the same user and password to addIceServer.",
        "lt-cred-mech",
        "fingerprint",
        f"realm={spec.realm}",
        f"user={spec.user}:0x{key}",
        "# Every client shares the user, so a per-user quota would cap the whole region.",
        "user-quota=0",
        "total-quota=0",
        f"max-allocate-lifetime={MAX_ALLOCATE_LIFETIME_S}",
        f"stale-nonce={STALE_NONCE_S}",
        "# Relay to the Janus servers only: the password ships in every app, the peers are the limit.",
        "no-multicast-peers",
        "denied-peer-ip=0.0.0.0-255.255.255.255",
    ]
    lines += [f"allowed-peer-ip={peer}" for peer in spec.peers]
    lines += [
        "no-rfc5780",
        "no-stun-backward-compatibility",
        "response-origin-only-with-rfc5780",
        "no-software-attribute",
        "no-cli",
        f"log-file={log_file}",
        "simple-log",
        "no-stdout-log",
        "",
    ]
    return "\n".join(lines)


def render_turnserver_conf(
    spec: TurnSpec,
    *,
    password: str,
    private_ip: str,
    external_ip: str | None = None,
    port: int = TURN_PORT,
    tls_port: int = TURN_TLS_PORT,
    log_file: str = "syslog",
    cert: str = CERT_PATH,
    pkey: str = PKEY_PATH,
) -> str:
    """The ``turnserver.conf`` of one TURN VM whose private address is ``private_ip``.

    ``external_ip`` None announces the private address, as WildFire's access points do.  ``port``,
    ``tls_port`` and ``log_file`` exist for tests on a shared machine; VMs use the defaults.
    """
    for ip in (private_ip, external_ip or private_ip):
        ipaddress.IPv4Address(ip)
    for what, value in (("log_file", log_file), ("cert", cert), ("pkey", pkey)):
        if not value or any(c in value for c in "\n\r"):
            raise ValueError(f"{what} must be one line")
    return _conf(
        spec,
        key=credential_key(spec.user, spec.realm, password),
        address=private_ip,
        external=external_ip or private_ip,
        port=port,
        tls_port=tls_port,
        log_file=log_file,
        cert=cert,
        pkey=pkey,
    )


def limit_nofile(spec: TurnSpec) -> int:
    """Open files for as many allocations as the relay range has ports."""
    low, high = spec.relay_ports
    return FDS_PER_ALLOCATION * (high - low + 1) + FD_HEADROOM


def sysctl_settings(spec: TurnSpec) -> dict[str, str]:
    # coturn binds relay ports explicitly; reserving them keeps the kernel from handing one out as
    # the ephemeral port of some outgoing connection (package updates, metadata calls).
    low, high = spec.relay_ports
    return {"net.ipv4.ip_local_reserved_ports": f"{low}-{high}"}


def apply_script(spec: TurnSpec) -> str:
    """Installs the staged config.  coturn cannot reload its listeners, so a changed config means a
    restart, and calls through this server reconnect (ICE restart); an unchanged one leaves coturn,
    and every call on it, alone."""
    janus = spec.peers[0]
    tls_check = (
        f'[ -s {CERT_PATH} ] && [ -s {PKEY_PATH} ] || echo "wfga: TLS is on but {CERT_PATH} or {PKEY_PATH} '
        'is missing; coturn runs without TLS until both exist and coturn restarts" >&2\n'
        if spec.tls
        else ""
    )
    return f"""#!/bin/sh
# Applies the staged wfga coturn config.  The private address is the one this VM uses toward Janus,
# which is what relay candidates must carry for Janus to reach them over the private link.
set -eu
staged={STAGED_CONF}
live={LIVE_CONF}
ip=$(ip -4 route get {janus} | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p')
if [ -z "$ip" ]; then
    echo "wfga: no IPv4 route toward Janus {janus}; cannot tell this VM's private address" >&2
    exit 1
fi
next=$(mktemp)
trap 'rm -f "$next"' EXIT
sed "s/{PRIVATE_IP_TOKEN}/$ip/g" "$staged" > "$next"
systemctl restart systemd-sysctl.service
systemctl daemon-reload
{tls_check}if cmp -s "$next" "$live" && systemctl is-active --quiet coturn; then
    exit 0
fi
install -m 0640 -o root -g turnserver "$next" "$live"
systemctl enable coturn
systemctl restart coturn
"""


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks so the files stay readable in the console."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_BlockDumper.add_representer(str, _str)


def turn_files(spec: TurnSpec, *, password: str, private_ip: str | None = None) -> tuple[BootFile, ...]:
    """The files a TURN VM needs: staged config, sysctl, limits drop-in, apply script.

    The bootstrap (:func:`render_turn_user_data`) writes them on first boot and every delivery
    (:func:`render_turn_delivery`) rewrites them.  ``private_ip`` None: the apply script finds the
    VM's private address on the VM (the source address of its route to Janus), so the files do not
    depend on the instance.  The staged config holds the credential key.
    """
    if private_ip is not None:
        ipaddress.IPv4Address(private_ip)
    conf = _conf(
        spec,
        key=credential_key(spec.user, spec.realm, password),
        address=private_ip or PRIVATE_IP_TOKEN,
        external=private_ip or PRIVATE_IP_TOKEN,
        port=TURN_PORT,
        tls_port=TURN_TLS_PORT,
        log_file="syslog",
        cert=CERT_PATH,
        pkey=PKEY_PATH,
    )
    sysctl = "# wfga TURN server: see docs/audio-video.md.\n" + "".join(
        f"{k} = {v}\n" for k, v in sysctl_settings(spec).items()
    )
    return (
        # Root only until the apply script installs it for coturn: it holds the credential key.
        BootFile(STAGED_CONF, "0600", conf),
        BootFile(SYSCTL_FILE, "0644", sysctl),
        BootFile(LIMITS_DROP_IN, "0644", f"[Service]\nLimitNOFILE={limit_nofile(spec)}\n"),
        BootFile(APPLY_SCRIPT, "0755", apply_script(spec)),
    )


def render_turn_user_data(spec: TurnSpec, *, password: str, distro: TurnDistro, private_ip: str | None = None) -> str:
    """``#cloud-config`` user data that makes a fresh ``distro`` VM a TURN server of an access point.

    ``private_ip`` None: the apply script finds the VM's private address on the VM (the source
    address of its route to Janus), so the user data does not depend on the instance it starts.
    The result holds the credential key: treat it as a secret (a Pulumi secret output).
    """
    if distro not in ("debian", "ubuntu"):
        raise ValueError(f"coturn is packaged for debian and ubuntu, not {distro!r}")
    files = turn_files(spec, password=password, private_ip=private_ip)
    data: dict[str, Any] = {
        "package_update": True,
        "packages": list(PACKAGES),
        "write_files": [{"path": f.path, "permissions": f.permissions, "content": f.content} for f in files],
        # runcmd runs after package installation, so coturn, its user and its unit exist by then.
        "runcmd": [[APPLY_SCRIPT]],
    }
    return "#cloud-config\n" + yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, width=1000)


def render_turn_delivery(spec: TurnSpec, *, password: str) -> Delivery:
    """The day-2 delivery of exactly the files the user data writes: rewrite them on the running
    VM, then run the apply script, which restarts coturn only if its config changed.

    Holds the credential key, like the user data: pass it as a secret.
    """
    return render_delivery(
        turn_files(spec, password=password),
        apply_script=APPLY_SCRIPT,
        service="coturn",
        owner="the TURN relay's",
        doc="docs/audio-video.md",
    )


@dataclass(frozen=True)
class TurnVm:
    """TURN server ``turn-N`` of an access point: its stable key, zone and pinned EIP if any."""

    access_point: str
    key: str
    number: int
    zone: str
    pinned_allocation_id: str | None
    pinned_address: str | None


def turn_vms(ap: AccessPoint, servers: TurnServers) -> list[TurnVm]:
    """``turn-1..turn-count``, round-robin over the access point's zones in their listed order.

    A server's zone depends only on its number and the zone list, so raising ``count`` adds VMs
    without moving the existing ones (and their addresses, which the apps carry).
    """
    pinned = {eip.server: eip for eip in servers.pinned_eips}
    vms = []
    for number in range(1, servers.count + 1):
        eip = pinned.get(number)
        vms.append(
            TurnVm(
                access_point=ap.name,
                key=f"turn-{number}",
                number=number,
                zone=ap.zones[(number - 1) % len(ap.zones)],
                pinned_allocation_id=eip.allocation_id if eip else None,
                pinned_address=str(eip.address) if eip else None,
            )
        )
    return vms


@dataclass(frozen=True)
class TurnRule:
    """One ingress rule of a TURN VM's or the cluster's security group."""

    key: str  # stable part of the rule's resource name
    protocol: str  # "udp" or "tcp"
    first_port: int
    last_port: int
    cidr: str


def turn_ingress(av: AvConfig, cluster_cidr: str, admin_cidr: str | None = None) -> list[TurnRule]:
    """A TURN VM admits the TURN port from anywhere, the relay range only from the cluster."""
    rules = [TurnRule(f"turn-{t}-{TURN_PORT}", t, TURN_PORT, TURN_PORT, "0.0.0.0/0") for t in av.turn.client_transports]
    if av.turn.tls:
        rules.append(TurnRule(f"turns-tcp-{TURN_TLS_PORT}", "tcp", TURN_TLS_PORT, TURN_TLS_PORT, "0.0.0.0/0"))
    relay = av.turn.relay_ports
    rules.append(TurnRule(f"relay-udp-{relay.min}", "udp", relay.min, relay.max, cluster_cidr))
    if admin_cidr is not None:
        rules.append(TurnRule("ssh-22", "tcp", 22, 22, admin_cidr))
    return rules


def janus_ingress(janus: Janus, access_point: str, access_point_cidr: str) -> TurnRule:
    """The cluster admits Janus's RTP range from an access point that has TURN, over the link."""
    rtp = janus.rtp_ports
    return TurnRule(f"rtp-{access_point}-{rtp.min}", "udp", rtp.min, rtp.max, access_point_cidr)


def turn_urls(address: str, av: AvConfig) -> list[str]:
    """What a client passes to ``addIceServer`` for one TURN server, one URL per transport."""
    ipaddress.IPv4Address(address)
    urls = [f"turn:{address}:{TURN_PORT}?transport={t}" for t in av.turn.client_transports]
    if av.turn.tls:
        urls.append(f"turns:{address}:{TURN_TLS_PORT}?transport=tcp")
    return urls


PASSWORD_PLACEHOLDER = "TURN_PASSWORD"


def client_snippet(access_point: str, urls: Sequence[str], user: str) -> str:
    """Android lines adding an access point's TURN servers (the other SDKs have the same call).

    The password stays a name for the app to define from ``wfga:turn_password``: outputs are
    plain text in the stack's state and in CI logs.
    """
    lines = [
        f"// TURN of access point {access_point}: add for users in its region (wfga:av). "
        f"{PASSWORD_PLACEHOLDER} is the stack's secret wfga:turn_password.",
    ]
    lines += [f'AVEngineKit.Instance().addIceServer("{url}", "{user}", {PASSWORD_PLACEHOLDER});' for url in urls]
    return "\n".join(lines) + "\n"


def janus_lines(janus: Janus) -> str:
    """The janus.jcfg settings every Janus server needs for TURN access points."""
    rtp = janus.rtp_ports
    return (
        "# janus.jcfg on every Janus server, then restart Janus.\n"
        "media: {\n"
        f'\trtp_port_range = "{rtp.min}-{rtp.max}"\n'
        "}\n"
        "nat: {\n"
        "\t# Keep the private host candidate next to the public one: TURN relays reach Janus on it.\n"
        "\tkeep_private_host = true\n"
        "}\n"
    )


@dataclass(frozen=True)
class LinkEstimate:
    """Video traffic of one call over an access point's private link, in kbit/s."""

    to_cluster_kbps: int
    from_cluster_kbps: int

    @property
    def peak_kbps(self) -> int:
        return max(self.to_cluster_kbps, self.from_cluster_kbps)

    def calls_within(self, link_mbps: int) -> int:
        """How many such calls fit a link capped at ``link_mbps`` in its busier direction."""
        return math.floor(link_mbps * 1000 / self.peak_kbps)


def link_estimate(streams: Streams, participants: int, via_access_point: int) -> LinkEstimate:
    """WildFire's formula for the traffic between an access point and the main site.

    ``via_access_point`` (N) of the ``participants`` reach Janus through the access point.  Each of
    them publishes a big and a small stream up the link; each receives the focused user's big stream
    and everyone else's small stream down it.  With N = 1 this is WildFire's N x (big + small) and
    N x (1 big + (M - 1) small) for M directly connected users; for N > 1 it also counts the small
    streams of the other access-point users, which Janus sends back down the same link.  Without
    dual-stream mode every stream is big.  Audio is not counted, as in WildFire's formula.
    """
    if not 1 <= via_access_point <= participants or participants < 2:
        raise ValueError("need 2 or more participants, 1 to all of them via the access point")
    n = via_access_point
    if streams.dual_stream:
        up = n * (streams.big_kbps + streams.small_kbps)
        down = n * (streams.big_kbps + (participants - 2) * streams.small_kbps)
    else:
        up = n * streams.big_kbps
        down = n * (participants - 1) * streams.big_kbps
    return LinkEstimate(to_cluster_kbps=up, from_cluster_kbps=down)


def media_outputs(
    av: AvConfig, addresses: Mapping[str, Sequence[str]], link_mbps: Mapping[str, int | None]
) -> dict[str, dict[str, Any]]:
    """The ``turn_servers`` stack output: per access point, its URLs, the client lines and the estimate.

    ``addresses`` maps an access point to its TURN servers' public addresses (turn-1 first);
    ``link_mbps`` to the cap of its private link (cen_bandwidth_mbps), or None where wfga sets no
    cap (VPC peering, an existing link): then ``calls_within_link`` is None too.
    """
    estimate = link_estimate(av.streams, av.estimate.participants, av.estimate.via_access_point)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(av.access_points):
        urls = [url for address in addresses[name] for url in turn_urls(address, av)]
        cap = link_mbps[name]
        out[name] = {
            "urls": urls,
            "user": av.turn.user,
            "client": client_snippet(name, urls, av.turn.user),
            "link_kbps_per_call": {
                "to_cluster": estimate.to_cluster_kbps,
                "from_cluster": estimate.from_cluster_kbps,
                "participants": av.estimate.participants,
                "via_access_point": av.estimate.via_access_point,
            },
            "calls_within_link": None if cap is None else estimate.calls_within(cap),
        }
    return out
