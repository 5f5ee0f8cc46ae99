"""The port plan: which public port on which load balancer forwards to which node and service.

Pure functions of the configuration.  The rules that keep users on the right node:

* a node's public ports come from its ``slot`` (``port_base + slot``), never its list position;
* a node's load balancer is ``nlb-(1 + (slot - 1) // per_lb)`` with ``per_lb = quota // listeners``
  (3 listeners per node, or 2 when the cluster has no web clients and so no ws listener): it
  depends on the node's own slot only, so adding or removing other nodes never moves it, and
  dense slots ``1..n`` need the fewest load balancers, ``ceil(n / per_lb)``;
* every backup entry of node K is an address of the load balancer that carries node K;
* an entry always has the three ports; without web clients its ws port is the one a ws listener
  would have (``port_base.ws + slot``), so that port never belongs to another node either.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from wfga.model.config import (
    NAMESPACE,
    NATIVE_SERVICES,
    SERVICES,
    AccessPoint,
    Cluster,
    ConfigError,
    Node,
    PinnedEip,
    StackConfig,
    load_balancer_number,
    nodes_per_load_balancer,
    parse_stack_config,
    port_problems,
    port_ranges,
)
from wfga.plan.nodeline import web_first

__all__ = ["NATIVE_SERVICES", "SERVICES", "load_balancer_number", "nodes_per_load_balancer", "port_ranges"]


def listened_services(cluster: Cluster) -> tuple[str, ...]:
    """The services that get a listener: the ws port only when web clients exist."""
    return cluster.listened_services


@dataclass(frozen=True)
class PortMapping:
    """One listener: ``public_port`` on every address of ``load_balancer`` -> node's service port."""

    access_point: str
    load_balancer: str
    node: str
    service: str
    public_port: int
    target_ip: str
    target_port: int
    idle_timeout_s: int

    @property
    def key(self) -> str:
        """Stable resource-name suffix: node and service, never a position."""
        return f"{self.node}-{self.service}"


@dataclass(frozen=True)
class LoadBalancerPlan:
    """What carries listeners and owns public addresses: an NLB (one EIP per zone) or a VM (one EIP)."""

    access_point: str
    key: str
    number: int
    zones: tuple[str, ...]
    nodes: tuple[str, ...]
    mappings: tuple[PortMapping, ...]
    pinned: Mapping[str, PinnedEip]


@dataclass(frozen=True)
class AccessPointPlan:
    config: AccessPoint
    load_balancers: tuple[LoadBalancerPlan, ...]

    @property
    def name(self) -> str:
        return self.config.name

    def carriers_of(self, node: str) -> list[LoadBalancerPlan]:
        """One NLB carries a node; every VM of a VM access point carries every node."""
        return [lb for lb in self.load_balancers if node in lb.nodes]

    @property
    def mappings(self) -> tuple[PortMapping, ...]:
        return tuple(m for lb in self.load_balancers for m in lb.mappings)


def public_ports(ap: AccessPoint, slot: int) -> dict[str, int]:
    return ap.public_ports(slot)


def plan_access_point(cluster: Cluster, ap: AccessPoint, index: int) -> AccessPointPlan:
    # The config model has checked these already; a plan built from anything else checks again.
    problems = port_problems(cluster, ap, f"{NAMESPACE}:access_points[{index}] ({ap.name})")
    if problems:
        raise ConfigError(problems)
    services = listened_services(cluster)
    carriers = ap.carriers(cluster.nodes, len(services))
    plans: list[LoadBalancerPlan] = []
    for number in sorted(carriers):
        zones, nodes = carriers[number]
        key = ap.carrier_key(number)
        ordered = sorted(nodes, key=lambda n: n.slot)
        mappings = [
            PortMapping(
                access_point=ap.name,
                load_balancer=key,
                node=node.name,
                service=service,
                public_port=port,
                target_ip=str(node.private_ip),
                target_port=getattr(cluster.service_ports, service),
                idle_timeout_s=ap.idle_timeout_s,
            )
            for node in ordered
            for service, port in public_ports(ap, node.slot).items()
            if service in services
        ]
        plans.append(
            LoadBalancerPlan(
                access_point=ap.name,
                key=key,
                number=number,
                zones=zones,
                nodes=tuple(n.name for n in ordered),
                mappings=tuple(mappings),
                pinned={e.zone: e for e in ap.pinned_eips if e.load_balancer == number},
            )
        )
    return AccessPointPlan(config=ap, load_balancers=tuple(plans))


def plan_stack(cfg: StackConfig) -> list[AccessPointPlan]:
    """The whole plan of a validated configuration (parse_stack_config checks every rule first)."""
    plans: list[AccessPointPlan] = []
    problems: list[str] = []
    for i, ap in enumerate(cfg.access_points):
        try:
            plans.append(plan_access_point(cfg.cluster, ap, i))
        except ConfigError as err:
            problems += err.problems
    if problems:
        raise ConfigError(problems)
    return plans


