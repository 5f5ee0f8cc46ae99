"""Cloud rules: what the cloud APIs and providers refuse, checked on the offline plan.

The mocks accept any input; a real ``pulumi up`` does not.  Each :class:`Rule` states one
constraint that a cloud API or a Pulumi provider enforces for a resource type, with the source
that says so, and checks it on the resources the offline engine recorded: type, name, inputs
(camelCase keys, as the provider receives them), parent, dependencies and provider, plus the whole
plan for rules about uniqueness, singletons and required dependencies.

AWS numbers come from the API models that botocore ships (``aws_limits.json``, written by
``scripts/gen_aws_limits.py``; the plan never imports botocore).  Alibaba Cloud numbers are
quoted from the pulumi-alicloud SDK docstrings; a test checks that each quote is still there.

Pure: no Pulumi import.  ``docs/cloud-rules.md`` is rendered from :data:`RULES`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Protocol

from wfga.model.config import ConfigError

LIMITS_FILE = Path(__file__).resolve().parent / "aws_limits.json"
_LIMITS_DATA: dict[str, Any] = json.loads(LIMITS_FILE.read_text(encoding="utf-8"))
AWS_LIMITS: dict[str, dict[str, Any]] = _LIMITS_DATA["limits"]
BOTOCORE_VERSION: str = _LIMITS_DATA["botocore"]

# Resource types, by their Pulumi type tokens.
AWS_LB = "aws:lb/loadBalancer:LoadBalancer"
AWS_TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
AWS_LISTENER = "aws:lb/listener:Listener"
AWS_INSTANCE = "aws:ec2/instance:Instance"
AWS_EIP_ASSOCIATION = "aws:ec2/eipAssociation:EipAssociation"
AWS_INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
AWS_SUBNET = "aws:ec2/subnet:Subnet"
AWS_SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
AWS_SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
AWS_SG_EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ALI_NLB = "alicloud:nlb/loadBalancer:LoadBalancer"
ALI_NLB_LISTENER = "alicloud:nlb/listener:Listener"
ALI_NLB_SERVER_GROUP = "alicloud:nlb/serverGroup:ServerGroup"
ALI_NLB_ATTACHMENT = "alicloud:nlb/serverGroupServerAttachment:ServerGroupServerAttachment"
ALI_EIP = "alicloud:ecs/eipAddress:EipAddress"
ALI_INSTANCE = "alicloud:ecs/instance:Instance"
ALI_SECURITY_GROUP = "alicloud:ecs/securityGroup:SecurityGroup"
ALI_TRANSIT_ROUTER = "alicloud:cen/transitRouter:TransitRouter"
ALI_TR_VPC_ATTACHMENT = "alicloud:cen/transitRouterVpcAttachment:TransitRouterVpcAttachment"
ALI_OSS_CORS = "alicloud:oss/bucketCors:BucketCors"
ALI_DCDN_DOMAIN = "alicloud:dcdn/domain:Domain"
AWS_S3_CORS = "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration"
CF_RULESET = "cloudflare:index/ruleset:Ruleset"
AWS_S3_ACCELERATE = "aws:s3/bucketAccelerateConfiguration:BucketAccelerateConfiguration"

# Pulumi auto-names these when the program gives no name: the resource's name, a hyphen and
# 7 random characters (pulumi-aws issue 1317).  Type -> the input that carries the name.
AUTONAMED: dict[str, str] = {AWS_LB: "name", AWS_TARGET_GROUP: "name", AWS_SECURITY_GROUP: "name"}
AUTONAME_SUFFIX = 1 + 7
_AUTONAME_PLACEHOLDER = "-" + "x" * 7


@dataclass(frozen=True)
class Source:
    """Where a rule comes from: ``origin`` says the kind, ``ref`` where, ``quote`` the words there."""

    origin: Literal["botocore", "sdk", "api", "issue"]
    ref: str
    quote: str
    url: str = ""


class Recorded(Protocol):
    """What the offline engine records per resource (``wfga.offline.engine.ResourceRecord`` has it)."""

    urn: str
    type: str
    name: str
    parent: str
    dependencies: list[str]
    provider: str
    id: str
    inputs: dict[str, Any]
    delete_before_replace: bool


# How the engine marks a secret value on the wire ({_SIG_KEY: _SECRET_SIG, "value": ...}), as the
# offline engine records it (pulumi.runtime.rpc).
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def reveal(value: Any) -> Any:
    """``value`` with every secret replaced by what it hides: the cloud judges a secret's value too."""
    if isinstance(value, Mapping):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return reveal(value.get("value"))
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any]
    id: str = ""
    parent: str = ""
    dependencies: tuple[str, ...] = ()
    provider: str = ""
    delete_before_replace: bool = False

    @classmethod
    def of(cls, record: Recorded) -> Resource:
        return cls(
            urn=record.urn,
            type=record.type,
            name=record.name,
            inputs=reveal(record.inputs),
            id=record.id,
            parent=record.parent,
            dependencies=tuple(record.dependencies),
            provider=record.provider,
            delete_before_replace=record.delete_before_replace,
        )

    @property
    def auto_named(self) -> bool:
        """True when the program gave no name, so the provider makes one from ``self.name``."""
        key = AUTONAMED.get(self.type)
        return key is not None and key not in self.inputs and "namePrefix" not in self.inputs


@dataclass(frozen=True)
class Violation:
    rule: str
    urn: str
    type: str
    name: str
    input: str
    message: str
    sources: tuple[Source, ...]

    def __str__(self) -> str:
        refs = "; ".join(s.ref for s in self.sources)
        return f"{self.type} {self.name}: {self.input}: {self.message} [rule {self.rule}; source: {refs}]"


