"""The stack configuration contract: one pydantic model per concern, validated before any resource.

Every key lives under the ``wfga:`` namespace of a Pulumi stack (or project-level config in
``Pulumi.yaml``).  :func:`parse_stack_config` takes the raw values (already decoded from YAML or
JSON) and returns a :class:`StackConfig`, or raises :class:`ConfigError` whose message names the
key path in the stack file and how to fix it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wfga.model.images import IMAGES, distros_on

NAMESPACE = "wfga"

Cloud = Literal["alicloud", "aws"]

# NLB idle timeouts: Alibaba 1..900 s, AWS 60..6000 s.  The article asks for at least ten minutes
# on long-link and WebSocket mappings because client heartbeats can be that slow.
MIN_IDLE_TIMEOUT_S = 600
MAX_IDLE_TIMEOUT_S: dict[str, int] = {"alicloud": 900, "aws": 6000}
DEFAULT_LISTENER_QUOTA = 50
# Alibaba EIP `bandwidth` for PayByTraffic: 1..200 Mbit/s (EIP API AllocateEipAddress; an NLB binds
# only pay-by-traffic EIPs).
MAX_PAY_BY_TRAFFIC_EIP_MBPS = 200
# AWS: 50 listeners per NLB, not adjustable; Alibaba's default 50 can be raised on request.
MAX_LISTENER_QUOTA: dict[str, int] = {"alicloud": 1000, "aws": 50}
NLB_ZONES: dict[str, tuple[int, int]] = {"alicloud": (2, 10), "aws": (1, 6)}
# Which private link joins an access point of one cloud to a cluster of another; `existing`
# (connectivity the user already has, such as a VPN) works for any pair.
LINKS: dict[str, tuple[str, str]] = {"cen": ("alicloud", "alicloud"), "vpc-peering": ("aws", "aws")}

_NAME = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"
_REGION = {"alicloud": r"^[a-z]{2}-[a-z0-9-]+$", "aws": r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$"}

Name = Annotated[str, Field(pattern=_NAME, description="lower-case letters, digits and dashes")]
Port = Annotated[int, Field(ge=1, le=65535)]


class ConfigError(Exception):
    """A user mistake in the stack configuration; the message is meant to be printed as is."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    def __str__(self) -> str:
        lines = ["invalid wfga configuration:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class ServicePorts(_Model):
    """The three ports of a WildFire IM node, or the base of an access point's port ranges."""

    short: Port = Field(description="HTTP short link")
    long: Port = Field(description="TCP long link (modified MQTT)")
    ws: Port = Field(description="WebSocket")

    @model_validator(mode="after")
    def _distinct(self) -> ServicePorts:
        if len({self.short, self.long, self.ws}) != 3:
            raise ValueError("short, long and ws must be three different ports")
        return self

    def as_dict(self) -> dict[str, int]:
        return {"short": self.short, "long": self.long, "ws": self.ws}


DEFAULT_SERVICE_PORTS = ServicePorts(short=80, long=1883, ws=8083)
DEFAULT_PORT_BASE = ServicePorts(short=80, long=1880, ws=8080)


class Node(_Model):
    name: Name
    slot: int = Field(ge=1, le=9999, description="stable position of the node on every access point")
    private_ip: ipaddress.IPv4Address
    web_primary: Name | None = Field(
        default=None, description="access point whose entry comes first for this node; overrides the cluster's"
    )


class Cluster(_Model):
    """The WildFire IM cluster in region A, which wfga never creates, only connects to."""

    name: Name
    cloud: Cloud
    region: str
    vpc_id: str = Field(min_length=1)
    cidr: ipaddress.IPv4Network
    route_table_ids: list[str] = Field(min_length=1, description="VPC route tables that get the return routes")
    attach_vswitches: dict[str, str] = Field(
        default_factory=dict, description="zone -> vSwitch id used by the CEN VPC attachment"
    )
    security_group_id: str | None = None
    service_ports: ServicePorts = DEFAULT_SERVICE_PORTS
    # Without web clients nobody connects to the ws port: no ws listener is made, so an NLB carries
    # 2 listeners per node instead of 3 (the entries still carry a ws port, as the server needs one).
    web_clients: bool = Field(default=True, description="create WebSocket listeners for web clients")
    # The Web SDK tries only the first backup entry, so which access point comes first matters to it.
    web_primary: Name | None = Field(default=None, description="access point whose entries come first")
    nodes: list[Node] = Field(min_length=1)

    @field_validator("cidr", mode="before")
    @classmethod
    def _strict_cidr(cls, v: Any) -> Any:
        return _parse_network(v)

    @model_validator(mode="after")
    def _check(self) -> Cluster:
        _check_region(self.cloud, self.region)
        if self.attach_vswitches and self.cloud != "alicloud":
            raise ValueError("attach_vswitches: only an Alibaba Cloud cluster attaches to CEN; remove the key")
        if len(self.attach_vswitches) == 1:
            raise ValueError(
                "attach_vswitches: a transit router VPC attachment needs vSwitches in two zones in a multi-zone "
                "region; give two, e.g. {cn-hangzhou-h: vsw-..., cn-hangzhou-i: vsw-...}"
            )
        for zone in self.attach_vswitches:
            _check_zone(self.cloud, self.region, zone, "attach_vswitches")
        if len(set(self.route_table_ids)) != len(self.route_table_ids):
            raise ValueError("route_table_ids: a route table is listed twice")
        for key in ("name", "slot", "private_ip"):
            seen: set[object] = set()
            for node in self.nodes:
                value = getattr(node, key)
                if value in seen:
                    raise ValueError(f"nodes: two nodes share {key} {value}; each node needs its own")
                seen.add(value)
        for node in self.nodes:
            if node.private_ip not in self.cidr:
                raise ValueError(
                    f"nodes: {node.name} has private_ip {node.private_ip}, outside cidr {self.cidr}; "
                    "fix the IP or the cluster cidr"
                )
        return self


class PinnedEip(_Model):
    """An EIP that already exists: its address is known before deployment and wfga never owns it."""

    load_balancer: int = Field(ge=1, description="number N of the load balancer nlb-N (or the VM vm-N) it binds to")
    zone: str
    allocation_id: str = Field(min_length=1)
    address: ipaddress.IPv4Address


Distro = Literal["debian", "ubuntu", "alinux", "amazon-linux"]
MAX_VM_IDLE_TIMEOUT_S = 86400


class VmSettings(_Model):
    """A `kind: vm` access point: VMs running nginx `stream`, each with its own EIP."""

    instance_type: str = Field(min_length=1, description="e.g. ecs.c7.large or c7i.large")
    count: int = Field(default=1, ge=1, le=20, description="VMs; each node gets one entry per VM")
    distro: Distro = "debian"
    image_id: str | None = Field(default=None, description="image or AMI id; default: the distro's latest")
    admin_cidr: ipaddress.IPv4Network | None = Field(default=None, description="opens SSH (22) from here only")
    connections: int = Field(default=20000, ge=1000, le=1_000_000, description="concurrent connections per VM")

    @field_validator("admin_cidr", mode="before")
    @classmethod
    def _strict_cidr(cls, v: Any) -> Any:
        return _parse_network(v)


class AccessPoint(_Model):
    """An L4 entry point in a remote region that forwards one public port per (node x service)."""

    name: Name
    cloud: Cloud
    region: str
    kind: Literal["nlb", "vm"] = "nlb"
    vm: VmSettings | None = None
    link: Literal["cen", "vpc-peering", "existing"] = "cen"
    vpc_cidr: ipaddress.IPv4Network
    vpc_id: str | None = None
    vswitches: dict[str, str] | None = Field(default=None, description="alicloud: zone -> existing vSwitch id")
    subnets: dict[str, str] | None = Field(default=None, description="aws: zone -> existing public subnet id")
    route_table_id: str | None = None
    zones: list[str]
    port_base: ServicePorts = DEFAULT_PORT_BASE
    idle_timeout_s: int = 900
    listener_quota: int = Field(default=DEFAULT_LISTENER_QUOTA, ge=3)
    cen_bandwidth_mbps: int = Field(default=100, ge=1, le=10000, description="cap of the CEN peer link")
    eip_bandwidth_mbps: int = Field(
        default=200,
        ge=1,
        le=MAX_PAY_BY_TRAFFIC_EIP_MBPS,
        description="Alibaba: cap of each EIP in Mbit/s; pay-by-traffic EIPs, the only kind an NLB binds, take 1..200",
    )
    pinned_eips: list[PinnedEip] = Field(default_factory=list)

    @field_validator("vpc_cidr", mode="before")
    @classmethod
    def _strict_cidr(cls, v: Any) -> Any:
        return _parse_network(v)

    @model_validator(mode="after")
    def _check(self) -> AccessPoint:
        _check_region(self.cloud, self.region)
        if self.kind == "vm" and self.vm is None:
            raise ValueError("vm: a kind vm access point needs vm settings, at least {instance_type: ...}")
        if self.kind == "nlb" and self.vm is not None:
            raise ValueError("vm: only a kind vm access point takes vm settings")
        if self.vm is not None and self.vm.image_id is None and (self.cloud, self.vm.distro) not in IMAGES:
            raise ValueError(
                f"vm.distro: {self.vm.distro} has no public image on {self.cloud}; use one of "
                f"{', '.join(distros_on(self.cloud))} or give vm.image_id"
            )
        if self.kind == "vm" and "listener_quota" in self.model_fields_set:
            raise ValueError("listener_quota: a VM has no listener quota; only kind nlb takes it")
        low, high = NLB_ZONES[self.cloud] if self.kind == "nlb" else (1, 10)
        if not low <= len(self.zones) <= high:
            raise ValueError(
                f"zones: kind {self.kind} on {self.cloud} takes {low} to {high} zones, got {len(self.zones)}"
            )
        if len(set(self.zones)) != len(self.zones):
            raise ValueError("zones: a zone is listed twice")
        for zone in self.zones:
            _check_zone(self.cloud, self.region, zone, "zones")
        parts, other = ("vswitches", "subnets") if self.cloud == "alicloud" else ("subnets", "vswitches")
        if getattr(self, other) is not None:
            raise ValueError(f"{other}: not a {self.cloud} setting; an existing {self.cloud} VPC takes {parts}")
        existing = (self.vpc_id, getattr(self, parts), self.route_table_id)
        if any(v is not None for v in existing) and not all(v is not None for v in existing):
            raise ValueError(
                f"an existing VPC needs vpc_id, {parts} and route_table_id together; "
                "leave all three out to let wfga create the VPC"
            )
        if self.link == "existing" and self.vpc_id is None:
            # A VPC wfga creates has only a default route to the internet; nothing routes the cluster
            # CIDR over a link wfga does not know, so entries through it would never reach a node.
            raise ValueError(
                f"link: existing means a VPC you already route to the cluster (VPN, transit gateway, "
                f"express connect); give its vpc_id, {parts} and route_table_id, or use a link wfga builds"
            )
        if self.link == "cen" and len(self.zones) < 2:
            raise ValueError(
                "zones: link cen attaches this VPC to a transit router, which needs vSwitches in two zones "
                "in a multi-zone region; list two zones"
            )
        given: dict[str, str] | None = getattr(self, parts)
        if given is not None and set(given) != set(self.zones):
            raise ValueError(f"{parts}: give exactly one per zone in zones {self.zones}, got {sorted(given)}")
        if self.vpc_id is None and self.vpc_cidr.prefixlen > 23:
            raise ValueError(
                f"vpc_cidr: {self.vpc_cidr} is too small to split into per-zone vSwitches; use /23 or larger"
            )
        if self.listener_quota > MAX_LISTENER_QUOTA[self.cloud]:
            raise ValueError(
                f"listener_quota: {self.listener_quota} is above what a {self.cloud} NLB can have "
                f"({MAX_LISTENER_QUOTA[self.cloud]}{', not adjustable' if self.cloud == 'aws' else ''})"
            )
        limit, what = (
            (MAX_IDLE_TIMEOUT_S[self.cloud], f"{self.cloud} NLB")
            if self.kind == "nlb"
            else (MAX_VM_IDLE_TIMEOUT_S, "wfga's nginx")
        )
        if not MIN_IDLE_TIMEOUT_S <= self.idle_timeout_s <= limit:
            raise ValueError(
                f"idle_timeout_s: {self.idle_timeout_s} is outside {MIN_IDLE_TIMEOUT_S}..{limit}; "
                f"long links need at least {MIN_IDLE_TIMEOUT_S} s and {what} allows at most {limit} s"
            )
        seen: set[tuple[int, str]] = set()
        for i, eip in enumerate(self.pinned_eips):
            if eip.zone not in self.zones:
                raise ValueError(f"pinned_eips[{i}].zone: {eip.zone} is not one of zones {self.zones}")
            key = (eip.load_balancer, eip.zone)
            if key in seen:
                raise ValueError(f"pinned_eips[{i}]: {self.carrier_key(eip.load_balancer)} {eip.zone} is pinned twice")
            seen.add(key)
        return self

    def carrier_key(self, number: int) -> str:
        """What carries the listeners: ``nlb-N``, or ``vm-N`` for a VM access point."""
        return f"{self.kind}-{number}"


class StackConfig(_Model):
    """Everything one stack reads; see the README for the per-region layout."""

    layout: Literal["all-in-one", "core", "region"] = "all-in-one"
    core_stack: str | None = Field(
        default=None, description="fully qualified name of the core stack (org/project/stack)"
    )
    cluster: Cluster
    access_points: list[AccessPoint] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> StackConfig:
        if self.layout == "region" and not self.core_stack and any(ap.link == "cen" for ap in self.access_points):
            raise ValueError(
                "core_stack: a region stack with link cen needs wfga:core_stack, e.g. organization/wfga/core"
            )
        if self.layout == "core" and self.cluster.cloud != "alicloud":
            raise ValueError("layout: the core stack holds CEN pieces, which only an Alibaba Cloud cluster uses")
        if self.layout != "region" and self.core_stack:
            raise ValueError("core_stack: only a stack with wfga:layout region references a core stack")
        if self.layout == "core" and self.access_points:
            raise ValueError(
                "access_points: the core stack owns the shared CEN pieces only; "
                "move access points to their region stacks"
            )
        if self.layout == "region" and not self.access_points:
            raise ValueError("access_points: a region stack needs at least one access point")
        names = [ap.name for ap in self.access_points]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"access_points: the name {name} is used twice")
        return self