def plan_alone(cluster: Cluster, access_point: AccessPoint) -> AccessPointPlan:
    """One access point planned as if a stack held it and its cluster alone.

    For a program that composes an access point itself: the checks that span the cluster and the
    access point (overlapping networks, which link joins which clouds) run as for a stack file,
    and a mistake raises the same ConfigError, naming the key as ``wfga:access_points[0] (name)``.
    """
    values = {
        f"{NAMESPACE}:cluster": cluster.model_dump(mode="json", exclude_unset=True),
        # Only the keys the caller set, so rules about what was given (kind vm takes no
        # listener_quota) judge the same settings.
        f"{NAMESPACE}:access_points": [access_point.model_dump(mode="json", exclude_unset=True)],
    }
    return plan_stack(parse_stack_config(values))[0]


def vswitch_cidr(vpc_cidr: ipaddress.IPv4Network, region: str, zone: str) -> ipaddress.IPv4Network:
    """The vSwitch range wfga gives a zone of a VPC it creates.

    Derived from the zone's letter (``...-1a`` -> 0, ``...-h`` -> 7), not its position in the list,
    so reordering ``zones`` never re-addresses a vSwitch.  The VPC is cut into 32 equal parts.
    """
    suffix = zone[len(region) :].lstrip("-")
    if len(suffix) != 1 or not "a" <= suffix <= "z":
        raise ValueError(
            f"cannot derive a vSwitch range from zone {zone!r}; create the VPC yourself and give "
            "vpc_id, vswitches and route_table_id"
        )
    index = ord(suffix) - ord("a")
    return list(vpc_cidr.subnets(prefixlen_diff=5))[index]


def entry(address: str, ports: Mapping[str, int]) -> str:
    """One ``IP:SHORT:LONG:WS`` item of ``server.backup_address``."""
    ipaddress.IPv4Address(address)  # WildFire only documents literal IPv4 addresses here
    return f"{address}:{ports['short']}:{ports['long']}:{ports['ws']}"


def web_primary_of(cluster: Cluster, node: Node) -> str | None:
    """The access point whose entries come first for ``node``: its own setting, else the cluster's."""
    return node.web_primary if node.web_primary is not None else cluster.web_primary


def backup_entries(
    cluster: Cluster,
    plans: list[AccessPointPlan],
    addresses: Mapping[tuple[str, str, str], str],
) -> dict[str, list[dict[str, str]]]:
    """Every node's entries: the node's web-primary access point first if it has one, then access
    points in config order; within one, its NLB's zones in config order (or its VMs in number order).

    ``addresses`` maps (access point, load balancer key, zone) to the public IPv4 address.  Each item
    is ``{"access_point": ..., "entry": "ip:s:l:w", "web_primary": name or ""}`` so region stacks can
    be merged in the same order.
    """
    result: dict[str, list[dict[str, str]]] = {}
    for node in cluster.nodes:
        primary = web_primary_of(cluster, node)
        items: list[dict[str, str]] = []
        for plan in plans:
            ports = public_ports(plan.config, node.slot)
            for lb in plan.carriers_of(node.name):
                for zone in lb.zones:
                    items.append(
                        {
                            "access_point": plan.name,
                            "entry": entry(addresses[(plan.name, lb.key, zone)], ports),
                            "web_primary": primary or "",
                        }
                    )
        result[node.name] = web_first(items, primary)
    return result


def port_map_rows(
    plans: list[AccessPointPlan], addresses: Mapping[tuple[str, str, str], str]
) -> list[dict[str, str | int]]:
    """One row per public ip:port, i.e. per mapping and address of its load balancer."""
    rows: list[dict[str, str | int]] = []
    for plan in plans:
        for lb in plan.load_balancers:
            for m in lb.mappings:
                for zone in lb.zones:
                    rows.append(
                        {
                            "access_point": plan.name,
                            "load_balancer": lb.key,
                            "zone": zone,
                            "public_ip": addresses[(plan.name, lb.key, zone)],
                            "public_port": m.public_port,
                            "node": m.node,
                            "service": m.service,
                            "target_ip": m.target_ip,
                            "target_port": m.target_port,
                        }
                    )
    return rows


@dataclass(frozen=True)
class IngressRule:
    key: str  # stable part of the rule's resource name: service (or "ssh") and first port
    first_port: int
    last_port: int
    cidr: str


def public_ingress(mappings: Iterable[PortMapping], admin_cidr: str | None = None) -> list[IngressRule]:
    """Rules that admit exactly the listeners' public ports, as contiguous ranges per service,
    and SSH only from an admin CIDR when one is given."""
    mappings = list(mappings)
    rules = [
        IngressRule(f"{service}-{first}", first, last, "0.0.0.0/0")
        for service in SERVICES
        for first, last in port_ranges(m.public_port for m in mappings if m.service == service)
    ]
    if admin_cidr is not None:
        rules.append(IngressRule("ssh-22", 22, 22, admin_cidr))
    return rules
