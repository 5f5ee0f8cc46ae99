"""wfga's CrossGuard rules: plain functions of one resource, and the policies built from them.

Every check takes a :class:`Resource` (its type, its inputs with Pulumi's camelCase keys, whether it
is protected) and the policy's config, and returns violation messages; an empty list passes.  The
pack in ``__main__.py`` only wires :data:`RULES` to Pulumi, so tests run the same functions.

This module must stand alone: Pulumi runs the pack from this directory in its own virtualenv, where
the ``wfga`` package is not importable.  Constants shared with wfga are checked equal by the tests.

Conventions the rules rely on (kept by wfga's components):

* an Alibaba NLB listener's ``listenerDescription`` is ``wfga/<access point>/<node>/<service>``;
  an AWS listener carries the tag ``wfga:service``.  ``long`` and ``ws`` are long-lived; a listener
  whose service cannot be told is treated as long-lived, so a missing marker never loosens the rule;
* a cluster security-group rule that admits an access point has a description starting with
  ``wfga access point`` (the IM ports, and Janus's RTP range for an access point with TURN).

UDP exists in a wfga stack only for audio/video (``wfga:av``): TURN's 3478 from anywhere, the TURN
relay range from the cluster, Janus's RTP range from the access points.  Any other UDP ingress is
refused, so a stray UDP opening (a DNS or NTP reflector, a mistyped range) cannot slip in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

PACK_NAME = "wfga"

ALICLOUD_LISTENER = "alicloud:nlb/listener:Listener"
AWS_LISTENER = "aws:lb/listener:Listener"
ALICLOUD_EIP = "alicloud:ecs/eipAddress:EipAddress"
AWS_EIP = "aws:ec2/eip:Eip"
ALICLOUD_SG_RULE = "alicloud:ecs/securityGroupRule:SecurityGroupRule"
AWS_SG = "aws:ec2/securityGroup:SecurityGroup"
AWS_SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
AWS_SG_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"

# The article: long link and WebSocket need an idle timeout of at least ten minutes.
MIN_IDLE_TIMEOUT_S = 600
LONG_LIVED_SERVICES = frozenset({"long", "ws"})
KNOWN_SERVICES = frozenset({"short", "long", "ws"})
# What the clouds use when the input is left out.
DEFAULT_IDLE_TIMEOUT_S = {ALICLOUD_LISTENER: 900, AWS_LISTENER: 350}
AWS_SERVICE_TAG = "wfga:service"
ACCESS_POINT_RULE_PREFIX = "wfga access point"
# Without the access points' CIDRs as config, no rule for them may be wider than this.
WIDEST_PREFIX_WITHOUT_CONFIG = 16
SSH_PORT = 22
ANYWHERE = ("0.0.0.0/0", "::/0")
ACCESS_POINT_CIDRS = "access_point_cidrs"
# Audio/video: the one public UDP port (TURN, WildFire's single-port mode) and the private ranges,
# wfga's defaults unless the stack's policy config (wfga policy-config) names its own.
TURN_PORT = 3478
DEFAULT_RELAY_PORTS = (49152, 65535)
DEFAULT_RTP_PORTS = (20000, 40000)
TURN_RELAY_PORTS = "turn_relay_ports"
JANUS_RTP_PORTS = "janus_rtp_ports"
# Sources that are not the internet: RFC 1918 and RFC 6598 (the private networks a link joins).
PRIVATE_NETWORKS = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


@dataclass(frozen=True)
class Resource:
    type: str
    props: Mapping[str, Any]
    protect: bool = False


Check = Callable[[Resource, Mapping[str, Any]], list[str]]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    types: frozenset[str]
    check: Check
    config_schema: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def listener_service(resource: Resource) -> str | None:
    """``short``, ``long`` or ``ws`` from the listener's wfga marker, or None if it has none."""
    if resource.type == ALICLOUD_LISTENER:
        parts = str(resource.props.get("listenerDescription") or "").split("/")
        service = parts[3] if len(parts) == 4 and parts[0] == "wfga" else None
    else:
        tags = resource.props.get("tags") or {}
        service = tags.get(AWS_SERVICE_TAG) if isinstance(tags, Mapping) else None
    return service if service in KNOWN_SERVICES else None