_TOP_KEYS = {f"{NAMESPACE}:{key}" for key in StackConfig.model_fields}
# Service-domain and object-storage keys, validated by wfga.model.edge.parse_edge_config; that
# module imports this one, so the names are listed here rather than imported.
EDGE_KEYS = ("cloudflare_api_token", "dns_zones", "object_storage", "service_domains")
# Audio/video keys, validated by wfga.model.av.parse_av (which imports this module, too).
AV_KEYS = ("av", "turn_password")
_KNOWN_KEYS = _TOP_KEYS | {f"{NAMESPACE}:{key}" for key in (*EDGE_KEYS, *AV_KEYS)}


def _parse_network(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return ipaddress.IPv4Network(v, strict=True)
        except ValueError as err:
            raise ValueError(f"{v!r} is not an IPv4 network in CIDR form with host bits zero ({err})") from None
    return v


def _check_region(cloud: str, region: str) -> None:
    if not re.match(_REGION[cloud], region):
        raise ValueError(f"region: {region!r} is not a {cloud} region id such as ap-southeast-1")


def _check_zone(cloud: str, region: str, zone: str, key: str) -> None:
    # AWS zones are the region plus one letter; Alibaba's add a letter, or a dash and a letter.
    suffix = r"[a-z]" if cloud == "aws" else r"-?[a-z0-9]+"
    if not re.fullmatch(re.escape(region) + suffix, zone):
        example = f"{region}a" if cloud == "aws" else f"{region}a or {region}-a"
        raise ValueError(f"{key}: {zone!r} is not a zone of {region} (expected e.g. {example})")


def _cross_checks(cfg: StackConfig) -> list[str]:
    """Rules that span the cluster and the access points."""
    problems: list[str] = []
    networks = [(f"{NAMESPACE}:cluster.cidr", cfg.cluster.cidr)] + [
        (f"{NAMESPACE}:access_points[{i}] ({ap.name}).vpc_cidr", ap.vpc_cidr) for i, ap in enumerate(cfg.access_points)
    ]
    for a in range(len(networks)):
        for b in range(a + 1, len(networks)):
            (path_a, net_a), (path_b, net_b) = networks[a], networks[b]
            if net_a.overlaps(net_b):
                problems.append(
                    f"{path_b}: {net_b} overlaps {path_a} {net_a}; routed networks must not overlap, pick a free range"
                )
    for i, ap in enumerate(cfg.access_points):
        path = f"{NAMESPACE}:access_points[{i}] ({ap.name})"
        if ap.link in LINKS and (ap.cloud, cfg.cluster.cloud) != LINKS[ap.link]:
            works = [link for link, pair in LINKS.items() if pair == (ap.cloud, cfg.cluster.cloud)] + ["existing"]
            problems.append(
                f"{path}.link: {ap.link} joins a {LINKS[ap.link][0]} access point to a {LINKS[ap.link][1]} "
                f"cluster, not {ap.cloud} to {cfg.cluster.cloud}; use link: {' or '.join(works)}"
            )
        if ap.link == "cen" and not cfg.cluster.attach_vswitches:
            problems.append(
                f"{NAMESPACE}:cluster.attach_vswitches: link cen on {ap.name} attaches the cluster VPC to a "
                "transit router; give one vSwitch per zone, e.g. {cn-hangzhou-h: vsw-...}"
            )
        if ap.link == "cen" and ap.region == cfg.cluster.region:
            problems.append(
                f"{path}.region: a CEN access point in the cluster's own region {ap.region} would need a second "
                "transit router there, and CEN allows one per region; put the access point in another region, "
                "or reach the cluster VPC directly (link: existing with the cluster VPC's ids)"
            )
    cen_regions: dict[str, str] = {}
    for i, ap in enumerate(cfg.access_points):
        if ap.link != "cen":
            continue
        if ap.region in cen_regions:
            problems.append(
                f"{NAMESPACE}:access_points[{i}] ({ap.name}).region: {cen_regions[ap.region]} already links "
                f"{ap.region} through CEN, which allows one transit router per region; serve both from one "
                "access point (more zones or load balancers), or use another region"
            )
        cen_regions.setdefault(ap.region, ap.name)
    # A region stack sees only its own access points; the merge of its outputs checks the rest.
    if cfg.layout == "all-in-one":
        names = [ap.name for ap in cfg.access_points]
        settings = [(f"{NAMESPACE}:cluster.web_primary", cfg.cluster.web_primary)] + [
            (f"{NAMESPACE}:cluster.nodes[{i}] ({node.name}).web_primary", node.web_primary)
            for i, node in enumerate(cfg.cluster.nodes)
        ]
        for path, primary in settings:
            if primary is not None and primary not in names:
                problems.append(
                    f"{path}: {primary} is not an access point of this stack; use one of {', '.join(names) or '(none)'}"
                )
    if cfg.layout == "core" and not cfg.cluster.attach_vswitches:
        problems.append(
            f"{NAMESPACE}:cluster.attach_vswitches: the core stack attaches the cluster VPC to CEN; "
            "give one vSwitch per zone"
        )
    return problems


def _loc_to_path(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> str:
    """Turn a pydantic error location into the key path a user sees in the stack file."""
    if not loc:
        return f"{NAMESPACE}:"
    head, *rest = loc
    path = f"{NAMESPACE}:{head}"
    node: Any = raw.get(str(head))
    for part in rest:
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, Mapping) and isinstance(node.get("name"), str):
                path += f" ({node['name']})"
        else:
            path += f".{part}"
            node = node.get(part) if isinstance(node, Mapping) else None
    return path


def _message(err: Mapping[str, Any]) -> str:
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if err["type"] == "extra_forbidden":
        return "unknown key; check its spelling against the README's field list"
    if err["type"] == "missing":
        return "required key is missing"
    if err["type"] == "literal_error":
        return f"{msg} (got {err.get('input')!r})"
    return msg


_FIELD_PREFIX = re.compile(r"^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*): (.*)$", re.S)


def _problem(path: str, message: str) -> str:
    # Model-level checks start their message with the field they are about; fold it into the path.
    match = _FIELD_PREFIX.match(message)
    if match:
        sep = "" if match.group(1).startswith("[") or path.endswith(":") else "."
        return f"{path}{sep}{match.group(1)}: {match.group(2)}"
    return f"{path}: {message}"


def parse_stack_config(values: Mapping[str, Any]) -> StackConfig:
    """Validate the stack's ``wfga:*`` values (namespaced keys, decoded values).

    Keys of other namespaces (``alicloud:region`` and the like) are ignored.
    """
    ours = {k: v for k, v in values.items() if k.startswith(f"{NAMESPACE}:")}
    problems = [
        f"{k}: unknown key; wfga reads {', '.join(sorted(_KNOWN_KEYS))}" for k in sorted(ours) if k not in _KNOWN_KEYS
    ]
    # An explicit null in a stack file unsets a project-level value, as if the key were absent.
    raw = {k.split(":", 1)[1]: v for k, v in ours.items() if k in _TOP_KEYS and v is not None}
    if "cluster" not in raw:
        problems.append(f"{NAMESPACE}:cluster: required key is missing; describe the IM cluster (see README)")
    if problems:
        raise ConfigError(problems)
    try:
        cfg = StackConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError([_problem(_loc_to_path(tuple(e["loc"]), raw), _message(e)) for e in err.errors()]) from None
    problems = _cross_checks(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg
