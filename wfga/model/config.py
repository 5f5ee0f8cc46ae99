"""The stack configuration contract: one pydantic model per concern, validated before any resource.

Every key lives under the ``wfga:`` namespace of a Pulumi stack (or project-level config in
``Pulumi.yaml``).  :func:`parse_stack_config` takes the raw values (already decoded from YAML or
JSON) and returns one :class:`StackConfig` for the whole namespace, edge keys included, or raises
:class:`ConfigError` listing every problem at once, each with the key path in the stack file and
how to fix it: schema, cross-field, port-plan, link and resource-name checks run in one round.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from wfga.model.av import AV_KEYS, AvConfig, AvSettings, av_problems, password_problems
from wfga.model.base import (
    DEFAULT_ADMIN_MIN_PREFIX,
    DEFERRED,
    MAX_PAY_BY_TRAFFIC_EIP_MBPS,
    NAMESPACE,
    SPECIAL_NETWORKS,
    ConfigError,
    Id,
    Ipv4,
    Ipv4Network,
    Name,
    Port,
    _Model,
    admin_cidr_problems,
    error_problems,
    loc_to_path,
    port_ranges,
    problem,
    public_unicast_problem,
    raise_problems,
    report,
    shown,
    shown_key,
)
from wfga.model.edge import SECRET_KEYS, EdgeConfig, edge_problems, edge_secret_problems
from wfga.model.images import IMAGES, distros_on
from wfga.model.names import name_problems

__all__ = [
    "NAMESPACE",
    "ConfigError",
    "Name",
    "Port",
    "StackConfig",
    "_Model",
    "parse_stack_config",
    "port_ranges",
]

Cloud = Literal["alicloud", "aws"]

# NLB idle timeouts: Alibaba 1..900 s, AWS 60..6000 s.  The article asks for at least ten minutes
# on long-link and WebSocket mappings because client heartbeats can be that slow.
MIN_IDLE_TIMEOUT_S = 600
MAX_IDLE_TIMEOUT_S: dict[str, int] = {"alicloud": 900, "aws": 6000}
DEFAULT_LISTENER_QUOTA = 50
# AWS: 50 listeners per NLB, not adjustable; Alibaba's default 50 can be raised on request.
MAX_LISTENER_QUOTA: dict[str, int] = {"alicloud": 1000, "aws": 50}
NLB_ZONES: dict[str, tuple[int, int]] = {"alicloud": (2, 10), "aws": (1, 6)}
# Which private link joins an access point of one cloud to a cluster of another; `existing`
# (connectivity the user already has, such as a VPN) works for any pair.
LINKS: dict[str, tuple[str, str]] = {"cen": ("alicloud", "alicloud"), "vpc-peering": ("aws", "aws")}

CLOUD_NAMES = {"alicloud": "Alibaba Cloud", "aws": "AWS"}
# VPC prefix lengths each cloud accepts: AWS CreateVpc /16 to /28; Alibaba "8 to 28 bits".
VPC_PREFIX: dict[str, tuple[int, int]] = {"alicloud": (8, 28), "aws": (16, 28)}
# Ranges a VPC cannot use.  Alibaba names 100.64.0.0/10, 224.0.0.0/4, 127.0.0.0/8 and
# 169.254.0.0/16 (VPC and vSwitch guide); AWS accepts 100.64.0.0/10 (it is an IP-target range).
_NOT_ALIBABA_VPC = {**SPECIAL_NETWORKS, "100.64.0.0/10": "shared address space"}
NOT_VPC: dict[str, dict[ipaddress.IPv4Network, str]] = {
    "alicloud": {ipaddress.IPv4Network(n): why for n, why in _NOT_ALIBABA_VPC.items()},
    "aws": {ipaddress.IPv4Network(n): why for n, why in SPECIAL_NETWORKS.items()},
}
# Where a node may sit: NLB IP targets outside the NLB's VPC must be RFC 1918 or RFC 6598
# addresses (AWS target groups, "You can't specify publicly routable IP addresses"); Alibaba IP
# server groups take private addresses only.
TARGET_NETWORKS = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
# Ports a VM access point keeps for itself: sshd holds 22 whether or not admin_cidr opens it,
# so nginx could not bind a public port there.
ADMIN_PORTS = (22,)

_REGION = {
    "alicloud": re.compile(r"[a-z]{2}(?:-[a-z0-9]+)+"),
    "aws": re.compile(r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-[0-9]"),
}
_CORE_STACK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}/[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
SERVICES = ("short", "long", "ws")
NATIVE_SERVICES = ("short", "long")
_M = TypeVar("_M", bound=BaseModel)


def _core_stack(value: Any) -> Any:
    if isinstance(value, str) and not _CORE_STACK.fullmatch(value):
        raise ValueError(
            f"{value[:80]!r} is not a fully qualified stack name; write organization/project/stack, "
            "e.g. organization/wfga/core"
        )
    return value


class ServicePorts(_Model):
    """The three ports of a WildFire IM node, or the base of an access point's port ranges."""

    short: Port = Field(description="HTTP short link")
    long: Port = Field(description="TCP long link (modified MQTT)")
    ws: Port = Field(description="WebSocket")

    def as_dict(self) -> dict[str, int]:
        return {"short": self.short, "long": self.long, "ws": self.ws}