class CloudRuleError(ConfigError):
    """The plan holds inputs a real ``pulumi up`` would have refused; printed as is, exit 2."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__([str(v) for v in violations])

    def __str__(self) -> str:
        lines = [f"the plan breaks {len(self.violations)} cloud rule(s); a real `pulumi up` would fail:"]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("see docs/cloud-rules.md for each rule and its source")
        return "\n".join(lines)


class PlanIndex:
    """The whole plan, for rules that look beyond one resource."""

    def __init__(self, resources: Sequence[Resource]) -> None:
        self.resources = resources
        self.by_urn = {r.urn: r for r in resources}
        self.by_id = {r.id: r for r in resources if r.id}

    def of_type(self, type_: str) -> list[Resource]:
        return self._by_type.get(type_, [])

    @cached_property
    def _by_type(self) -> dict[str, list[Resource]]:
        grouped: dict[str, list[Resource]] = defaultdict(list)
        for r in self.resources:
            grouped[r.type].append(r)
        return grouped

    def namesakes(self, resource: Resource) -> list[Resource]:
        """The other resources of its type whose ``name`` input is the same string, in its region."""
        name = resource.inputs.get("name")
        if not isinstance(name, str):
            return []
        same = self._by_name.get((resource.type, self.region(resource), name), [])
        return [r for r in same if r.urn != resource.urn]

    @cached_property
    def _by_name(self) -> dict[tuple[str, str | None, str], list[Resource]]:
        # Looked up once per resource: a scan of the type per resource made a plan quadratic in them.
        grouped: dict[tuple[str, str | None, str], list[Resource]] = defaultdict(list)
        for r in self.resources:
            name = r.inputs.get("name")
            if isinstance(name, str):
                grouped[(r.type, self.region(r), name)].append(r)
        return grouped

    def region(self, resource: Resource) -> str | None:
        """The resource's own ``region`` input (pulumi-aws 7), else its provider's region."""
        own = resource.inputs.get("region")
        if isinstance(own, str):
            return own
        provider = self.by_urn.get(resource.provider.rsplit("::", 1)[0]) if resource.provider else None
        region = provider.inputs.get("region") if provider else None
        return region if isinstance(region, str) else None

    def depends_on(self, resource: Resource, target_urn: str) -> bool:
        """Whether ``resource`` waits for ``target_urn``, directly or through its dependencies."""
        seen: set[str] = set()
        todo = list(resource.dependencies)
        while todo:
            urn = todo.pop()
            if urn == target_urn:
                return True
            if urn in seen:
                continue
            seen.add(urn)
            found = self.by_urn.get(urn)
            if found is not None:
                todo.extend(found.dependencies)
        return False

    @cached_property
    def gateways_by_vpc(self) -> dict[str, Resource]:
        return {str(g.inputs["vpcId"]): g for g in self.of_type(AWS_INTERNET_GATEWAY) if "vpcId" in g.inputs}


Finding = tuple[str, str]  # (input path, what is wrong)
Check = Callable[[Resource, PlanIndex], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    types: tuple[str, ...]
    input: str
    constraint: str
    sources: tuple[Source, ...]
    check: Check = field(compare=False, repr=False)

    def run(self, resource: Resource, index: PlanIndex) -> Iterator[Violation]:
        for path, message in self.check(resource, index):
            yield Violation(self.id, resource.urn, resource.type, resource.name, path, message, self.sources)


# --- helpers -------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """Inputs reach the mock monitor as JSON numbers (80.0); strings such as "200" count too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _show(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _range(path: str, value: Any, low: float, high: float) -> Iterator[Finding]:
    if value is None:
        return
    number = _number(value)
    if number is None:
        yield path, f"{value!r} is not a number"
    elif not low <= number <= high:
        yield path, f"{_show(number)} is outside {_show(low)}..{_show(high)}"


def _enum(path: str, value: Any, allowed: Sequence[str]) -> Iterator[Finding]:
    if value is not None and value not in allowed:
        yield path, f"{value!r} is not one of {', '.join(allowed)}"


def _get(inputs: Mapping[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _aws(key: str) -> dict[str, Any]:
    return AWS_LIMITS[key]


def _botocore(key: str) -> Source:
    entry = _aws(key)
    shape = ", ".join(f"{f} {entry[f]}" for f in ("min", "max") if f in entry)
    if "enum" in entry:
        shape = "one of " + ", ".join(entry["enum"])
    quote = "; ".join(part for part in (shape, entry.get("doc", "")) if part)
    return Source("botocore", f"botocore {key}", quote)


def _sdk(module: str, quote: str) -> Source:
    return Source("sdk", module, quote)


def _text_length(path: str, text: str, low: int, high: int) -> Iterator[Finding]:
    if not low <= len(text) <= high:
        yield path, f"{text!r} has {len(text)} characters, allowed {low}..{high}"


def _bad_chars(text: str, allowed: Callable[[str], bool]) -> str:
    return "".join(sorted({c for c in text if not allowed(c)}))


def _effective_name(resource: Resource, key: str) -> tuple[str, str] | None:
    """The name the cloud will see, and how to call it in a message; None if there is none yet."""
    if key in resource.inputs:
        return str(resource.inputs[key]), key
    if resource.auto_named:
        name = resource.name + _AUTONAME_PLACEHOLDER
        return name, f"{key} (absent: Pulumi auto-names it {resource.name}-<7 random characters>)"
    return None


# --- AWS ------------------------------------------------------------------------------------------

_AWS_NAME_OK = re.compile(r"^[A-Za-z0-9-]+$")
_ISSUE_1317 = Source(
    "issue",
    "pulumi-aws issue 1317 / PR 1932",
    "name '...-' plus 7 random chars is longer than maximum length",
    "https://github.com/pulumi/pulumi-aws/issues/1317",
)


def _elbv2_name(limit_key: str) -> Check:
    limits = _aws(limit_key)
    assert limits["charset"] == "alphanumeric characters or hyphens", limits["charset"]
    high = int(limits["max_length"])
    reserved = limits.get("reserved_prefix")

    def check(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
        if "namePrefix" in resource.inputs:
            return
        found = _effective_name(resource, "name")
        if found is None:
            return
        name, path = found
        if len(name) > high:
            yield path, f"{name!r} has {len(name)} characters, at most {high}"
        if not _AWS_NAME_OK.match(name):
            yield path, f"{name!r} may hold only letters, digits and hyphens"
        if name.startswith("-") or name.endswith("-"):
            yield path, f"{name!r} begins or ends with a hyphen"
        if reserved and name.startswith(reserved):
            yield path, f"{name!r} begins with {reserved!r}"

    return check


def _elbv2_name_unique(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    # Auto-names carry a random suffix, so only explicit names can collide.
    name = resource.inputs.get("name")
    if not isinstance(name, str):
        return
    clash = [other.name for other in index.namesakes(resource)]
    if clash:
        yield "name", f"{name!r} is also the name of {', '.join(sorted(clash))} in {index.region(resource)}"


def _target_group_ranges(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    inputs = resource.inputs
    for path, key in (
        ("port", "Port"),
        ("healthCheck.interval", "HealthCheckIntervalSeconds"),
        ("healthCheck.timeout", "HealthCheckTimeoutSeconds"),
        ("healthCheck.healthyThreshold", "HealthyThresholdCount"),
        ("healthCheck.unhealthyThreshold", "UnhealthyThresholdCount"),
    ):
        limits = _aws(f"elbv2:CreateTargetGroupInput.{key}")
        yield from _range(path, _get(inputs, path), limits["min"], limits["max"])
    yield from _enum("protocol", inputs.get("protocol"), _aws("elbv2:CreateTargetGroupInput.Protocol")["enum"])
    yield from _enum("targetType", inputs.get("targetType"), _aws("elbv2:CreateTargetGroupInput.TargetType")["enum"])
    yield from _enum(
        "healthCheck.protocol",
        _get(inputs, "healthCheck.protocol"),
        _aws("elbv2:CreateTargetGroupInput.HealthCheckProtocol")["enum"],
    )


_TIMEOUT_DEFAULT_PROTOCOLS = ("TCP", "TLS", "HTTPS")


def _target_group_timeout_below_interval(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    check = resource.inputs.get("healthCheck") or {}
    if check.get("enabled") is False:
        return
    protocol = check.get("protocol") or resource.inputs.get("protocol") or "TCP"
    interval = _number(check.get("interval"))
    interval_note = ""
    if interval is None:
        interval = float(_aws("elbv2:CreateTargetGroupInput.HealthCheckIntervalSeconds")["default_tcp"])
        interval_note = " (AWS default)"
    timeout = _number(check.get("timeout"))
    timeout_note = ""
    if timeout is None:
        if protocol not in _TIMEOUT_DEFAULT_PROTOCOLS:
            return
        timeout = float(_aws("elbv2:CreateTargetGroupInput.HealthCheckTimeoutSeconds")["default_tcp"])
        timeout_note = f" (absent: AWS uses {_show(timeout)} s for {protocol})"
    if timeout >= interval:
        yield (
            "healthCheck.timeout",
            f"timeout {_show(timeout)} s{timeout_note} is not below interval {_show(interval)} s{interval_note}",
        )


def _listener_ranges(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    inputs = resource.inputs
    port = _aws("elbv2:CreateListenerInput.Port")
    yield from _range("port", inputs.get("port"), port["min"], port["max"])
    yield from _enum("protocol", inputs.get("protocol"), _aws("elbv2:CreateListenerInput.Protocol")["enum"])
    idle = _aws("elbv2:ListenerAttribute.Key")
    yield from _range(
        "tcpIdleTimeoutSeconds",
        inputs.get("tcpIdleTimeoutSeconds"),
        idle["tcp_idle_timeout_min"],
        idle["tcp_idle_timeout_max"],
    )


def _lb_enums(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    inputs = resource.inputs
    yield from _enum(
        "loadBalancerType", inputs.get("loadBalancerType"), _aws("elbv2:CreateLoadBalancerInput.Type")["enum"]
    )
    yield from _enum(
        "ipAddressType", inputs.get("ipAddressType"), _aws("elbv2:CreateLoadBalancerInput.IpAddressType")["enum"]
    )


def _user_data_bytes(inputs: Mapping[str, Any]) -> tuple[str, int] | None:
    if isinstance(inputs.get("userData"), str):
        return "userData", len(inputs["userData"].encode("utf-8"))
    if isinstance(inputs.get("userDataBase64"), str):
        try:
            return "userDataBase64", len(base64.b64decode(inputs["userDataBase64"], validate=True))
        except binascii.Error:
            return "userDataBase64", -1
    return None


def _user_data_limit(kib: int) -> Check:
    def check(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
        found = _user_data_bytes(resource.inputs)
        if found is None:
            return
        path, size = found
        if size < 0:
            yield path, "is not valid base64"
        elif size > kib * 1024:
            yield path, f"{size} bytes before base64, at most {kib} KB ({kib * 1024} bytes)"

    return check


def _ec2_charset(key: str) -> Callable[[str], bool]:
    """EC2's "a-z, A-Z, 0-9, spaces, and ._-:/()..." as a predicate."""
    charset = str(_aws(key)["charset"])
    head, _, extra = charset.partition("spaces, and ")
    assert head == "a-z, A-Z, 0-9, " and extra, charset
    return lambda c: c.isascii() and (c.isalnum() or c == " " or c in extra)


def _ec2_text(key: str, path: str, *, autonamed: bool = False, reserved_prefix: str = "") -> Check:
    allowed = _ec2_charset(key)
    high = int(_aws(key)["max_length"])

    def check(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
        found = _effective_name(resource, path) if autonamed else None
        if found is None and isinstance(resource.inputs.get(path), str):
            found = (str(resource.inputs[path]), path)
        if found is None:
            return
        text, shown = found
        if len(text) > high:
            yield shown, f"{text!r} has {len(text)} characters, at most {high}"
        bad = _bad_chars(text, allowed)
        if bad:
            yield shown, f"{text!r} holds characters EC2 refuses: {bad!r}"
        if reserved_prefix and text.startswith(reserved_prefix):
            yield shown, f"{text!r} begins with {reserved_prefix!r}"

    return check


def _security_group(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    key = "ec2:CreateSecurityGroupRequest.GroupName"
    yield from _ec2_text(key, "name", autonamed=True, reserved_prefix=str(_aws(key)["reserved_prefix"]))(
        resource, index
    )
    yield from _ec2_text("ec2:CreateSecurityGroupRequest.Description", "description")(resource, index)


def _vpc_gateway(index: PlanIndex, subnet_id: Any) -> Resource | None:
    """The internet gateway this plan creates for the subnet's VPC, if the plan creates both."""
    subnet = index.by_id.get(str(subnet_id))
    if subnet is None or subnet.type != AWS_SUBNET:
        return None
    return index.gateways_by_vpc.get(str(subnet.inputs.get("vpcId")))


def _needs_gateway(resource: Resource, index: PlanIndex, subnet_ids: Iterable[Any], path: str) -> Iterator[Finding]:
    for gateway in {g.urn: g for s in subnet_ids if (g := _vpc_gateway(index, s)) is not None}.values():
        if not index.depends_on(resource, gateway.urn):
            yield (
                path,
                (
                    f"does not depend on internet gateway {gateway.name} of its VPC: the cloud refuses it "
                    "while the gateway is not attached yet ('VPC ... has no internet gateway'); add depends_on"
                ),
            )


def _lb_needs_gateway(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    if resource.inputs.get("internal") is True:
        return
    subnets = [m.get("subnetId") for m in resource.inputs.get("subnetMappings") or [] if isinstance(m, Mapping)]
    subnets += list(resource.inputs.get("subnets") or [])
    yield from _needs_gateway(resource, index, subnets, "dependencies")


def _eip_association_needs_gateway(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    instance = index.by_id.get(str(resource.inputs.get("instanceId")))
    if instance is None or instance.type != AWS_INSTANCE:
        return
    yield from _needs_gateway(resource, index, [instance.inputs.get("subnetId")], "dependencies")


def _bound_allocations(resource: Resource) -> list[str]:
    """The EIP allocation ids an NLB binds in its zone (Alibaba) or subnet (AWS) mappings."""
    key = "zoneMappings" if resource.type == ALI_NLB else "subnetMappings"
    mappings = resource.inputs.get(key)
    return [
        str(m["allocationId"])
        for m in (mappings if isinstance(mappings, list) else [])
        if isinstance(m, Mapping) and m.get("allocationId")
    ]


def _nlb_with_eips_deletes_first(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    bound = _bound_allocations(resource)
    if bound and not resource.delete_before_replace:
        yield (
            "deleteBeforeReplace",
            (
                f"binds EIP(s) {', '.join(bound)} but is replaced create-first: the new load balancer cannot take "
                "addresses the old one still holds (nor, on AWS, its name); set delete_before_replace=True"
            ),
        )


# --- Alibaba Cloud -------------------------------------------------------------------------------


def _ali_chars(extra: str) -> Callable[[str], bool]:
    # "letters" in Alibaba's wording includes Chinese characters; digits are ASCII.
    return lambda c: c.isalpha() or (c.isdigit() and c.isascii()) or c in extra


_NLB_DESCRIPTION_OK = _ali_chars(",.;/@_-")
_NLB_NAME_OK = _ali_chars("._-")
_TR_ATTACHMENT_NAME_OK = _ali_chars("_-")


def _ali_text(path: str, low: int, high: int, allowed: Callable[[str], bool], *, first_letter: bool = False) -> Check:
    def check(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
        text = resource.inputs.get(path)
        if not isinstance(text, str):
            return
        yield from _text_length(path, text, low, high)
        bad = _bad_chars(text, allowed)
        if bad:
            yield path, f"{text!r} holds characters Alibaba Cloud refuses here: {bad!r}"
        if first_letter and text and not text[0].isalpha():
            yield path, f"{text!r} does not start with a letter"

    return check


def _ali_health_check(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    check = resource.inputs.get("healthCheck") or {}
    yield from _range("healthCheck.healthCheckConnectTimeout", check.get("healthCheckConnectTimeout"), 1, 300)
    yield from _range("healthCheck.healthCheckInterval", check.get("healthCheckInterval"), 5, 50)
    yield from _range("healthCheck.healthyThreshold", check.get("healthyThreshold"), 2, 10)
    yield from _range("healthCheck.unhealthyThreshold", check.get("unhealthyThreshold"), 2, 10)


def _ali_listener(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    yield from _range("idleTimeout", resource.inputs.get("idleTimeout"), 1, 900)
    yield from _range("listenerPort", resource.inputs.get("listenerPort"), 0, 65535)
    yield from _enum("listenerProtocol", resource.inputs.get("listenerProtocol"), ("TCP", "UDP", "TCPSSL"))


def _ali_nlb_zones(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    zones = resource.inputs.get("zoneMappings")
    if isinstance(zones, list) and not 2 <= len(zones) <= 10:
        yield "zoneMappings", f"{len(zones)} zone(s), an NLB needs 2..10"


# Bandwidth (Mbit/s) an EIP may have, by (payment type, metering).
_EIP_BANDWIDTH: dict[tuple[str, str], int] = {
    ("PayAsYouGo", "PayByBandwidth"): 500,
    ("PayAsYouGo", "PayByTraffic"): 200,
}
_EIP_SUBSCRIPTION_BANDWIDTH = 1000


def _ali_eip_bandwidth(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    inputs = resource.inputs
    payment = str(inputs.get("paymentType") or "PayAsYouGo")
    metering = str(inputs.get("internetChargeType") or "PayByBandwidth")
    high = _EIP_SUBSCRIPTION_BANDWIDTH if payment == "Subscription" else _EIP_BANDWIDTH.get((payment, metering), 200)
    for finding in _range("bandwidth", inputs.get("bandwidth"), 1, high):
        yield finding[0], f"{finding[1]} ({payment}, {metering})"


def _ali_instance_name(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    name = resource.inputs.get("instanceName")
    if isinstance(name, str):
        yield from _text_length("instanceName", name, 2, 128)
        if name.startswith("-") or name.startswith(("http://", "https://")):
            yield "instanceName", f"{name!r} begins with a hyphen or http(s)://"
    host = resource.inputs.get("hostName")
    if isinstance(host, str):
        # Linux host names (wfga runs Linux only): 2..64, segments of letters, digits, '_' and '-'.
        yield from _text_length("hostName", host, 2, 64)
        bad = _bad_chars(host, lambda c: c.isascii() and (c.isalnum() or c in "._-"))
        if bad:
            yield "hostName", f"{host!r} holds characters ECS refuses in a host name: {bad!r}"
        if host[:1] in ".-" or host[-1:] in ".-" or re.search(r"[.-]{2}", host):
            yield "hostName", f"{host!r} starts or ends with '.' or '-', or repeats them"


def _ali_security_group_name(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    name = resource.inputs.get("securityGroupName")
    if isinstance(name, str):
        yield from _text_length("securityGroupName", name, 2, 128)
        if not name[:1].isalpha() or name.startswith(("http://", "https://")):
            yield "securityGroupName", f"{name!r} must start with a letter"
        bad = _bad_chars(name, _ali_chars(":_.-"))
        if bad:
            yield "securityGroupName", f"{name!r} holds characters ECS refuses: {bad!r}"


def _ali_transit_router_singleton(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    cen, region = resource.inputs.get("cenId"), index.region(resource)
    others = [
        r.name
        for r in index.of_type(ALI_TRANSIT_ROUTER)
        if r.urn != resource.urn and r.inputs.get("cenId") == cen and index.region(r) == region
    ]
    if others:
        yield (
            "cenId",
            (
                f"CEN {cen} already gets transit router {', '.join(sorted(others))} in {region}; "
                "a CEN instance has one transit router per region"
            ),
        )


# --- object storage and CDN sources ---------------------------------------------------------------


def _cors_rules(methods: Sequence[str], *, one_header_wildcard: bool) -> Check:
    def check(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
        rules = resource.inputs.get("corsRules")
        for i, rule in enumerate(rules if isinstance(rules, list) else []):
            for method in rule.get("allowedMethods") or []:
                yield from _enum(f"corsRules[{i}].allowedMethods", method, methods)
            if one_header_wildcard:
                for header in rule.get("allowedHeaders") or []:
                    if isinstance(header, str) and header.count("*") > 1:
                        yield f"corsRules[{i}].allowedHeaders", f"{header!r} has more than one '*'"

    return check


def _s3_accelerate(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    yield from _enum("status", resource.inputs.get("status"), ("Enabled", "Suspended"))
    bucket = resource.inputs.get("bucket")
    if isinstance(bucket, str) and "." in bucket:
        yield "bucket", f"{bucket!r} contains a period; Transfer Acceleration needs a name without one"


def _dcdn_source_ports(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    sources = resource.inputs.get("sources")
    for i, source in enumerate(sources if isinstance(sources, list) else []):
        port = _number(source.get("port"))
        if port is not None and port not in (80, 443):
            yield f"sources[{i}].port", f"{_show(port)} is not 80 or 443"


# --- Cloudflare ----------------------------------------------------------------------------------

# The action each entry point phase wfga writes takes (Cloudflare's cache rules and configuration
# rules docs: "Set the rule action to set_cache_settings", "set_config").
_PHASE_ACTIONS = {"http_request_cache_settings": "set_cache_settings", "http_config_settings": "set_config"}


def _cf_ruleset_singleton(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    inputs = resource.inputs
    if inputs.get("kind") != "zone":
        return
    zone, phase = inputs.get("zoneId"), inputs.get("phase")
    others = [
        r.name
        for r in index.of_type(CF_RULESET)
        if r.urn != resource.urn
        and r.inputs.get("kind") == "zone"
        and r.inputs.get("zoneId") == zone
        and r.inputs.get("phase") == phase
    ]
    if others:
        yield (
            "phase",
            (
                f"zone {zone} already gets the {phase} entry point ruleset from {', '.join(sorted(others))}; "
                "a zone has one per phase: put the rules in one ruleset"
            ),
        )


def _cf_ruleset_actions(resource: Resource, index: PlanIndex) -> Iterator[Finding]:
    action = _PHASE_ACTIONS.get(str(resource.inputs.get("phase")))
    rules = resource.inputs.get("rules")
    if action is None or not isinstance(rules, list):
        return
    for i, rule in enumerate(rules):
        if isinstance(rule, Mapping) and rule.get("action") != action:
            yield f"rules[{i}].action", f"{rule.get('action')!r}: the {resource.inputs['phase']} phase takes {action}"


# --- the rules ------------------------------------------------------------------------------------

_NLB_DESCRIPTION_QUOTE = (
    "The description must be 2 to 256 characters in length, and can contain letters, digits, commas (,), "
    "periods (.), semicolons (;), forward slashes (/), at signs (@), underscores (_), and hyphens (-)."
)
_CFN_DEPENDS_ON = Source(
    "api",
    "AWS CloudFormation DependsOn attribute",
    "the following resources depend on a VPC-gateway attachment when they have an associated public IP address "
    "and are in a VPC: ... Elastic Load Balancing load balancers, Elastic IP addresses",
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html",
)
_TF_IGW = Source(
    "issue",
    "terraform-provider-aws PRs 3494, 4587",
    "Error creating Application Load Balancer: InvalidSubnet: VPC vpc-... has no internet gateway",
    "https://github.com/hashicorp/terraform-provider-aws/pull/4587",
)

RULES: tuple[Rule, ...] = (
    Rule(
        "aws-lb-name",
        (AWS_LB,),
        "name",
        "at most 32 characters (with Pulumi's auto-name suffix when the name is absent), letters, digits and "
        "hyphens, no hyphen first or last, not `internal-...`",
        (_botocore("elbv2:CreateLoadBalancerInput.Name"), _ISSUE_1317),
        _elbv2_name("elbv2:CreateLoadBalancerInput.Name"),
    ),
    Rule(
        "aws-target-group-name",
        (AWS_TARGET_GROUP,),
        "name",
        "at most 32 characters (with Pulumi's auto-name suffix when the name is absent), letters, digits and "
        "hyphens, no hyphen first or last",
        (_botocore("elbv2:CreateTargetGroupInput.Name"), _ISSUE_1317),
        _elbv2_name("elbv2:CreateTargetGroupInput.Name"),
    ),
    Rule(
        "aws-elbv2-name-unique",
        (AWS_LB, AWS_TARGET_GROUP),
        "name",
        "explicit names unique per region (and account) among load balancers, and among target groups",
        (_botocore("elbv2:CreateTargetGroupInput.Name"), _botocore("elbv2:CreateLoadBalancerInput.Name")),
        _elbv2_name_unique,
    ),
    Rule(
        "aws-lb-enums",
        (AWS_LB,),
        "loadBalancerType, ipAddressType",
        "one of the API's values",
        (_botocore("elbv2:CreateLoadBalancerInput.Type"), _botocore("elbv2:CreateLoadBalancerInput.IpAddressType")),
        _lb_enums,
    ),
    Rule(
        "aws-target-group-ranges",
        (AWS_TARGET_GROUP,),
        "port, protocol, targetType, healthCheck.*",
        "port 1..65535; health-check interval 5..300 s, timeout 2..120 s, thresholds 2..10; protocols and "
        "target type from the API's values",
        (
            _botocore("elbv2:CreateTargetGroupInput.Port"),
            _botocore("elbv2:CreateTargetGroupInput.HealthCheckIntervalSeconds"),
            _botocore("elbv2:CreateTargetGroupInput.HealthCheckTimeoutSeconds"),
            _botocore("elbv2:CreateTargetGroupInput.HealthyThresholdCount"),
        ),
        _target_group_ranges,
    ),
    Rule(
        "aws-target-group-timeout-below-interval",
        (AWS_TARGET_GROUP,),
        "healthCheck.timeout",
        "health-check timeout below the interval, counting AWS's defaults (TCP: timeout 10 s, interval 30 s) "
        "for absent values",
        (
            _botocore("elbv2:CreateTargetGroupInput.HealthCheckTimeoutSeconds"),
            Source(
                "issue",
                "terraform-provider-aws issue 2366; tflint-ruleset-aws issue 404",
                "ValidationError: Health check interval must be greater than the timeout.",
                "https://github.com/terraform-linters/tflint-ruleset-aws/issues/404",
            ),
        ),
        _target_group_timeout_below_interval,
    ),
    Rule(
        "aws-listener-ranges",
        (AWS_LISTENER,),
        "port, protocol, tcpIdleTimeoutSeconds",
        "port 1..65535; TCP idle timeout 60..6000 s",
        (_botocore("elbv2:CreateListenerInput.Port"), _botocore("elbv2:ListenerAttribute.Key")),
        _listener_ranges,
    ),
    Rule(
        "aws-ec2-user-data-size",
        (AWS_INSTANCE,),
        "userData",
        "at most 16 KB before base64",
        (
            _botocore("ec2:RequestLaunchTemplateData.UserData"),
            Source(
                "api",
                "Amazon EC2 User Guide, instance user data",
                "User data is limited to 16 KB, in raw form, before it is base64-encoded.",
                "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-add-user-data.html",
            ),
        ),
        _user_data_limit(int(_aws("ec2:RequestLaunchTemplateData.UserData")["max_kb"])),
    ),
    Rule(
        "aws-security-group-text",
        (AWS_SECURITY_GROUP,),
        "name, description",
        "at most 255 characters (name: with the auto-name suffix) of a-z, A-Z, 0-9, spaces and "
        "`._-:/()#,@[]+=&;{}!$*`; the name does not begin with `sg-`",
        (
            _botocore("ec2:CreateSecurityGroupRequest.GroupName"),
            _botocore("ec2:CreateSecurityGroupRequest.Description"),
        ),
        _security_group,
    ),
    Rule(
        "aws-security-group-rule-description",
        (AWS_SG_INGRESS, AWS_SG_EGRESS),
        "description",
        "at most 255 characters of a-z, A-Z, 0-9, spaces and `._-:/()#,@[]+=&;{}!$*`",
        (_botocore("ec2:IpRange.Description"),),
        _ec2_text("ec2:IpRange.Description", "description"),
    ),
    Rule(
        "aws-nlb-internet-gateway",
        (AWS_LB,),
        "dependencies",
        "an internet-facing load balancer in a VPC this plan creates depends on that VPC's internet gateway",
        (_CFN_DEPENDS_ON, _TF_IGW),
        _lb_needs_gateway,
    ),
    Rule(
        "aws-eip-association-internet-gateway",
        (AWS_EIP_ASSOCIATION,),
        "dependencies",
        "an EIP association for an instance in a VPC this plan creates depends on that VPC's internet gateway",
        (_CFN_DEPENDS_ON,),
        _eip_association_needs_gateway,
    ),
    Rule(
        "nlb-eips-delete-before-replace",
        (AWS_LB, ALI_NLB),
        "deleteBeforeReplace (resource option)",
        "a load balancer that binds EIPs in its zone/subnet mappings is deleted before its replacement is created",
        (
            Source(
                "issue",
                "terraform-provider-aws issue 15031",
                "Error creating network Load Balancer: ResourceInUse: The allocation IDs are not available for use",
                "https://github.com/hashicorp/terraform-provider-aws/issues/15031",
            ),
            Source(
                "issue",
                "terraform-aws-alb issue 203",
                "Terraform apply will fail because of the name clash and because it doesn't try to delete the NLB "
                "beforehand.",
                "https://github.com/terraform-aws-modules/terraform-aws-alb/issues/203",
            ),
            Source(
                "api",
                "Alibaba Cloud EIP AssociateEipAddress",
                "You cannot call the AssociateEipAddress operation to associate an EIP with multiple instances at a "
                "time.",
                "https://www.alibabacloud.com/help/en/eip/developer-reference/api-120195",
            ),
        ),
        _nlb_with_eips_deletes_first,
    ),
    Rule(
        "alicloud-nlb-description",
        (ALI_NLB_LISTENER, ALI_NLB_ATTACHMENT),
        "listenerDescription, description",
        "2..256 characters: letters, digits and `, . ; / @ _ -` (no spaces)",
        (
            _sdk("pulumi_alicloud.nlb.listener", _NLB_DESCRIPTION_QUOTE),
            _sdk("pulumi_alicloud.nlb.server_group_server_attachment", _NLB_DESCRIPTION_QUOTE),
        ),
        lambda r, i: _ali_text(
            "listenerDescription" if r.type == ALI_NLB_LISTENER else "description", 2, 256, _NLB_DESCRIPTION_OK
        )(r, i),
    ),
    Rule(
        "alicloud-nlb-names",
        (ALI_NLB, ALI_NLB_SERVER_GROUP),
        "loadBalancerName, serverGroupName",
        "2..128 characters: letters, digits and `. _ -`, starting with a letter",
        (
            _sdk(
                "pulumi_alicloud.nlb.load_balancer",
                "The value must be 2 to 128 characters in length, and can contain letters, digits, periods (.), "
                "underscores (_), and hyphens (-). The value must start with a letter.",
            ),
            _sdk(
                "pulumi_alicloud.nlb.server_group",
                "The name must be 2 to 128 characters in length, and can contain letters, digits, periods (.), "
                "underscores (_), and hyphens (-). The name must start with a letter.",
            ),
        ),
        lambda r, i: _ali_text(
            "loadBalancerName" if r.type == ALI_NLB else "serverGroupName", 2, 128, _NLB_NAME_OK, first_letter=True
        )(r, i),
    ),
    Rule(
        "alicloud-nlb-zones",
        (ALI_NLB,),
        "zoneMappings",
        "2..10 zones",
        (
            _sdk(
                "pulumi_alicloud.nlb.load_balancer",
                "You must add at least two zones. You can add a maximum of 10 zones.",
            ),
        ),
        _ali_nlb_zones,
    ),
    Rule(
        "alicloud-nlb-listener-ranges",
        (ALI_NLB_LISTENER,),
        "idleTimeout, listenerPort, listenerProtocol",
        "idle timeout 1..900 s; port 0..65535; protocol TCP, UDP or TCPSSL",
        (
            _sdk(
                "pulumi_alicloud.nlb.listener",
                "The timeout period of idle connections. Unit: seconds. Valid values: `1` to `900`.",
            ),
            _sdk("pulumi_alicloud.nlb.listener", "The listening protocol. Valid values: `TCP`, `UDP`, and `TCPSSL`."),
        ),
        _ali_listener,
    ),
    Rule(
        "alicloud-nlb-health-check",
        (ALI_NLB_SERVER_GROUP,),
        "healthCheck.*",
        "connect timeout 1..300 s, interval 5..50 s, thresholds 2..10",
        (
            _sdk(
                "pulumi_alicloud.nlb._inputs",
                "The maximum timeout period of a health check. Unit: seconds. Valid values: `1` to `300`.",
            ),
            _sdk(
                "pulumi_alicloud.nlb._inputs",
                "The interval at which health checks are performed. Unit: seconds. Valid values: `5` to `50`.",
            ),
        ),
        _ali_health_check,
    ),
    Rule(
        "alicloud-eip-bandwidth",
        (ALI_EIP,),
        "bandwidth",
        "1..200 Mbit/s for PayAsYouGo + PayByTraffic (the metering an NLB takes), 1..500 for PayByBandwidth, "
        "1..1000 for Subscription",
        (
            _sdk(
                "pulumi_alicloud.ecs.eip_address",
                "When `payment_type` is set to `PayAsYouGo` and `internet_charge_type` is set to `PayByTraffic`, "
                "valid values for `bandwidth` are `1` to `200`.",
            ),
        ),
        _ali_eip_bandwidth,
    ),
    Rule(
        "alicloud-ecs-user-data-size",
        (ALI_INSTANCE,),
        "userData",
        "at most 16 KB before base64",
        (
            Source(
                "api",
                "Alibaba Cloud ECS user guide, instance user data",
                "The user data that you want to run must be encoded in Base64. The size of the user data cannot "
                "exceed 16 KB before it is encoded.",
                "https://www.alibabacloud.com/help/doc-detail/130764.htm",
            ),
        ),
        _user_data_limit(16),
    ),
    Rule(
        "alicloud-ecs-instance-names",
        (ALI_INSTANCE,),
        "instanceName, hostName",
        "instance name 2..128, not starting with `-` or http(s)://; Linux host name 2..64 of letters, digits, "
        "`. _ -`, not starting or ending with `.`/`-`, no `..`/`--`",
        (
            _sdk(
                "pulumi_alicloud.ecs.instance",
                "This instance_name can have a string of 2 to 128 characters, must contain only alphanumeric "
                "characters or hyphens",
            ),
            _sdk(
                "pulumi_alicloud.ecs.instance",
                "In addition, two or more consecutive “.” or “-“ symbols are not allowed.",
            ),
        ),
        _ali_instance_name,
    ),
    Rule(
        "alicloud-security-group-name",
        (ALI_SECURITY_GROUP,),
        "securityGroupName",
        "2..128 characters, starting with a letter; letters, digits and `: _ . -`",
        (
            _sdk(
                "pulumi_alicloud.ecs.security_group",
                "The name must be `2` to `128` characters in length. The name must start with a letter or a Chinese "
                "character",
            ),
        ),
        _ali_security_group_name,
    ),
    Rule(
        "alicloud-transit-router-attachment-name",
        (ALI_TR_VPC_ATTACHMENT,),
        "transitRouterVpcAttachmentName",
        "2..128 characters: letters, digits, `_` and `-`, starting with a letter",
        (
            _sdk(
                "pulumi_alicloud.cen.transit_router_vpc_attachment",
                "The name must be 2 to 128 characters in length, and can contain letters, digits, underscores (_), "
                "and hyphens (-). It must start with a letter.",
            ),
        ),
        _ali_text("transitRouterVpcAttachmentName", 2, 128, _TR_ATTACHMENT_NAME_OK, first_letter=True),
    ),
    Rule(
        "alicloud-cen-transit-router-per-region",
        (ALI_TRANSIT_ROUTER,),
        "cenId",
        "one transit router per region per CEN instance (within this plan)",
        (
            Source(
                "api",
                "Alibaba Cloud CEN CreateTransitRouter",
                "You can create only one Enterprise Edition transit router in each region of a CEN instance.",
                "https://www.alibabacloud.com/help/en/cen/developer-reference/api-cbn-2017-09-12-createtransitrouter",
            ),
        ),
        _ali_transit_router_singleton,
    ),
    Rule(
        "alicloud-oss-cors",
        (ALI_OSS_CORS,),
        "corsRules[].allowedMethods, allowedHeaders",
        "methods GET, PUT, DELETE, POST or HEAD; at most one `*` in an allowed header",
        (
            _sdk(
                "pulumi_alicloud.oss._inputs",
                "The cross-origin request method that is allowed. Valid values: GET, PUT, DELETE, POST, and HEAD.",
            ),
            _sdk(
                "pulumi_alicloud.oss._inputs",
                "You can use only one asterisk (*) as the wildcard for allowed header.",
            ),
        ),
        _cors_rules(("GET", "PUT", "DELETE", "POST", "HEAD"), one_header_wildcard=True),
    ),
    Rule(
        "aws-s3-cors",
        (AWS_S3_CORS,),
        "corsRules[].allowedMethods",
        "methods GET, PUT, HEAD, POST or DELETE",
        (
            _sdk(
                "pulumi_aws.s3._inputs",
                "Set of HTTP methods that you allow the origin to execute. Valid values are `GET`, `PUT`, `HEAD`, "
                "`POST`, and `DELETE`.",
            ),
        ),
        _cors_rules(("GET", "PUT", "HEAD", "POST", "DELETE"), one_header_wildcard=False),
    ),
    Rule(
        "aws-s3-accelerate",
        (AWS_S3_ACCELERATE,),
        "status, bucket",
        "status Enabled or Suspended; the bucket's name has no period",
        (
            _sdk(
                "pulumi_aws.s3.bucket_accelerate_configuration",
                "Transfer acceleration state of the bucket. Valid values: `Enabled`, `Suspended`.",
            ),
            Source(
                "api",
                "Amazon S3 API Reference, PutBucketAccelerateConfiguration",
                "The name of the bucket used for Transfer Acceleration must be DNS-compliant and must not contain "
                'periods (".").',
                "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketAccelerateConfiguration.html",
            ),
        ),
        _s3_accelerate,
    ),
    Rule(
        "cloudflare-ruleset-one-per-zone-phase",
        (CF_RULESET,),
        "zoneId, phase",
        "one zone entry point ruleset per zone and phase",
        (
            Source(
                "api",
                "Cloudflare Ruleset Engine, Rulesets",
                "Each phase has at most one entry point ruleset at the account level and at the zone level.",
                "https://developers.cloudflare.com/ruleset-engine/about/rulesets/",
            ),
        ),
        _cf_ruleset_singleton,
    ),
    Rule(
        "cloudflare-ruleset-phase-action",
        (CF_RULESET,),
        "rules[].action",
        "cache rules (http_request_cache_settings) set_cache_settings; configuration rules "
        "(http_config_settings) set_config",
        (
            Source(
                "api",
                "Cloudflare Cache Rules, create a cache rule via API",
                "Set the rule action to set_cache_settings.",
                "https://developers.cloudflare.com/cache/how-to/cache-rules/create-api/",
            ),
            Source(
                "api",
                "Cloudflare Configuration Rules, create a configuration rule via API",
                "Set the rule action to set_config.",
                "https://developers.cloudflare.com/rules/configuration-rules/create-api/",
            ),
        ),
        _cf_ruleset_actions,
    ),
    Rule(
        "alicloud-dcdn-source-port",
        (ALI_DCDN_DOMAIN,),
        "sources[].port",
        "80 or 443",
        (_sdk("pulumi_alicloud.dcdn._inputs", "The port number. Valid values: `443` and `80`. Default to `80`."),),
        _dcdn_source_ports,
    ),
)


def check(records: Iterable[Recorded | Resource]) -> list[Violation]:
    """Every violation of every rule in the plan, in plan order."""
    resources = [r if isinstance(r, Resource) else Resource.of(r) for r in records]
    index = PlanIndex(resources)
    by_type: dict[str, list[Rule]] = defaultdict(list)
    for rule in RULES:
        for type_ in rule.types:
            by_type[type_].append(rule)
    return [v for r in resources for rule in by_type.get(r.type, ()) for v in rule.run(r, index)]


def enforce(records: Iterable[Recorded | Resource]) -> None:
    violations = check(records)
    if violations:
        raise CloudRuleError(violations)


# --- the generated table (docs/cloud-rules.md) -----------------------------------------------------

_ORIGIN = {
    "botocore": "AWS API model in botocore",
    "sdk": "Pulumi SDK docstring",
    "api": "cloud documentation",
    "issue": "provider issue",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _source_cell(source: Source) -> str:
    where = f"[{source.ref}]({source.url})" if source.url else f"`{source.ref}`"
    return f"{_ORIGIN[source.origin]}: {where}: “{_cell(source.quote)}”"


def render_markdown() -> str:
    """``docs/cloud-rules.md``: one row per rule, with its sources; ``scripts/gen_cloud_rules_doc.py`` writes it."""
    lines = [
        "# Cloud rules the offline plan enforces",
        "",
        "<!-- Generated by scripts/gen_cloud_rules_doc.py from wfga's cloud rules; do not edit. -->",
        "",
        "Pulumi's mocks accept any input; the clouds do not.  After the program has run under the mocks,",
        "`python -m wfga plan` checks every recorded resource against the rules below and fails with",
        "exit 2, listing each violation (resource type and name, input, rule, source), when a real",
        "`pulumi up` would be refused.  A rule that needs the whole plan (uniqueness, one per region,",
        "a required dependency) sees only the stack being planned, not other stacks in the same account.",
        "",
        "Where the limits come from:",
        "",
        f"- **AWS**: the API models that botocore ships (botocore {BOTOCORE_VERSION}), the same models",
        "  tflint-ruleset-aws builds its rules from.  `scripts/gen_aws_limits.py` (botocore is a",
        "  development requirement) writes the few limits used into `wfga/offline/aws_limits.json`;",
        "  the plan reads that file and never imports botocore.  Limits the models state only in prose",
        "  (name lengths, the NLB idle-timeout range, the user-data size) are taken from the prose by a",
        "  pattern that must match exactly once, so a reworded model fails the generator, and a test",
        "  fails when the committed file differs from what the installed botocore gives.",
        "- **Alibaba Cloud**: the parameter docstrings of the pulumi-alicloud SDK pinned in",
        "  `requirements.txt`; a test checks that every quoted sentence is still in the installed SDK.",
        "- Rules that no model states (dependencies the API needs, defaults that break a limit) cite",
        "  the cloud's documentation or the provider issue where the failure was reported.",
        "",
        "| Rule | Resource types | Inputs | Constraint | Sources |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rule in RULES:
        types = "<br>".join(f"`{t}`" for t in rule.types)
        sources = "<br>".join(_source_cell(s) for s in rule.sources)
        lines.append(f"| `{rule.id}` | {types} | `{rule.input}` | {_cell(rule.constraint)} | {sources} |")
    return "\n".join(lines) + "\n"