def tcp_listeners(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    key = "listenerProtocol" if resource.type == ALICLOUD_LISTENER else "protocol"
    protocol = resource.props.get(key)
    if protocol != "TCP":
        return [f"{key} is {protocol!r}: access points forward plain TCP only (the long link is not HTTP)"]
    return []


def long_idle_timeouts(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    service = listener_service(resource)
    if service is not None and service not in LONG_LIVED_SERVICES:
        return []
    key = "idleTimeout" if resource.type == ALICLOUD_LISTENER else "tcpIdleTimeoutSeconds"
    timeout = resource.props.get(key)
    effective = DEFAULT_IDLE_TIMEOUT_S[resource.type] if timeout is None else int(timeout)
    if effective >= MIN_IDLE_TIMEOUT_S:
        return []
    what = f"the {service} service" if service else "a listener without a wfga service marker (taken as long-lived)"
    given = f"{key} {effective}" + (" (the default)" if timeout is None else "")
    return [f"{given} s on {what}: long-link and WebSocket mappings need at least {MIN_IDLE_TIMEOUT_S} s"]


def eips_protected(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    if resource.protect:
        return []
    return [
        "this EIP is not protected: its address is in nodes' server.backup_address, so deleting or "
        "replacing it strands clients; create it with ResourceOptions(protect=True)"
    ]


@dataclass(frozen=True)
class Ingress:
    """One ingress permission, whatever resource shape it came from."""

    protocol: str
    from_port: int
    to_port: int
    cidrs: tuple[str, ...]
    description: str


_ALL_PROTOCOLS = {"all", "-1"}


def _alicloud_ingress(props: Mapping[str, Any]) -> list[Ingress]:
    if props.get("type") != "ingress" or props.get("policy") == "drop":
        return []
    low, _, high = str(props.get("portRange") or "-1/-1").partition("/")
    first, last = (1, 65535) if low == "-1" else (int(low), int(high or low))
    cidrs = tuple(str(c) for c in (props.get("cidrIp"), props.get("ipv6CidrIp")) if c)
    return [Ingress(str(props.get("ipProtocol", "")).lower(), first, last, cidrs, str(props.get("description") or ""))]


def _aws_ingress(item: Mapping[str, Any], cidrs: Sequence[Any]) -> Ingress:
    protocol = str(item.get("protocol") or item.get("ipProtocol") or "").lower()
    if protocol in _ALL_PROTOCOLS:
        first, last = 1, 65535
    else:
        first, last = int(item.get("fromPort", 0)), int(item.get("toPort", 65535))
    return Ingress(protocol, first, last, tuple(str(c) for c in cidrs if c), str(item.get("description") or ""))


def ingress_of(resource: Resource) -> list[Ingress]:
    """The ingress permissions a security-group resource grants (none for other resources)."""
    props = resource.props
    if resource.type == ALICLOUD_SG_RULE:
        return _alicloud_ingress(props)
    if resource.type == AWS_SG_RULE:
        if props.get("type") != "ingress":
            return []
        return [_aws_ingress(props, [*(props.get("cidrBlocks") or []), *(props.get("ipv6CidrBlocks") or [])])]
    if resource.type == AWS_SG_INGRESS_RULE:
        return [_aws_ingress(props, [props.get("cidrIpv4"), props.get("cidrIpv6")])]
    if resource.type == AWS_SG:
        return [
            _aws_ingress(item, [*(item.get("cidrBlocks") or []), *(item.get("ipv6CidrBlocks") or [])])
            for item in props.get("ingress") or []
        ]
    return []


def no_public_ssh(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    problems = []
    for rule in ingress_of(resource):
        tcp = rule.protocol in {"tcp", "6"} | _ALL_PROTOCOLS
        if tcp and rule.from_port <= SSH_PORT <= rule.to_port:
            problems += [
                f"ingress from {c} to port {SSH_PORT}: SSH must not be open to the internet"
                for c in rule.cidrs
                if c in ANYWHERE
            ]
    return problems


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _within(net: Network, allowed: Sequence[Network]) -> bool:
    v4 = [a for a in allowed if isinstance(a, ipaddress.IPv4Network)]
    v6 = [a for a in allowed if isinstance(a, ipaddress.IPv6Network)]
    if isinstance(net, ipaddress.IPv4Network):
        return any(net.subnet_of(a) for a in v4)
    return any(net.subnet_of(a) for a in v6)


def access_point_ingress(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    allowed = [ipaddress.ip_network(str(v), strict=False) for v in config.get(ACCESS_POINT_CIDRS) or []]
    problems = []
    for rule in ingress_of(resource):
        if not rule.description.startswith(ACCESS_POINT_RULE_PREFIX):
            continue
        for cidr in rule.cidrs:
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                problems.append(f"{cidr!r} is not a CIDR")
                continue
            if allowed:
                if not _within(net, allowed):
                    within = ", ".join(str(a) for a in allowed)
                    problems.append(f"ingress from {cidr} is wider than the access points' CIDRs ({within})")
            elif net.prefixlen < WIDEST_PREFIX_WITHOUT_CONFIG:
                problems.append(
                    f"ingress from {cidr} is wider than /{WIDEST_PREFIX_WITHOUT_CONFIG}; pass the access points' "
                    f"vpc_cidr as policy config {ACCESS_POINT_CIDRS} to check it exactly"
                )
    return problems


def _ports(value: Any, default: tuple[int, int]) -> tuple[int, int]:
    if isinstance(value, Mapping) and "min" in value and "max" in value:
        return int(value["min"]), int(value["max"])
    return default


def _private(net: Network) -> bool:
    return isinstance(net, ipaddress.IPv4Network) and any(net.subnet_of(p) for p in PRIVATE_NETWORKS)


def udp_only_for_turn(resource: Resource, config: Mapping[str, Any]) -> list[str]:
    relay = _ports(config.get(TURN_RELAY_PORTS), DEFAULT_RELAY_PORTS)
    rtp = _ports(config.get(JANUS_RTP_PORTS), DEFAULT_RTP_PORTS)
    problems = []
    for rule in ingress_of(resource):
        every = rule.protocol in _ALL_PROTOCOLS
        if not every and rule.protocol not in {"udp", "17"}:
            continue
        what = "all protocols (UDP included)" if every else "UDP"
        ports = (rule.from_port, rule.to_port)
        shown = f"{what} {ports[0]}-{ports[1]}"
        for cidr in rule.cidrs:
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                problems.append(f"{cidr!r} is not a CIDR")
                continue
            if not _private(net):
                if every or ports != (TURN_PORT, TURN_PORT):
                    problems.append(
                        f"{shown} from {cidr}: the only UDP open to the internet is TURN's {TURN_PORT} "
                        "(wfga:av); everything else stays closed"
                    )
            elif every or ports not in (relay, rtp):
                problems.append(
                    f"{shown} from {cidr}: private UDP is the TURN relay range {relay[0]}-{relay[1]} (from the "
                    f"cluster) or Janus's RTP range {rtp[0]}-{rtp[1]} (from access points) only; a stack with its "
                    f"own ranges passes them as policy config {TURN_RELAY_PORTS} / {JANUS_RTP_PORTS}"
                )
    return problems


_SG_TYPES = frozenset({ALICLOUD_SG_RULE, AWS_SG, AWS_SG_RULE, AWS_SG_INGRESS_RULE})
_PORT_RANGE_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
}

RULES: tuple[Rule, ...] = (
    Rule(
        "wfga-tcp-listeners",
        "Access-point listeners forward plain TCP (alicloud listenerProtocol TCP, aws protocol TCP).",
        frozenset({ALICLOUD_LISTENER, AWS_LISTENER}),
        tcp_listeners,
    ),
    Rule(
        "wfga-long-idle-timeout",
        f"Long-link and WebSocket listeners keep idle connections at least {MIN_IDLE_TIMEOUT_S} s.",
        frozenset({ALICLOUD_LISTENER, AWS_LISTENER}),
        long_idle_timeouts,
    ),
    Rule(
        "wfga-eip-protected",
        "Every EIP of the stack is protected: its address is written into nodes' backup addresses.",
        frozenset({ALICLOUD_EIP, AWS_EIP}),
        eips_protected,
    ),
    Rule(
        "wfga-no-public-ssh",
        "No security group admits 0.0.0.0/0 (or ::/0) to port 22.",
        _SG_TYPES,
        no_public_ssh,
    ),
    Rule(
        "wfga-access-point-ingress",
        "Cluster ingress for access points ('wfga access point ...' rules) is no wider than their CIDRs.",
        _SG_TYPES,
        access_point_ingress,
        {ACCESS_POINT_CIDRS: {"type": "array", "items": {"type": "string"}}},
    ),
    Rule(
        "wfga-udp-only-for-turn",
        f"UDP ingress only for audio/video: TURN's {TURN_PORT} from anywhere, the TURN relay range and Janus's "
        "RTP range from private networks; no other UDP.",
        _SG_TYPES,
        udp_only_for_turn,
        {TURN_RELAY_PORTS: _PORT_RANGE_SCHEMA, JANUS_RTP_PORTS: _PORT_RANGE_SCHEMA},
    ),
)


def _validation(rule: Rule) -> ResourceValidation:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in rule.types:
            return
        resource = Resource(args.resource_type, args.props, bool(args.opts.protect))
        for message in rule.check(resource, args.get_config()):
            report_violation(message, None)

    return validate


def policies() -> list[Policy]:
    return [
        ResourceValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=_validation(rule),
            enforcement_level=EnforcementLevel.MANDATORY,
            config_schema=(
                PolicyConfigSchema(properties={k: dict(v) for k, v in rule.config_schema.items()})
                if rule.config_schema
                else None
            ),
        )
        for rule in RULES
    ]