def _ports_problems(ports: ServicePorts, key: str) -> list[str]:
    if len({ports.short, ports.long, ports.ws}) != 3:
        return [f"{key}: short, long and ws must be three different ports"]
    return []


DEFAULT_SERVICE_PORTS = ServicePorts(short=80, long=1883, ws=8083)
DEFAULT_PORT_BASE = ServicePorts(short=80, long=1880, ws=8080)


class Node(_Model):
    name: Name
    slot: int = Field(ge=1, le=9999, description="stable position of the node on every access point")
    private_ip: Ipv4 = Field(
        description="the node's private IPv4 in the cluster VPC (RFC 1918 or 100.64.0.0/10), inside the cluster cidr"
    )
    web_primary: Name | None = Field(
        default=None, description="access point whose entry comes first for this node; overrides the cluster's"
    )


def network_problems(cloud: str, net: ipaddress.IPv4Network, key: str) -> list[str]:
    """Whether ``cloud`` lets a VPC have ``net`` as its CIDR."""
    problems: list[str] = []
    low, high = VPC_PREFIX[cloud]
    if not low <= net.prefixlen <= high:
        problems.append(f"{key}: {net} is a /{net.prefixlen}; a VPC on {CLOUD_NAMES[cloud]} takes /{low} to /{high}")
    for bad, why in NOT_VPC[cloud].items():
        if net.overlaps(bad):
            problems.append(f"{key}: {net} overlaps {bad} ({why}), which a VPC on {CLOUD_NAMES[cloud]} cannot use")
    return problems


def zone_problem(cloud: str, region: str, zone: str, key: str) -> str | None:
    """A zone id must be the region's own spelling: ``ap-southeast-1a``, ``cn-hangzhou-h``.

    One spelling per zone: ``ap-southeast-1-a`` would name the zone ``ap-southeast-1a`` names, and
    two spellings of one zone would get two vSwitches cut from the same range.
    """
    dash = "" if region[-1:].isdigit() else "-"
    if not re.fullmatch(re.escape(region) + dash + "[a-z]", zone):
        return f"{key}: {shown(zone)} is not a zone of {region} (expected e.g. {region}{dash}a)"
    return None


def zone_index(region: str, zone: str) -> int:
    """The zone's letter as a number (a -> 0); fixed by the zone, not by its place in a list."""
    return ord(zone[len(region) :].lstrip("-")) - ord("a")


def _region_problem(cloud: str, region: str) -> str | None:
    if not _REGION[cloud].fullmatch(region):
        example = "ap-southeast-1" if cloud == "alicloud" else "us-east-1"
        return f"region: {region[:80]!r} is not a {cloud} region id such as {example}"
    return None


