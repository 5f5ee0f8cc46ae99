"""Audio/video global access: the ``wfga:av`` key and the secret ``wfga:turn_password``.

WildFire's advanced audio/video edition reaches users far from the cluster through a TURN server in
each access-point region, joined to the cluster's private network (docs repository,
``md/blogs/野火音视频全球接入方案.md``).  ``wfga:av`` describes the Janus media servers in the
cluster, the TURN settings every access point shares, and which access points get TURN VMs:

.. code-block:: yaml

    wfga:av:
      janus:
        private_ips: [172.16.0.50]
        rtp_ports: {min: 20000, max: 40000}
      turn:
        realm: turn.example.com
        user: wfchat
      access_points:
        sg: {instance_type: ecs.c7.large}
    wfga:turn_password:
      secure: ...   # pulumi config set --secret turn_password ...

The password is its own key because Pulumi encrypts whole keys: a secret nested inside ``wfga:av``
would make the whole block secret, and wfga could not show the rest in plans and errors.

Both keys are fields of :class:`~wfga.model.config.StackConfig`, and
:func:`wfga.model.config.parse_stack_config` validates them in its one round with the rest: the models
here, :func:`password_problems` and :func:`av_problems` (the rules that need the rest of the stack:
access point names, the cluster network).  :func:`parse_av_config` validates the two keys alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator

from wfga.model.base import (
    DEFAULT_ADMIN_MIN_PREFIX,
    MAX_PAY_BY_TRAFFIC_EIP_MBPS,
    NAMESPACE,
    ConfigError,
    Id,
    Ipv4,
    Ipv4Network,
    Name,
    Port,
    _message,
    _Model,
    admin_cidr_problems,
    public_unicast_problem,
    raise_problems,
)
from wfga.model.base import loc_to_path as _loc_to_path
from wfga.model.base import problem as _problem
from wfga.model.images import IMAGES

if TYPE_CHECKING:
    # The stack's models use this module's; only the types are needed here.
    from wfga.model.config import AccessPoint, Cluster, StackConfig

# WildFire's TURN set-up exposes 3478 over UDP and TCP (the single-port mode); clients force TCP with
# ?transport=tcp.  5349 is the standard TURN-over-TLS port (RFC 8656).
TURN_PORT = 3478
TURN_TLS_PORT = 5349
# Ports below 1024 need privileges the packaged coturn (user turnserver) does not have.
MIN_UNPRIVILEGED_PORT = 1024
# WildFire's go-live checklist (md/blogs/上线检查事项.md): the TURN relay range needs at least 10,000
# UDP ports.  wf-janus's README: Janus's RTP range needs at least 5,000.
MIN_RELAY_PORTS = 10_000
MIN_RTP_PORTS = 5_000
# coturn is packaged (package `coturn`) on Debian and Ubuntu; the other distributions wfga knows do not
# ship it in their default repositories.
TurnDistro = Literal["debian", "ubuntu"]
Transports = Literal["udp", "tcp", "both"]

_REALM = r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,126}[A-Za-z0-9])?$"
# The user name is one side of coturn's `user=NAME:KEY` line, so no colon; clients send it as is.
_USER = r"^[A-Za-z0-9._-]{1,64}$"


class PortRange(_Model):
    """An inclusive range of ports, written ``{min: ..., max: ...}``."""

    min: Port = Field(description="first port of the range")
    max: Port = Field(description="last port of the range")

    @model_validator(mode="after")
    def _ordered(self) -> PortRange:
        if self.min > self.max:
            raise ValueError(f"min: {self.min} is above max {self.max}; give the lower port as min")
        if self.min < MIN_UNPRIVILEGED_PORT:
            raise ValueError(f"min: {self.min} is a privileged port; media ranges start at {MIN_UNPRIVILEGED_PORT}")
        return self

    @property
    def size(self) -> int:
        return self.max - self.min + 1

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.min <= port <= self.max

    def __str__(self) -> str:
        return f"{self.min}..{self.max}"


DEFAULT_RTP_PORTS = PortRange(min=20000, max=40000)  # wf-janus's janus.jcfg
DEFAULT_RELAY_PORTS = PortRange(min=49152, max=65535)  # WildFire's turn_server.md sample


class Janus(_Model):
    """The Janus media servers of the cluster (WildFire's advanced A/V edition), which wfga never runs."""

    private_ips: list[ipaddress.IPv4Address] = Field(min_length=1, description="every Janus server, private IPs")
    rtp_ports: PortRange = Field(default=DEFAULT_RTP_PORTS, description="janus.jcfg media.rtp_port_range")

    @model_validator(mode="after")
    def _check(self) -> Janus:
        if len(set(self.private_ips)) != len(self.private_ips):
            raise ValueError("private_ips: an address is listed twice")
        if self.rtp_ports.size < MIN_RTP_PORTS:
            raise ValueError(
                f"rtp_ports: {self.rtp_ports} has {self.rtp_ports.size} ports; WildFire asks for at least "
                f"{MIN_RTP_PORTS} (wf-janus README)"
            )
        return self


class Turn(_Model):
    """What every TURN server of the stack shares: clients of every region log in the same way."""

    realm: Annotated[str, Field(pattern=_REALM, description="coturn realm, e.g. turn.example.com")]
    user: Annotated[str, Field(pattern=_USER, description="the user name every client passes to addIceServer")]
    relay_ports: PortRange = Field(default=DEFAULT_RELAY_PORTS, description="coturn min-port/max-port")
    transports: Transports = Field(default="both", description="client transports on 3478")
    tls: bool = Field(default=False, description="also TURN over TLS on 5349")

    @model_validator(mode="after")
    def _check(self) -> Turn:
        if self.relay_ports.size < MIN_RELAY_PORTS:
            raise ValueError(
                f"relay_ports: {self.relay_ports} has {self.relay_ports.size} ports; WildFire asks for at least "
                f"{MIN_RELAY_PORTS} relay ports per TURN server"
            )
        for port in self.listening_ports:
            if port in self.relay_ports:
                raise ValueError(
                    f"relay_ports: {self.relay_ports} contains {port}, where the TURN server listens for clients; "
                    f"move the range above it (default {DEFAULT_RELAY_PORTS})"
                )
        return self

    @property
    def listening_ports(self) -> tuple[int, ...]:
        return (TURN_PORT, TURN_TLS_PORT) if self.tls else (TURN_PORT,)

    @property
    def client_transports(self) -> tuple[str, ...]:
        return ("udp", "tcp") if self.transports == "both" else (self.transports,)


class Streams(_Model):
    """Bit rates of the advanced edition streams, for the link estimate only.

    Defaults from the wf-janus README: a standard (big) stream needs 100 KB/s, the micro (small)
    stream of dual-stream mode is fixed at 10 KB/s.
    """

    big_kbps: int = Field(
        default=800, ge=1, le=100_000, description="bit rate of a standard (big) video stream, kbit/s"
    )
    small_kbps: int = Field(
        default=80, ge=1, le=100_000, description="bit rate of a dual-stream (small) video stream, kbit/s"
    )
    dual_stream: bool = Field(default=True, description="false when the apps call disableDualStream")


class Estimate(_Model):
    """The call the per-call link estimate describes."""

    participants: int = Field(default=9, ge=2, le=1000, description="everyone in the call")
    via_access_point: int = Field(default=1, ge=1, le=1000, description="of whom, reach Janus through one access point")

    @model_validator(mode="after")
    def _check(self) -> Estimate:
        if self.via_access_point > self.participants:
            raise ValueError(
                f"via_access_point: {self.via_access_point} is more than the {self.participants} participants"
            )
        return self


class PinnedTurnEip(_Model):
    """An existing EIP for TURN server ``turn-N``: its address is in every client app, so it must not change."""

    server: int = Field(ge=1, description="N of turn-N")
    allocation_id: Id = Field(description="the existing EIP's allocation id")
    address: Ipv4 = Field(description="the existing EIP's public address (public unicast)")


class TurnServers(_Model):
    """The TURN VMs of one access point: ``turn-1..turn-count``, spread over the access point's zones."""

    instance_type: Id = Field(description="e.g. ecs.c7.large or c7i.large")
    count: int = Field(
        default=1, ge=1, le=10, description="TURN VMs turn-1..turn-count, round-robin over the access point's zones"
    )
    distro: TurnDistro = Field(default="debian", description="debian or ubuntu (where coturn is packaged)")
    image_id: Id | None = Field(default=None, description="image or AMI id; default: the distro's latest")
    admin_cidr: Ipv4Network | None = Field(default=None, description="opens SSH (22) from here only")
    admin_cidr_min_prefix: int = Field(
        default=DEFAULT_ADMIN_MIN_PREFIX,
        ge=1,
        le=32,
        description="the widest admin_cidr accepted (default /16); 0.0.0.0/0 is never accepted",
    )
    eip_bandwidth_mbps: int | None = Field(
        default=None, ge=1, le=10000, description="cap of each TURN EIP; default: the access point's"
    )
    pinned_eips: list[PinnedTurnEip] = Field(
        default_factory=list, description="existing EIPs to use for turn-N instead of new ones"
    )

    @model_validator(mode="after")
    def _check(self) -> TurnServers:
        problems = admin_cidr_problems(self.admin_cidr, self.admin_cidr_min_prefix, "admin_cidr")
        seen: set[int] = set()
        addresses: set[ipaddress.IPv4Address] = set()
        for i, eip in enumerate(self.pinned_eips):
            public = public_unicast_problem(eip.address, f"pinned_eips[{i}].address")
            if public:
                problems.append(public)
            if eip.server > self.count:
                problems.append(f"pinned_eips[{i}].server: there is no turn-{eip.server} with count {self.count}")
            if eip.server in seen:
                problems.append(f"pinned_eips[{i}].server: turn-{eip.server} is pinned twice")
            if eip.address in addresses:
                problems.append(f"pinned_eips[{i}].address: {eip.address} is pinned twice")
            seen.add(eip.server)
            addresses.add(eip.address)
        raise_problems(problems)
        return self


class AvConfig(_Model):
    """``wfga:av``: present and enabled turns the audio/video part on."""

    enabled: bool = Field(default=True, description="false keeps the block but provisions nothing")
    janus: Janus = Field(description="the Janus servers in the cluster")
    turn: Turn = Field(description="the TURN settings every relay shares")
    access_points: dict[Name, TurnServers] = Field(min_length=1, description="access point name -> TURN VMs")
    streams: Streams = Field(default=Streams(), description="bit rates for the private-link estimate")
    estimate: Estimate = Field(default=Estimate(), description="the call the per-call link estimate describes")


class AvSettings(_Model):
    """Both keys together; ``av`` None (absent) means audio/video is off."""

    av: AvConfig | None = None
    turn_password: SecretStr | None = Field(default=None, description="set with pulumi config set --secret")

    @property
    def enabled(self) -> bool:
        return self.av is not None and self.av.enabled

    def password(self) -> str:
        """The shared TURN password (the secret's plain value: never log or export it)."""
        if self.turn_password is None:
            raise ValueError("no TURN password; parse_av_config requires one when audio/video is on")
        return self.turn_password.get_secret_value()


# The namespace's audio/video keys: the fields of AvSettings, and of StackConfig.
AV_KEYS = tuple(AvSettings.model_fields)


def password_problems(cfg: AvSettings, secret_keys: Collection[str] | None) -> list[str]:
    """The password is there when audio/video is on, not empty, and (unless ``secret_keys`` is None)
    stored encrypted: ``secret_keys`` names the keys the stack encrypts."""
    key = f"{NAMESPACE}:turn_password"
    problems: list[str] = []
    if cfg.turn_password is not None and secret_keys is not None and key not in secret_keys:
        # Never echo the value: the stack file is in version control, the error may land in CI logs.
        problems.append(
            f"{key}: stored as plain text; remove it from the stack file, run "
            "`pulumi config set --secret turn_password <password>`, and change the TURN password "
            "(and the apps that carry it)"
        )
    if cfg.enabled and cfg.turn_password is None:
        problems.append(
            f"{key}: required when wfga:av is on; every client logs in to TURN with wfga:av.turn.user and this "
            "password: run `pulumi config set --secret turn_password <password>`"
        )
    elif cfg.turn_password is not None and not cfg.turn_password.get_secret_value():
        problems.append(f"{key}: empty; TURN needs a password")
    return problems


def parse_av_config(values: Mapping[str, Any], secret_keys: Collection[str] = ()) -> AvSettings:
    """Validate ``wfga:av`` and ``wfga:turn_password`` among the stack's values (namespaced, decoded).

    ``secret_keys`` names the keys the stack stores encrypted; a password outside it is refused.
    Absent ``wfga:av`` (or an explicit null) means audio/video is off.
    """
    raw = {key: values[f"{NAMESPACE}:{key}"] for key in AV_KEYS if values.get(f"{NAMESPACE}:{key}") is not None}
    try:
        cfg = AvSettings.model_validate(raw)
    except ValidationError as err:
        raise ConfigError([_problem(_loc_to_path(tuple(e["loc"]), raw), _message(e)) for e in err.errors()]) from None
    problems = password_problems(cfg, secret_keys)
    if problems:
        raise ConfigError(problems)
    return cfg


def check_av_against_stack(av: AvConfig, stack: StackConfig) -> list[str]:
    """:func:`av_problems` against a whole, valid stack; an empty list means consistent."""
    return av_problems(av, stack.cluster, stack.access_points)


def av_problems(
    av: AvConfig, cluster: Cluster, access_points: Sequence[AccessPoint], named: Collection[str] = ()
) -> list[str]:
    """Rules that span ``wfga:av`` and the rest of the stack, on the valid ``access_points``.

    ``named`` holds names of access points that exist but are invalid (their own problems are
    listed already), so that TURN for them is not reported missing as well.
    """
    problems: list[str] = []
    path = f"{NAMESPACE}:av"
    by_name = {ap.name: ap for ap in access_points}
    for name, servers in av.access_points.items():
        ap = by_name.get(name)
        where = f"{path}.access_points.{name}"
        if ap is None and name in named:
            continue
        if ap is None:
            problems.append(
                f"{where}: no access point {name} in wfga:access_points "
                f"({', '.join(sorted(by_name)) or 'none in this stack'}); TURN VMs live in an access point's network"
            )
            continue
        if servers.image_id is None and (ap.cloud, servers.distro) not in IMAGES:
            problems.append(f"{where}.distro: {servers.distro} has no public image on {ap.cloud}; give image_id")
        if servers.admin_cidr is not None and servers.admin_cidr.overlaps(cluster.cidr):
            problems.append(
                f"{where}.admin_cidr: {servers.admin_cidr} overlaps the cluster cidr {cluster.cidr}; SSH is "
                "for operators on the internet side, the cluster reaches TURN over the link"
            )
        bandwidth = servers.eip_bandwidth_mbps
        if ap.cloud == "alicloud" and bandwidth is not None and bandwidth > MAX_PAY_BY_TRAFFIC_EIP_MBPS:
            problems.append(
                f"{where}.eip_bandwidth_mbps: {bandwidth} is above {MAX_PAY_BY_TRAFFIC_EIP_MBPS}; a pay-by-traffic "
                f"EIP on Alibaba Cloud takes 1..{MAX_PAY_BY_TRAFFIC_EIP_MBPS} Mbit/s"
            )
    problems += _pinned_problems(av, access_points)
    reserved = {cluster.cidr.network_address: "network", cluster.cidr.broadcast_address: "broadcast"}
    for i, ip in enumerate(av.janus.private_ips):
        if ip not in cluster.cidr:
            problems.append(
                f"{path}.janus.private_ips[{i}]: {ip} is outside the cluster cidr {cluster.cidr}; "
                "TURN reaches Janus over the private link, so Janus must be in the cluster network"
            )
        elif cluster.cidr.prefixlen <= 30 and ip in reserved:
            problems.append(
                f"{path}.janus.private_ips[{i}]: {ip} is the {reserved[ip]} address of the cluster cidr "
                f"{cluster.cidr}, which no host can have"
            )
    return problems


def _pinned_problems(av: AvConfig, access_points: Sequence[AccessPoint]) -> list[str]:
    """An EIP binds to one thing: a TURN server's pinned EIP is no access point's nor another TURN server's."""
    problems: list[str] = []
    pinned: dict[str, str] = {}
    for ap in access_points:
        for eip in ap.pinned_eips:
            where = f"access point {ap.name} {ap.carrier_key(eip.load_balancer)} {eip.zone}"
            for value in (str(eip.address), eip.allocation_id):
                pinned.setdefault(value, where)
    for name, servers in av.access_points.items():
        for i, turn_eip in enumerate(servers.pinned_eips):
            where = f"TURN {name} turn-{turn_eip.server}"
            for value in (str(turn_eip.address), turn_eip.allocation_id):
                if value in pinned:
                    problems.append(
                        f"{NAMESPACE}:av.access_points.{name}.pinned_eips[{i}]: {value} is pinned for both "
                        f"{pinned[value]} and {where}; an EIP binds to one VM or load balancer"
                    )
                pinned.setdefault(value, where)
    return problems