def _duplicates(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    twice: list[Any] = []
    for value in values:
        if value in seen and value not in twice:
            twice.append(value)
        seen.add(value)
    return twice


class Cluster(_Model):
    """The WildFire IM cluster in region A, which wfga never creates, only connects to."""

    name: Name
    cloud: Cloud = Field(description="the cluster's cloud: alicloud or aws")
    region: str = Field(description="the cluster's region, e.g. cn-hangzhou or us-east-1")
    vpc_id: Id = Field(description="the cluster's VPC")
    cidr: Ipv4Network = Field(description="the cluster VPC's CIDR; every node IP is inside it")
    route_table_ids: list[Id] = Field(min_length=1, description="VPC route tables that get the return routes")
    attach_vswitches: dict[str, Id] = Field(
        default_factory=dict, description="zone -> vSwitch id used by the CEN VPC attachment"
    )
    security_group_id: Id | None = Field(
        default=None, description="when set, ingress from each access point's CIDR to the service ports is added here"
    )
    service_ports: ServicePorts = Field(
        default=DEFAULT_SERVICE_PORTS, description="the nodes' short, long and ws ports (three different ports)"
    )
    # Without web clients nobody connects to the ws port: no ws listener is made, so an NLB carries
    # 2 listeners per node instead of 3 (the entries still carry a ws port, as the server needs one).
    web_clients: bool = Field(default=True, description="create WebSocket listeners for web clients")
    # The Web SDK tries only the first backup entry, so which access point comes first matters to it.
    web_primary: Name | None = Field(default=None, description="access point whose entries come first")
    nodes: list[Node] = Field(min_length=1, description="the IM nodes: unique names, slots (>= 1) and private IPs")

    @property
    def listened_services(self) -> tuple[str, ...]:
        """The services that get a listener: the ws port only when web clients exist."""
        return SERVICES if self.web_clients else NATIVE_SERVICES

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Cluster:
        report(self, info, self._problems())
        return self

    def _problems(self) -> list[str]:
        problems = _ports_problems(self.service_ports, "service_ports")
        region = _region_problem(self.cloud, self.region)
        if region:
            problems.append(region)
        if len(self.attach_vswitches) == 1:
            problems.append(
                "attach_vswitches: a transit router VPC attachment needs vSwitches in two zones in a multi-zone "
                "region; give two, e.g. {cn-hangzhou-h: vsw-..., cn-hangzhou-i: vsw-...}"
            )
        if self.attach_vswitches and self.cloud != "alicloud":
            problems.append("attach_vswitches: only an Alibaba Cloud cluster attaches to CEN; remove the key")
        elif not region:
            zones = (zone_problem(self.cloud, self.region, z, "attach_vswitches") for z in self.attach_vswitches)
            problems += [p for p in zones if p]
        if _duplicates(self.route_table_ids):
            problems.append("route_table_ids: a route table is listed twice")
        problems += network_problems(self.cloud, self.cidr, "cidr")
        for key in ("name", "slot", "private_ip"):
            problems += [
                f"nodes: two nodes share {key} {value}; each node needs its own"
                for value in _duplicates([getattr(node, key) for node in self.nodes])
            ]
        reserved = {self.cidr.network_address: "network", self.cidr.broadcast_address: "broadcast"}
        for i, node in enumerate(self.nodes):
            if not any(node.private_ip in net for net in TARGET_NETWORKS):
                problems.append(
                    f"nodes[{i}].private_ip: {node.private_ip} is not a private address; access points forward to a "
                    f"node's address inside its VPC ({', '.join(map(str, TARGET_NETWORKS))})"
                )
            if node.private_ip not in self.cidr:
                problems.append(
                    f"nodes: {node.name} has private_ip {node.private_ip}, outside cidr {self.cidr}; "
                    "fix the IP or the cluster cidr"
                )
            elif self.cidr.prefixlen <= 30 and node.private_ip in reserved:
                problems.append(
                    f"nodes: {node.name} has private_ip {node.private_ip}, the {reserved[node.private_ip]} address "
                    f"of {self.cidr}, which no host can have"
                )
        return problems


class PinnedEip(_Model):
    """An EIP that already exists: its address is known before deployment and wfga never owns it."""

    load_balancer: int = Field(ge=1, description="number N of the load balancer nlb-N (or the VM vm-N) it binds to")
    zone: str = Field(description="the zone of the load balancer or VM the EIP serves")
    allocation_id: Id = Field(description="the existing EIP's allocation id")
    address: Ipv4 = Field(description="the existing EIP's public address (public unicast)")


Distro = Literal["debian", "ubuntu", "alinux", "amazon-linux"]
MAX_VM_IDLE_TIMEOUT_S = 86400


class VmSettings(_Model):
    """A `kind: vm` access point: VMs running nginx `stream`, each with its own EIP."""

    instance_type: Id = Field(description="e.g. ecs.c7.large or c7i.large")
    count: int = Field(default=1, ge=1, le=20, description="VMs; each node gets one entry per VM")
    distro: Distro = Field(
        default="debian",
        description="debian, ubuntu, alinux (Alibaba) or amazon-linux (AWS): packages and the looked-up image",
    )
    image_id: Id | None = Field(default=None, description="image or AMI id; default: the distro's latest")
    admin_cidr: Ipv4Network | None = Field(default=None, description="opens SSH (22) from here only")
    key_name: Id | None = Field(
        default=None,
        max_length=128,
        description="the cloud's key pair for SSH (AWS key pair name, Alibaba key_name), given when a VM is created",
    )
    admin_cidr_min_prefix: int = Field(
        default=DEFAULT_ADMIN_MIN_PREFIX,
        ge=1,
        le=32,
        description="the widest admin_cidr accepted (default /16); 0.0.0.0/0 is never accepted",
    )
    connections: int = Field(default=20000, ge=1000, le=1_000_000, description="concurrent connections per VM")


def _vm_problems(vm: VmSettings) -> list[str]:
    return admin_cidr_problems(vm.admin_cidr, vm.admin_cidr_min_prefix, "vm.admin_cidr")


class AccessPoint(_Model):
    """An L4 entry point in a remote region that forwards one public port per (node x service)."""

    name: Name
    cloud: Cloud = Field(description="the access point's cloud: alicloud or aws")
    region: str = Field(description="the access point's region, e.g. ap-southeast-1")
    kind: Literal["nlb", "vm"] = Field(
        default="nlb", description="nlb (a cloud NLB) or vm (VMs running nginx stream, settings under vm)"
    )
    vm: VmSettings | None = Field(default=None, description="VM settings; required for kind vm, refused otherwise")
    link: Literal["cen", "vpc-peering", "existing"] = Field(
        default="cen", description="cen (Alibaba), vpc-peering (AWS) or existing (connectivity already there)"
    )
    vpc_cidr: Ipv4Network = Field(description="the access point VPC's CIDR (new: /23 or larger; existing: its CIDR)")
    vpc_id: Id | None = Field(default=None, description="an existing VPC to use instead of a new one")
    vswitches: dict[str, Id] | None = Field(default=None, description="alicloud: zone -> existing vSwitch id")
    subnets: dict[str, Id] | None = Field(default=None, description="aws: zone -> existing public subnet id")
    route_table_id: Id | None = Field(
        default=None, description="an existing VPC's route table (with vpc_id and vswitches/subnets)"
    )
    zones: list[str] = Field(description="zones of the region, spelt as the cloud does (Alibaba 2..10, AWS 1..6)")
    port_base: ServicePorts = Field(
        default=DEFAULT_PORT_BASE,
        description="public port = base + slot, per service; the three ranges must not overlap",
    )
    idle_timeout_s: int = Field(
        default=900, description="listener idle timeout in seconds: 600..900 on Alibaba, 600..6000 on AWS"
    )
    listener_quota: int = Field(
        default=DEFAULT_LISTENER_QUOTA,
        ge=3,
        description="listeners per NLB (AWS at most 50); nodes are sharded over NLBs by it",
    )
    cen_bandwidth_mbps: int = Field(default=100, ge=1, le=10000, description="cap of the CEN peer link")
    eip_bandwidth_mbps: int = Field(
        default=200,
        ge=1,
        le=MAX_PAY_BY_TRAFFIC_EIP_MBPS,
        description="Alibaba: cap of each EIP in Mbit/s; pay-by-traffic EIPs, the only kind an NLB binds, take 1..200",
    )
    pinned_eips: list[PinnedEip] = Field(
        default_factory=list, description="existing EIPs to use per load balancer (or VM) and zone instead of new ones"
    )

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> AccessPoint:
        report(self, info, self._problems())
        return self

    def _problems(self) -> list[str]:
        problems = _ports_problems(self.port_base, "port_base")
        if self.vm is not None:
            problems += _vm_problems(self.vm)
        region = _region_problem(self.cloud, self.region)
        if region:
            problems.append(region)
        if self.kind == "vm" and self.vm is None:
            problems.append("vm: a kind vm access point needs vm settings, at least {instance_type: ...}")
        if self.kind == "nlb" and self.vm is not None:
            problems.append("vm: only a kind vm access point takes vm settings")
        if self.vm is not None and self.vm.image_id is None and (self.cloud, self.vm.distro) not in IMAGES:
            problems.append(
                f"vm.distro: {self.vm.distro} has no public image on {self.cloud}; use one of "
                f"{', '.join(distros_on(self.cloud))} or give vm.image_id"
            )
        if self.kind == "vm" and "listener_quota" in self.model_fields_set:
            problems.append("listener_quota: a VM has no listener quota; only kind nlb takes it")
        low, high = NLB_ZONES[self.cloud] if self.kind == "nlb" else (1, 10)
        if not low <= len(self.zones) <= high:
            problems.append(
                f"zones: kind {self.kind} on {self.cloud} takes {low} to {high} zones, got {len(self.zones)}"
            )
        if _duplicates(self.zones):
            problems.append("zones: a zone is listed twice")
        if not region:
            problems += [p for p in (zone_problem(self.cloud, self.region, z, "zones") for z in self.zones) if p]
        problems += self._network_problems()
        if self.listener_quota > MAX_LISTENER_QUOTA[self.cloud]:
            problems.append(
                f"listener_quota: {self.listener_quota} is above what a {self.cloud} NLB can have "
                f"({MAX_LISTENER_QUOTA[self.cloud]}{', not adjustable' if self.cloud == 'aws' else ''})"
            )
        limit, what = (
            (MAX_IDLE_TIMEOUT_S[self.cloud], f"{self.cloud} NLB")
            if self.kind == "nlb"
            else (MAX_VM_IDLE_TIMEOUT_S, "wfga's nginx")
        )
        if not MIN_IDLE_TIMEOUT_S <= self.idle_timeout_s <= limit:
            problems.append(
                f"idle_timeout_s: {self.idle_timeout_s} is outside {MIN_IDLE_TIMEOUT_S}..{limit}; "
                f"long links need at least {MIN_IDLE_TIMEOUT_S} s and {what} allows at most {limit} s"
            )
        seen: set[tuple[int, str]] = set()
        for i, eip in enumerate(self.pinned_eips):
            public = public_unicast_problem(eip.address, f"pinned_eips[{i}].address")
            if public:
                problems.append(public)
            if eip.zone not in self.zones:
                problems.append(f"pinned_eips[{i}].zone: {eip.zone[:80]} is not one of zones {self.zones}")
            key = (eip.load_balancer, eip.zone)
            if key in seen:
                problems.append(f"pinned_eips[{i}]: {self.carrier_key(eip.load_balancer)} {eip.zone} is pinned twice")
            seen.add(key)
        return problems

    def _network_problems(self) -> list[str]:
        problems = network_problems(self.cloud, self.vpc_cidr, "vpc_cidr")
        parts, other = ("vswitches", "subnets") if self.cloud == "alicloud" else ("subnets", "vswitches")
        if getattr(self, other) is not None:
            problems.append(f"{other}: not a {self.cloud} setting; an existing {self.cloud} VPC takes {parts}")
        existing = (self.vpc_id, getattr(self, parts), self.route_table_id)
        if any(v is not None for v in existing) and not all(v is not None for v in existing):
            problems.append(
                f"an existing VPC needs vpc_id, {parts} and route_table_id together; "
                "leave all three out to let wfga create the VPC"
            )
        if self.link == "existing" and self.vpc_id is None:
            # A VPC wfga creates has only a default route to the internet; nothing routes the cluster
            # CIDR over a link wfga does not know, so entries through it would never reach a node.
            problems.append(
                f"link: existing means a VPC you already route to the cluster (VPN, transit gateway, "
                f"express connect); give its vpc_id, {parts} and route_table_id, or use a link wfga builds"
            )
        if self.link == "cen" and len(self.zones) < 2:
            problems.append(
                "zones: link cen attaches this VPC to a transit router, which needs vSwitches in two zones "
                "in a multi-zone region; list two zones"
            )
        given: dict[str, str] | None = getattr(self, parts)
        if given is not None and set(given) != set(self.zones):
            problems.append(f"{parts}: give exactly one per zone in zones {self.zones}, got {sorted(given)}")
        if self.vpc_id is None and self.vpc_cidr.prefixlen > 23:
            problems.append(
                f"vpc_cidr: {self.vpc_cidr} is too small to split into per-zone vSwitches; use /23 or larger"
            )
        return problems

    def carrier_key(self, number: int) -> str:
        """What carries the listeners: ``nlb-N``, or ``vm-N`` for a VM access point."""
        return f"{self.kind}-{number}"

    def public_ports(self, slot: int) -> dict[str, int]:
        return {service: base + slot for service, base in self.port_base.as_dict().items()}

    def carriers(
        self, nodes: list[Node], listeners_per_node: int = len(SERVICES)
    ) -> dict[int, tuple[tuple[str, ...], list[Node]]]:
        """Number -> (zones, nodes) of each NLB or VM; which nodes depends on their own slots only."""
        if not self.zones:
            return {}
        if self.vm is not None:
            # VM n sits in zones[(n - 1) % len(zones)]: spread, and stable while zones keep their order.
            return {n: ((self.zones[(n - 1) % len(self.zones)],), list(nodes)) for n in range(1, self.vm.count + 1)}
        carriers: dict[int, tuple[tuple[str, ...], list[Node]]] = {}
        for node in nodes:
            number = load_balancer_number(node.slot, self.listener_quota, listeners_per_node)
            carriers.setdefault(number, (tuple(self.zones), []))[1].append(node)
        return carriers


def nodes_per_load_balancer(listener_quota: int, listeners_per_node: int = len(SERVICES)) -> int:
    return listener_quota // listeners_per_node


def load_balancer_number(slot: int, listener_quota: int, listeners_per_node: int = len(SERVICES)) -> int:
    return 1 + (slot - 1) // nodes_per_load_balancer(listener_quota, listeners_per_node)


def port_problems(cluster: Cluster, ap: AccessPoint, path: str) -> list[str]:
    """What the port plan of one access point would get wrong: ports, carriers, pinned EIPs."""
    problems: list[str] = []
    for node in cluster.nodes:
        for service, port in ap.public_ports(node.slot).items():
            if port > 65535:
                problems.append(
                    f"{path}.port_base.{service}: node {node.name} (slot {node.slot}) would get public port "
                    f"{port} > 65535; lower port_base.{service}"
                )
            if ap.kind == "vm" and port in ADMIN_PORTS:
                problems.append(
                    f"{path}.port_base.{service}: node {node.name} (slot {node.slot}) would get public port {port} "
                    f"on each VM, where sshd listens; move port_base.{service} so no public port is {port}"
                )
    carriers = ap.carriers(cluster.nodes, len(cluster.listened_services))
    for number in sorted(carriers):
        # Every port an entry names, listened or not, must belong to that node alone.
        owner: dict[int, tuple[str, str]] = {}
        for node in sorted(carriers[number][1], key=lambda n: n.slot):
            for service, port in ap.public_ports(node.slot).items():
                other = owner.get(port)
                if other is not None:
                    problems.append(
                        f"{path}.port_base: public port {port} on {ap.carrier_key(number)} would serve both "
                        f"{other[0]}/{other[1]} and {node.name}/{service}; space the bases so the "
                        "short, long and ws ranges do not overlap"
                    )
                owner[port] = (node.name, service)
    for i, eip in enumerate(ap.pinned_eips):
        if eip.load_balancer not in carriers:
            problems.append(
                f"{path}.pinned_eips[{i}].load_balancer: {ap.carrier_key(eip.load_balancer)} carries no node; "
                f"in use: {', '.join(ap.carrier_key(n) for n in sorted(carriers))}"
            )
        elif eip.zone in ap.zones and eip.zone not in carriers[eip.load_balancer][0]:
            problems.append(
                f"{path}.pinned_eips[{i}].zone: {ap.carrier_key(eip.load_balancer)} is in "
                f"{carriers[eip.load_balancer][0][0]}, not {eip.zone}"
            )
    return problems


def _ap_path(i: int, ap: AccessPoint) -> str:
    return f"{NAMESPACE}:access_points[{i}] ({ap.name})"


def _link_problems(cluster: Cluster, aps: list[tuple[int, AccessPoint]], layout: str | None) -> list[str]:
    problems: list[str] = []
    for i, ap in aps:
        if ap.link in LINKS and (ap.cloud, cluster.cloud) != LINKS[ap.link]:
            works = [link for link, pair in LINKS.items() if pair == (ap.cloud, cluster.cloud)] + ["existing"]
            problems.append(
                f"{_ap_path(i, ap)}.link: {ap.link} joins a {LINKS[ap.link][0]} access point to a "
                f"{LINKS[ap.link][1]} cluster, not {ap.cloud} to {cluster.cloud}; use link: {' or '.join(works)}"
            )
        if ap.link == "cen" and not cluster.attach_vswitches:
            problems.append(
                f"{NAMESPACE}:cluster.attach_vswitches: link cen on {ap.name} attaches the cluster VPC to a "
                "transit router; give one vSwitch per zone, e.g. {cn-hangzhou-h: vsw-...}"
            )
        if ap.link == "cen" and ap.region == cluster.region:
            problems.append(
                f"{_ap_path(i, ap)}.region: a CEN access point in the cluster's own region {ap.region} would need a "
                "second transit router there, and CEN allows one per region; put the access point in another "
                "region, or reach the cluster VPC directly (link: existing with the cluster VPC's ids)"
            )
    cen_regions: dict[str, str] = {}
    for i, ap in aps:
        if ap.link != "cen":
            continue
        if ap.region in cen_regions:
            problems.append(
                f"{_ap_path(i, ap)}.region: {cen_regions[ap.region]} already links {ap.region} through CEN, which "
                "allows one transit router per region; serve both from one access point (more zones or load "
                "balancers), or use another region"
            )
        cen_regions.setdefault(ap.region, ap.name)
    if layout == "core" and not cluster.attach_vswitches:
        problems.append(
            f"{NAMESPACE}:cluster.attach_vswitches: the core stack attaches the cluster VPC to CEN; "
            "give one vSwitch per zone"
        )
    # A region stack sees only its own access points; the merge of its outputs checks the rest.
    if layout == "all-in-one":
        names = [ap.name for _, ap in aps]
        settings = [(f"{NAMESPACE}:cluster.web_primary", cluster.web_primary)] + [
            (f"{NAMESPACE}:cluster.nodes[{i}] ({node.name}).web_primary", node.web_primary)
            for i, node in enumerate(cluster.nodes)
        ]
        for path, primary in settings:
            if primary is not None and primary not in names:
                problems.append(
                    f"{path}: {primary} is not an access point of this stack; use one of {', '.join(names) or '(none)'}"
                )
    return problems


def _overlap_problems(cluster: Cluster | None, aps: list[tuple[int, AccessPoint]]) -> list[str]:
    networks = [(f"{NAMESPACE}:cluster.cidr", cluster.cidr)] if cluster is not None else []
    networks += [(f"{_ap_path(i, ap)}.vpc_cidr", ap.vpc_cidr) for i, ap in aps]
    problems: list[str] = []
    for a in range(len(networks)):
        for b in range(a + 1, len(networks)):
            (path_a, net_a), (path_b, net_b) = networks[a], networks[b]
            if net_a.overlaps(net_b):
                problems.append(
                    f"{path_b}: {net_b} overlaps {path_a} {net_a}; routed networks must not overlap, pick a free range"
                )
    return problems


def _pinned_problems(aps: list[tuple[int, AccessPoint]]) -> list[str]:
    problems: list[str] = []
    pinned: dict[str, str] = {}
    for _, ap in aps:
        for eip in ap.pinned_eips:
            where = f"{ap.name} {ap.carrier_key(eip.load_balancer)} {eip.zone}"
            for value in (str(eip.address), eip.allocation_id):
                if value in pinned:
                    problems.append(
                        f"{NAMESPACE}:access_points ({ap.name}).pinned_eips: {value} is pinned for both "
                        f"{pinned[value]} and {where}; an EIP binds to one zone of one load balancer"
                    )
                pinned[value] = where
    return problems


def stack_problems(
    layout: str | None,
    core_stack: str | None,
    cluster: Cluster | None,
    aps: list[tuple[int, AccessPoint]],
    edge: EdgeConfig | None,
    *,
    access_point_count: int | None = None,
    flawed: Collection[int] = (),
    nodes_only: Cluster | None = None,
) -> list[str]:
    """Every rule that spans models, on whichever parts are valid: one bad access point does not
    hide another's problems, nor the cluster's.  ``flawed`` holds the ids of parts that broke their
    own rules; the port plan and resource names are not worked out for them (a cluster with shared
    slots would only repeat that problem, an access point of kind vm without vm settings has none).
    ``layout`` None (itself invalid) skips the layout rules; ``nodes_only`` stands in for a cluster
    that failed its schema but whose nodes are sound, for the port plan alone."""
    count = len(aps) if access_point_count is None else access_point_count
    problems: list[str] = []
    if layout == "region" and not core_stack and any(ap.link == "cen" for _, ap in aps):
        problems.append(
            f"{NAMESPACE}:core_stack: a region stack with link cen needs wfga:core_stack, e.g. organization/wfga/core"
        )
    if layout == "core" and cluster is not None and cluster.cloud != "alicloud":
        problems.append(
            f"{NAMESPACE}:layout: the core stack holds CEN pieces, which only an Alibaba Cloud cluster uses"
        )
    if layout is not None and layout != "region" and core_stack:
        problems.append(f"{NAMESPACE}:core_stack: only a stack with wfga:layout region references a core stack")
    if layout == "core" and count:
        problems.append(
            f"{NAMESPACE}:access_points: the core stack owns the shared CEN pieces only; "
            "move access points to their region stacks"
        )
    if layout == "region" and not count:
        problems.append(f"{NAMESPACE}:access_points: a region stack needs at least one access point")
    names = [ap.name for _, ap in aps]
    problems += [f"{NAMESPACE}:access_points: the name {name} is used twice" for name in _duplicates(names)]
    problems += _overlap_problems(cluster, aps)
    problems += _pinned_problems(aps)
    if cluster is not None:
        problems += _link_problems(cluster, aps, layout)
    sound = [(i, ap) for i, ap in aps if id(ap) not in flawed]
    ports_of = cluster if cluster is not None and id(cluster) not in flawed else nodes_only if cluster is None else None
    if ports_of is not None:
        for i, ap in sound:
            problems += port_problems(ports_of, ap, _ap_path(i, ap))
    if cluster is not None and id(cluster) not in flawed and not _duplicates(names):
        problems += name_problems(cluster, [(_ap_path(i, ap), ap) for i, ap in sound])
    if edge is not None:
        problems += edge_problems(edge)
    return problems


# AWS's default quota of Elastic IPs per region (EC2-VPC Elastic IPs, Service Quotas L-0263D0A3).
AWS_DEFAULT_EIPS_PER_REGION = 5


class RegionQuotas(_Model):
    """A quota raised in one region."""

    eips: int = Field(ge=1, description="EIPs the account may hold in this region")


class CloudQuotas(_Model):
    """The account's quotas on one cloud, for the plan's warnings; wfga changes no quota."""

    eips: int | None = Field(
        default=None,
        ge=1,
        description="EIPs per region (AWS default 5; Alibaba Cloud: no default, no warning unless set)",
    )
    regions: dict[str, RegionQuotas] = Field(default_factory=dict, description="per region, overrides eips")


class Quotas(_Model):
    """Account quotas the offline plan warns about (wfga:quotas); only the plan reads them."""

    aws: CloudQuotas = Field(default_factory=CloudQuotas, description="AWS account quotas")
    alicloud: CloudQuotas = Field(default_factory=CloudQuotas, description="Alibaba Cloud account quotas")

    def eips(self, cloud: str, region: str) -> int | None:
        """The EIP quota of ``region``, or None where wfga knows none (Alibaba Cloud, unless given)."""
        quotas = self.aws if cloud == "aws" else self.alicloud
        if region in quotas.regions:
            return quotas.regions[region].eips
        if quotas.eips is not None:
            return quotas.eips
        return AWS_DEFAULT_EIPS_PER_REGION if cloud == "aws" else None


class StackConfig(EdgeConfig):
    """Everything one stack reads under ``wfga:``, one field per key; see the README for layouts.

    The edge keys (``wfga:service_domains`` and the other fields of :class:`EdgeConfig`) are keys of
    the namespace like the others, so they are fields here too; ``edge`` views them as an EdgeConfig.
    """

    layout: Literal["all-in-one", "core", "region"] = Field(
        default="all-in-one",
        description="all-in-one, core (the shared CEN pieces) or region (one region's access points)",
    )
    core_stack: Annotated[str, BeforeValidator(_core_stack)] | None = Field(
        default=None, description="fully qualified name of the core stack (organization/project/stack)"
    )
    cluster: Cluster = Field(description="the WildFire IM cluster: its VPC and nodes")
    access_points: list[AccessPoint] = Field(default_factory=list, description="the remote regions' access points")
    av: AvConfig | None = Field(default=None, description="audio/video: a TURN relay per access point; absent: off")
    turn_password: SecretStr | None = Field(
        default=None, description="the TURN password every client shares; set with pulumi config set --secret"
    )
    quotas: Quotas = Field(default_factory=Quotas, description="account quotas the plan warns about")

    @property
    def edge(self) -> EdgeConfig:
        """The edge keys alone, as the edge planners and components take them."""
        return EdgeConfig.model_construct(**{key: getattr(self, key) for key in EdgeConfig.model_fields})

    @property
    def audio_video(self) -> AvConfig | None:
        """``av`` when audio/video is on (present and enabled), else None."""
        return self.av if self.av is not None and self.av.enabled else None

    @model_validator(mode="after")
    def _check(self) -> StackConfig:
        aps = list(enumerate(self.access_points))
        problems = stack_problems(self.layout, self.core_stack, self.cluster, aps, self.edge)
        settings = AvSettings.model_construct(av=self.av, turn_password=self.turn_password)
        problems += password_problems(settings, None)
        if settings.enabled and self.av is not None:
            problems += av_problems(self.av, self.cluster, self.access_points)
        raise_problems(problems)
        return self


class _Top(_Model):
    """The scalar top-level keys, validated on their own so their problems join the others'."""

    layout: Literal["all-in-one", "core", "region"] = "all-in-one"
    core_stack: Annotated[str, BeforeValidator(_core_stack)] | None = None


EDGE_KEYS = tuple(EdgeConfig.model_fields)
# The namespace's keys: one per field of StackConfig, the edge's and audio/video's included.
STACK_KEYS = tuple(StackConfig.model_fields)
_KNOWN_KEYS = frozenset(f"{NAMESPACE}:{key}" for key in STACK_KEYS)
# What a Pulumi.yaml config declaration may hold; a stack file gives the value itself.
_DECLARATION_KEYS = frozenset({"value", "default", "type", "description", "secret", "items"})


def _declaration_hint(key: str, value: Any) -> str | None:
    if isinstance(value, Mapping) and value and set(value) <= _DECLARATION_KEYS and {"value", "default"} & set(value):
        form = "value" if "value" in value else "default"
        return (
            f"{NAMESPACE}:{key}: the `{form}:` form belongs to Pulumi.yaml's project config; in a stack file "
            f"give the value itself: drop the `{form}:` line and un-indent what was under it"
        )
    return None


def _nodes_only(raw: Any) -> Cluster | None:
    """The cluster's nodes alone, when they are sound though another cluster key is not."""
    if not isinstance(raw, Mapping):
        return None
    try:
        nodes = _NODES.validate_python(raw.get("nodes"))
        web_clients = _BOOL.validate_python(raw.get("web_clients", True))
    except ValidationError:
        return None
    if not nodes or _duplicates([n.name for n in nodes]) or _duplicates([n.slot for n in nodes]):
        return None
    # Not a whole cluster: only what the port plan reads (nodes, web_clients) is set.
    fields: dict[str, Any] = {"nodes": nodes, "web_clients": web_clients}
    return Cluster.model_construct(**fields)


_NODES = TypeAdapter(list[Node])
_BOOL = TypeAdapter(bool)


class _Parts:
    """Validates each part on its own, so that the problems of one do not hide another's."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.problems: list[str] = []
        self.flawed: set[int] = set()  # ids of parts that exist but broke their own rules

    def validate(self, model: type[_M], value: Any, loc: tuple[int | str, ...]) -> _M | None:
        deferred: dict[int, list[str]] = {}
        try:
            found = model.model_validate(value, context={DEFERRED: deferred})
        except ValidationError as err:
            self.problems += error_problems(err.errors(), self.raw, loc)
            return None
        own = deferred.pop(id(found), [])
        if own:
            path = loc_to_path(loc, self.raw)
            self.problems += [problem(path, p) for p in own]
            self.flawed.add(id(found))
        return found


def parse_stack_config(values: Mapping[str, Any], secret_keys: Collection[str] | None = None) -> StackConfig:
    """Validate the stack's ``wfga:*`` values (namespaced keys, decoded values) in one round.

    Every problem is listed at once: unknown keys, each model's own checks, and the rules across
    models (links, overlaps, the port plan, resource names, the edge, audio/video), run on whichever
    parts are valid.  ``secret_keys`` names the keys the stack stores encrypted: the Cloudflare token
    and the TURN password must be among them and no other key may be (wfga reads them to plan; none
    is sensitive).  ``None`` skips the secret checks.  Keys of other namespaces (``alicloud:region``...) are ignored.
    """
    ours = {k: v for k, v in values.items() if isinstance(k, str) and k.startswith(f"{NAMESPACE}:")}
    problems = [
        f"{shown_key(k)}: unknown key; wfga reads {', '.join(sorted(_KNOWN_KEYS))}"
        for k in sorted(ours)
        if k not in _KNOWN_KEYS
    ]
    secret = frozenset(secret_keys or ())
    misused = sorted((secret & _KNOWN_KEYS & set(ours)) - SECRET_KEYS)
    problems += [
        f"{key}: stored as a secret, but it is not sensitive and wfga reads it to plan (the offline plan cannot "
        f"decrypt it); set it with `pulumi config set {key.split(':', 1)[1]} ...`, without --secret"
        for key in misused
    ]
    raw: dict[str, Any] = {}
    for full, value in ours.items():
        # An explicit null in a stack file unsets a project-level value, as if the key were absent.
        if full not in _KNOWN_KEYS or value is None or full in misused:
            continue
        key = full.split(":", 1)[1]
        hint = _declaration_hint(key, value)
        if hint:
            problems.append(hint)
        else:
            raw[key] = value
    if f"{NAMESPACE}:cluster" not in ours or ours[f"{NAMESPACE}:cluster"] is None:
        problems.append(f"{NAMESPACE}:cluster: required key is missing; describe the IM cluster (see README)")

    parts = _Parts(raw)
    top = parts.validate(_Top, {k: raw[k] for k in ("layout", "core_stack") if k in raw}, ())
    cluster = parts.validate(Cluster, raw["cluster"], ("cluster",)) if "cluster" in raw else None
    raw_aps = raw.get("access_points", [])
    if not isinstance(raw_aps, list):
        parts.problems.append(f"{NAMESPACE}:access_points: expected a list of access points")
        raw_aps = []
    aps = [(i, ap) for i, item in enumerate(raw_aps) if (ap := parts.validate(AccessPoint, item, ("access_points", i)))]
    edge = parts.validate(EdgeConfig, {k: raw[k] for k in EDGE_KEYS if k in raw}, ())
    av = parts.validate(AvSettings, {k: raw[k] for k in AV_KEYS if k in raw}, ())
    quotas = parts.validate(Quotas, raw.get("quotas", {}), ("quotas",))
    problems += parts.problems
    problems += stack_problems(
        top.layout if top is not None else None,
        top.core_stack if top is not None else None,
        cluster,
        aps,
        edge,
        access_point_count=len(raw_aps),
        flawed=parts.flawed,
        nodes_only=_nodes_only(raw.get("cluster")) if cluster is None else None,
    )
    if edge is not None and secret_keys is not None:
        problems += edge_secret_problems(edge, secret)
    if av is not None:
        problems += password_problems(av, None if secret_keys is None else secret)
        if av.av is not None and av.enabled and cluster is not None:
            named = {str(item.get("name")) for item in raw_aps if isinstance(item, Mapping)}
            problems += av_problems(av.av, cluster, [ap for _, ap in aps], named)
    elif isinstance(raw.get("turn_password"), str):
        # wfga:av is invalid, but a password in plain text is worth saying now: it is already exposed.
        alone = AvSettings.model_construct(av=None, turn_password=SecretStr(raw["turn_password"]))
        problems += password_problems(alone, None if secret_keys is None else secret)
    if problems:
        raise ConfigError(problems)
    assert top is not None and cluster is not None and edge is not None and av is not None and quotas is not None
    assert len(aps) == len(raw_aps)
    # Every part is valid and every rule across them held: no need to check them a second time.
    fields: dict[str, Any] = {key: getattr(edge, key) for key in EDGE_KEYS}
    fields |= {key: getattr(av, key) for key in AV_KEYS}
    return StackConfig.model_construct(
        layout=top.layout,
        core_stack=top.core_stack,
        cluster=cluster,
        access_points=[ap for _, ap in aps],
        quotas=quotas,
        **fields,
    )
