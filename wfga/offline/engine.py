"""The offline plan: run ``__main__.py`` unchanged under Pulumi's mock runtime and record everything.

No CLI, no plugin, no credentials, no network.  The mocks answer every resource with its inputs
plus the attributes only the cloud would assign (ids, addresses), generated deterministically from
the resource's type and name so the same resource gets the same placeholder in every stack and run.
Unknown resource types and unknown invokes fail loudly rather than return something plausible.
"""

from __future__ import annotations

import asyncio
import contextvars
import fnmatch
import hashlib
import io
import ipaddress
import json
import logging
import os
import re
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings
from pulumi.runtime.stack import wait_for_rpcs

from wfga.model.config import ConfigError, parse_stack_config
from wfga.offline import rules, runtime
from wfga.offline.runtime import OfflineError
from wfga.offline.stackfile import (
    StackValues,
    core_stack_problems,
    load_stack,
    program_dir,
    program_problem,
    stack_path,
)
from wfga.plan.nodeline import PLACEHOLDER_NETWORKS
from wfga.plan.portplan import plan_stack

_PLACEHOLDER_POOL = [str(ip) for net in PLACEHOLDER_NETWORKS for ip in net.hosts()]

MAX_REFERENCE_DEPTH = 4

# The public images the mocks' look-ups search, by cloud: names as each cloud publishes them, the
# variants included, so a pattern that also matches a variant or matches nothing shows in a plan.
PUBLIC_IMAGES: dict[str, tuple[str, ...]] = {
    "alicloud": (
        "aliyun_3_x64_20G_alibase_20240819.vhd",
        "aliyun_3_x64_20G_dengbao_alibase_20240819.vhd",
        "aliyun_3_x64_20G_uefi_alibase_20240819.vhd",
        "debian_12_6_x64_20G_alibase_20240819.vhd",
        "debian_12_6_uefi_x64_20G_alibase_20240819.vhd",
        "ubuntu_24_04_x64_20G_alibase_20240812.vhd",
        "ubuntu_24_04_uefi_x64_20G_alibase_20240812.vhd",
    ),
    "aws": (
        "al2023-ami-2023.5.20240819.0-kernel-6.1-x86_64",
        "al2023-ami-minimal-2023.5.20240819.0-kernel-6.1-x86_64",
        "debian-12-amd64-20240717-1811",
        "debian-12-arm64-20240717-1811",
        "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20240801",
    ),
}


class ProgramError(ConfigError):
    """The program stopped with a ``pulumi.RunError`` naming a setting to change; printed as is, exit 2."""


# Per resource type: the id prefix and the output attributes the cloud assigns, by kind.
# "=id": the resource's id again (AWS ARNs); "ipv4": a public placeholder address; "dns": a
# placeholder host name; "acm-validation": the one DNS validation record ACM asks for; other
# strings: an id with that prefix.  Every other output comes from the inputs, as the provider
# would echo them.
ASSIGNED: dict[str, tuple[str, dict[str, str]]] = {
    "alicloud:vpc/network:Network": ("vpc-", {"routeTableId": "vtb-", "routerId": "vrt-"}),
    "alicloud:vpc/switch:Switch": ("vsw-", {}),
    "alicloud:vpc/routeEntry:RouteEntry": ("rte-", {}),
    "alicloud:ecs/eipAddress:EipAddress": ("eip-", {"ipAddress": "ipv4"}),
    "alicloud:ecs/securityGroupRule:SecurityGroupRule": ("sgr-", {}),
    "alicloud:nlb/loadBalancer:LoadBalancer": ("nlb-", {"dnsName": "dns"}),
    "alicloud:nlb/serverGroup:ServerGroup": ("sgp-", {}),
    "alicloud:nlb/serverGroupServerAttachment:ServerGroupServerAttachment": ("sgpatt-", {}),
    "alicloud:nlb/listener:Listener": ("lsn-", {}),
    "alicloud:cen/instance:Instance": ("cen-", {}),
    "alicloud:cen/transitRouter:TransitRouter": ("trid-", {"transitRouterId": "tr-"}),
    "alicloud:cen/transitRouterRouteTable:TransitRouterRouteTable": (
        "trrt-",
        {"transitRouterRouteTableId": "vtb-"},
    ),
    "alicloud:cen/transitRouterVpcAttachment:TransitRouterVpcAttachment": (
        "trva-",
        {"transitRouterAttachmentId": "tr-attach-"},
    ),
    "alicloud:cen/transitRouterPeerAttachment:TransitRouterPeerAttachment": (
        "trpa-",
        {"transitRouterAttachmentId": "tr-attach-"},
    ),
    "alicloud:cen/transitRouterRouteTableAssociation:TransitRouterRouteTableAssociation": ("trassoc-", {}),
    "alicloud:cen/transitRouterRouteTablePropagation:TransitRouterRouteTablePropagation": ("trprop-", {}),
    "aws:ec2/vpc:Vpc": ("vpc-", {"arn": "arn:aws:ec2:vpc/", "mainRouteTableId": "rtb-"}),
    "aws:ec2/subnet:Subnet": ("subnet-", {"arn": "arn:aws:ec2:subnet/"}),
    "aws:ec2/internetGateway:InternetGateway": ("igw-", {}),
    "aws:ec2/routeTable:RouteTable": ("rtb-", {}),
    "aws:ec2/route:Route": ("r-", {}),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("rtbassoc-", {}),
    "aws:ec2/eip:Eip": ("eipalloc-", {"allocationId": "=id", "publicIp": "ipv4"}),
    "aws:ec2/securityGroup:SecurityGroup": ("sg-", {}),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("sgr-", {}),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("sgr-", {}),
    "aws:lb/loadBalancer:LoadBalancer": (
        "arn:aws:elasticloadbalancing:loadbalancer/net/",
        {"arn": "=id", "dnsName": "dns"},
    ),
    "aws:lb/targetGroup:TargetGroup": ("arn:aws:elasticloadbalancing:targetgroup/", {"arn": "=id"}),
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": ("tga-", {}),
    "aws:lb/listener:Listener": ("arn:aws:elasticloadbalancing:listener/net/", {"arn": "=id"}),
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": ("pcx-", {}),
    "aws:ec2/instance:Instance": ("i-", {"arn": "arn:aws:ec2:instance/"}),
    "aws:ec2/eipAssociation:EipAssociation": ("eipassoc-", {}),
    "alicloud:ecs/securityGroup:SecurityGroup": ("sg-", {}),
    "alicloud:ecs/instance:Instance": ("i-", {}),
    "alicloud:ecs/eipAssociation:EipAssociation": ("eipassoc-", {}),
    "alicloud:ecs/command:Command": ("c-", {}),
    "alicloud:ecs/ecsInvocation:EcsInvocation": ("t-", {}),
    "aws:iam/role:Role": ("wfga-role-", {"name": "=id", "arn": "arn:aws:iam::000000000000:role/"}),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("rpa-", {}),
    "aws:iam/instanceProfile:InstanceProfile": (
        "wfga-profile-",
        {"name": "=id", "arn": "arn:aws:iam::000000000000:instance-profile/"},
    ),
    "aws:ssm/document:Document": ("ssmdoc-", {"arn": "arn:aws:ssm:document/"}),
    "aws:ssm/association:Association": ("assoc-", {"associationId": "=id"}),
    "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter": ("pcxa-", {}),
    "alicloud:dcdn/domain:Domain": ("dcdn-", {"cname": "dns"}),
    "alicloud:dcdn/domainConfig:DomainConfig": ("dcdncfg-", {"configId": "cfg-"}),
    "alicloud:cdn/domainNew:DomainNew": ("cdn-", {"cname": "dns"}),
    "alicloud:cdn/domainConfig:DomainConfig": ("cdncfg-", {"configId": "cfg-"}),
    "alicloud:dns/alidnsRecord:AlidnsRecord": ("alidns-", {}),
    "alicloud:oss/bucketTransferAcceleration:BucketTransferAcceleration": ("ossacc-", {}),
    "alicloud:oss/bucketCors:BucketCors": ("osscors-", {}),
    "aws:s3/bucketAccelerateConfiguration:BucketAccelerateConfiguration": ("s3acc-", {}),
    "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration": ("s3cors-", {}),
    "cloudflare:index/dnsRecord:DnsRecord": ("cfdns-", {}),
    "cloudflare:index/ruleset:Ruleset": ("cfrs-", {}),
    "cloudflare:index/zoneSetting:ZoneSetting": ("cfset-", {}),
    "cloudflare:index/argoSmartRouting:ArgoSmartRouting": ("cfargo-", {}),
    # wfga requests ACM certificates for CloudFront only, which takes them from us-east-1 alone.
    "aws:acm/certificate:Certificate": (
        "acm-",
        {"arn": "arn:aws:acm:us-east-1:000000000000:certificate/", "domainValidationOptions": "acm-validation"},
    ),
    "aws:acm/certificateValidation:CertificateValidation": ("acmval-", {}),
    "aws:cloudfront/distribution:Distribution": (
        "E",
        {"domainName": "dns", "arn": "arn:aws:cloudfront::000000000000:distribution/E"},
    ),
}


# Resources whose every input is ForceNew get a new id from the cloud when they change; the mocks key
# such an id on the input that names the version (a Cloud Assistant command's name carries the hash
# of its content), so what references the id changes too, as it would on the cloud.
ID_KEYED_ON: dict[str, str] = {"alicloud:ecs/command:Command": "name"}


@dataclass
class ResourceRecord:
    urn: str
    type: str
    name: str
    parent: str
    dependencies: list[str]
    protect: bool
    provider: str
    id: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    custom: bool
    # Former URNs this resource answers to (its own aliases and those inherited from its parent),
    # resolved as the engine resolves them: a deployed resource under one of them updates in place.
    aliases: list[str] = field(default_factory=list)
    # Create/update/delete timeouts the program sets, where it sets them (Pulumi duration strings).
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    # ResourceOptions.delete_before_replace: a replacement deletes this resource before creating the new one.
    delete_before_replace: bool = False
    # Inputs the engine keeps at their deployed values (ResourceOptions.ignore_changes).
    ignore_changes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict: that deep-copies every input and state value of every resource.
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Plan:
    stack: str
    resources: list[ResourceRecord]
    outputs: dict[str, Any]
    placeholders: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
            "placeholders": sorted(self.placeholders),
        }

    def json_text(self) -> str:
        out = io.StringIO()
        self.write_json(out)
        return out.getvalue()

    def write_json(self, out: TextIO) -> None:
        """``to_json`` as text, the same bytes for the same stack file on every run.

        Resources come sorted by URN and each takes one line, with the keys of its inputs and
        state sorted (they arrive in protobuf map order); outputs keep the program's order (nodes
        in config order) with each row or node entry on its own line.  Each line is written by the
        C encoder as it is made (the indenting encoder is pure Python and several times slower on
        thousands of resources; nor is the whole text ever held at once).
        """
        out.write('{\n  "stack": ' + json.dumps(self.stack) + ',\n  "resources": [')
        for i, resource in enumerate(self.resources):
            out.write(("\n    " if i == 0 else ",\n    ") + _resource_line(resource.to_json()))
        out.write('\n  ],\n  "outputs": ' + _expanded(self.outputs, 2, "  "))
        out.write(',\n  "placeholders": ' + _expanded(sorted(self.placeholders), 1, "  ") + "\n}\n")

    def of_type(self, type_: str) -> list[ResourceRecord]:
        return [r for r in self.resources if r.type == type_]

    def by_urn(self) -> dict[str, ResourceRecord]:
        return {r.urn: r for r in self.resources}

    def children(self, parent_urn: str) -> Iterator[ResourceRecord]:
        return (r for r in self.resources if r.parent == parent_urn)


def _resource_line(resource: dict[str, Any]) -> str:
    return (
        "{"
        + ", ".join(f"{json.dumps(key)}: {json.dumps(value, sort_keys=True)}" for key, value in resource.items())
        + "}"
    )


def _expanded(value: Any, depth: int, indent: str) -> str:
    """``value`` with its containers laid out one item per line ``depth`` levels deep, compact below."""
    if depth <= 0 or not isinstance(value, dict | list) or not value:
        return json.dumps(value)
    inner = indent + "  "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {_expanded(v, depth - 1, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    return "[\n" + ",\n".join(f"{inner}{_expanded(v, depth - 1, inner)}" for v in value) + f"\n{indent}]"


StackResolver = Callable[[str], dict[str, Any]]

# While the program runs, each placeholder address is a provisional one, handed out in registration
# order from 240.0.0.0/8 (reserved, never routed, and no documentation range); the final address is
# chosen afterwards from the set of all of them (see WfgaMocks.final_addresses), so it cannot depend
# on the order in which the EIPs registered.
_PROVISIONAL_NETWORK = ipaddress.IPv4Network("240.0.0.0/8")
_PROVISIONAL = re.compile(r"(?<![\d.])240\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.])")
_ANY_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")


class WfgaMocks(pulumi.runtime.Mocks):
    def __init__(self, resolve_stack: StackResolver, reserved: frozenset[str] = frozenset()) -> None:
        """``reserved``: addresses the stack's own configuration spells out; no placeholder takes one."""
        self._resolve_stack = resolve_stack
        self._reserved = reserved
        self._lock = threading.Lock()
        self._next_provisional = int(_PROVISIONAL_NETWORK.network_address)
        self._provisional: dict[tuple[str, str], str] = {}
        self.placeholders: set[str] = set()

    def _digest(self, *parts: str) -> str:
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def _id(self, prefix: str, type_: str, name: str, attr: str = "") -> str:
        value = prefix + self._digest(type_, name, attr)[:17]
        self.placeholders.add(value)
        return value

    def _ipv4(self, type_: str, name: str) -> str:
        with self._lock:
            if (type_, name) in self._provisional:
                raise OfflineError(f"two {type_} resources are named {name}; placeholders are keyed on type and name")
            while True:
                self._next_provisional += 1
                candidate = str(ipaddress.IPv4Address(self._next_provisional))
                if candidate not in self._reserved:
                    break
            self._provisional[(type_, name)] = candidate
            return candidate

    def final_addresses(self) -> dict[str, str]:
        """Provisional -> final placeholder address, a function of the set of (type, name) alone.

        Each address starts at a hash of its resource's type and name in the documentation ranges;
        on a collision the resource whose (type, name) sorts first keeps it and the other probes on.
        Addresses the configuration spells out are skipped.
        """
        taken: set[str] = set(self._reserved)
        final: dict[str, str] = {}
        pool = len(_PLACEHOLDER_POOL)
        for (type_, name), provisional in sorted(self._provisional.items()):
            start = int(self._digest(type_, name), 16) % pool
            for step in range(pool):
                candidate = _PLACEHOLDER_POOL[(start + step) % pool]
                if candidate not in taken:
                    break
            else:
                raise OfflineError(f"ran out of placeholder addresses ({pool} in {len(PLACEHOLDER_NETWORKS)} ranges)")
            taken.add(candidate)
            final[provisional] = candidate
        return final

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            name = str(args.inputs["name"])
            return (name, {"name": name, "outputs": self._resolve_stack(name), "secretOutputNames": []})
        if args.typ.startswith("pulumi:providers:"):
            return (self._id("provider-", args.typ, args.name), dict(args.inputs))
        if not args.custom:
            return ("", {})  # a component: the engine keeps no state for it
        known = ASSIGNED.get(args.typ)
        if known is None:
            raise OfflineError(f"the offline plan does not model resource type {args.typ} ({args.name})")
        prefix, attributes = known
        version = str(args.inputs.get(ID_KEYED_ON[args.typ], "")) if args.typ in ID_KEYED_ON else ""
        resource_id = self._id(prefix, args.typ, args.name, version)
        state = dict(args.inputs)
        for attr, kind in attributes.items():
            if kind == "=id":
                state[attr] = resource_id
            elif kind == "ipv4":
                state[attr] = self._ipv4(args.typ, args.name)
            elif kind == "dns":
                state[attr] = f"{self._digest(args.typ, args.name)[:12]}.placeholder.invalid"
                self.placeholders.add(state[attr])
            elif kind == "acm-validation":
                token = self._digest(args.typ, args.name, attr)[:16]
                domain = str(args.inputs["domainName"])
                value = f"_{token}.acm-validations.placeholder.invalid."
                self.placeholders.add(value)
                state[attr] = [
                    {
                        "domainName": domain,
                        "resourceRecordName": f"_{token}.{domain}.",
                        "resourceRecordType": "CNAME",
                        "resourceRecordValue": value,
                    }
                ]
            else:
                state[attr] = self._id(kind, args.typ, args.name, attr)
        return (resource_id, state)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        # Image look-ups filter PUBLIC_IMAGES as the cloud filters its catalogue, and answer a match
        # with one placeholder image keyed on the query (the most recent match), or nothing.
        query = json.dumps(args.args, sort_keys=True, default=str)
        if args.token == "alicloud:ecs/getImages:getImages":
            pattern = re.compile(str(args.args.get("nameRegex", "")))
            if not any(pattern.search(n) for n in PUBLIC_IMAGES["alicloud"]):
                return ({"ids": [], "images": []}, [])
            image = self._id("m-", args.token, query)
            return ({"ids": [image], "images": [{"id": image, "imageId": image}]}, [])
        if args.token == "aws:ec2/getAmiIds:getAmiIds":
            names = [v for f in args.args.get("filters", []) if f.get("name") == "name" for v in f.get("values", [])]
            if not any(fnmatch.fnmatchcase(n, v) for n in PUBLIC_IMAGES["aws"] for v in names):
                return ({"ids": []}, [])
            # Keyed as the single-image look-up wfga made before, so plans keep their placeholders.
            former = json.dumps({**args.args, "mostRecent": True}, sort_keys=True, default=str)
            return ({"ids": [self._id("ami-", "aws:ec2/getAmi:getAmi", former)]}, [])
        raise OfflineError(f"the offline plan does not model invoke {args.token}")


class _SeenInputs(pulumi.runtime.Mocks):
    """Passes each call on, keeping the inputs the SDK already deserialized for the mocks.

    The monitor records those instead of deserializing the request a second time; one request is
    handled start to end on one thread (the program's, or a worker's under the SDK's own event loop),
    so a thread-local slot is enough.
    """

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        self.mocks = mocks
        self._local = threading.local()

    def take(self) -> dict[str, Any]:
        inputs: dict[str, Any] = self._local.inputs
        del self._local.inputs
        return inputs

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self._local.inputs = args.inputs
        return self.mocks.new_resource(args)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return self.mocks.call(args)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Sees what the engine would: parent, dependencies, protect and provider of each resource."""

    def __init__(self, mocks: WfgaMocks, records: list[ResourceRecord]) -> None:
        self._seen = _SeenInputs(mocks)
        super().__init__(self._seen)
        self.records = records
        self.aliases: dict[str, list[str]] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine qualifies a child's type with its parent's whole type chain (pkg/resource/deploy
        # generateURN); the SDK's mock keeps only the parent's last type, which would hide URN changes
        # when a component moves under another.
        return _urn(parent, type_, name)

    def _alias_urns(self, request: Any) -> list[str]:
        own = []
        for alias in getattr(request, "aliases", []):
            if alias.urn:
                own.append(alias.urn)
                continue
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            own.append(_urn(parent, spec.type or request.type, spec.name or request.name))
        # A parent's former URNs make former URNs of its children too (the engine's inherited aliases).
        inherited = [_urn(former, request.type, request.name) for former in self.aliases.get(request.parent, [])]
        return sorted(set(own + inherited))

    def _record(self, urn: str, request: Any, inputs: dict[str, Any], custom: bool) -> None:
        registration = self.resources.get(urn)
        aliases = self.aliases[urn] = self._alias_urns(request)
        self.records.append(
            ResourceRecord(
                urn=urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                dependencies=sorted(getattr(request, "dependencies", [])),
                protect=bool(getattr(request, "protect", False)),
                provider=request.provider,
                id=(registration.id or "") if registration else "",
                inputs=inputs,
                # The mocks made this dict for this resource alone; the monitor's registry shares it.
                state=registration.state if registration and registration.state else {},
                custom=custom,
                aliases=aliases,
                custom_timeouts=_timeouts(request),
                delete_before_replace=bool(getattr(request, "deleteBeforeReplace", False)),
                ignore_changes=list(getattr(request, "ignoreChanges", [])),
            )
        )

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            self._record(response.urn, request, self._seen.take(), bool(request.custom))
        return response

    def ReadResource(self, request: Any) -> Any:
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        self._record(response.urn, request, self._seen.take(), True)
        return response


def _timeouts(request: Any) -> dict[str, str]:
    timeouts = getattr(request, "customTimeouts", None)
    if timeouts is None:
        return {}
    return {key: value for key in ("create", "update", "delete") if (value := getattr(timeouts, key))}


def _urn(parent: str, type_: str, name: str) -> str:
    qualified = type_
    if parent and parent.split("::")[2] != "pulumi:pulumi:Stack":
        qualified = f"{parent.split('::')[2]}${type_}"
    return "urn:pulumi:" + "::".join([settings.get_stack(), settings.get_project(), qualified, name])


_ASYNCIO_LOG = logging.getLogger("asyncio")


def _unretrieved_in_one_line(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A failed program leaves futures whose exception nobody retrieved (the failure itself reaches
    the caller).  asyncio logs each when the garbage collector finds it, in the middle of whatever
    runs then, with its traceback; formatting a traceback parses source with ``ast`` on Python
    3.11, and a parse nested inside another ``ast.parse`` makes CPython 3.11.7 raise "AST
    constructor recursion depth mismatch" in the outer one.  One line, no traceback; none for a
    ``pulumi.RunError`` (an image look-up that found nothing): run_program reports it once, and every
    resource that awaited the failed value holds the same error, a line each after the CLI's message."""
    if isinstance(context.get("exception"), pulumi.RunError):
        return
    if "never retrieved" in str(context.get("message", "")):
        _ASYNCIO_LOG.error("%s: %r", context["message"], context.get("exception"))
        return
    loop.default_exception_handler(context)


def _config_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _json_key(key: Any) -> str:
    return key if isinstance(key, str) else json.dumps(key)


class _Settle:
    """Stack outputs as plain JSON values with final placeholder addresses, in one walk.

    Exports are dicts and lists with Outputs inside; by the time the program's RPCs are done every
    Output has its value, so each is awaited once where it sits (``Output.from_input`` on the whole
    export would wrap every leaf of every row in Outputs of its own first).
    """

    def __init__(self, swap: Callable[[str], str]) -> None:
        self.swap = swap

    def leaf(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.swap(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        raise OfflineError(f"a stack output holds {type(value).__name__}, which JSON cannot carry")

    async def value(self, value: Any) -> Any:
        while isinstance(value, pulumi.Output):
            value = await value.future()
        if isinstance(value, dict):
            return {
                _json_key(k): await self.value(v) if isinstance(v, _NESTED) else self.leaf(v) for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [await self.value(v) if isinstance(v, _NESTED) else self.leaf(v) for v in value]
        return self.leaf(value)


_NESTED = (pulumi.Output, dict, list, tuple)


def _swapper(final: dict[str, str]) -> Callable[[str], str]:
    def swap(text: str) -> str:
        if "240." not in text:
            return text
        return _PROVISIONAL.sub(lambda m: final.get(m.group(0), m.group(0)), text)

    return swap


def _swap_in_place(container: dict[str, Any] | list[Any], swap: Callable[[str], str]) -> None:
    """Final addresses into a record's own inputs or state (fresh containers, shared with no one else)."""
    if isinstance(container, dict):
        for key, value in container.items():
            if isinstance(value, str):
                if "240." in value:
                    container[key] = swap(value)
            elif isinstance(value, dict | list):
                _swap_in_place(value, swap)
        return
    for index, value in enumerate(container):
        if isinstance(value, str):
            if "240." in value:
                container[index] = swap(value)
        elif isinstance(value, dict | list):
            _swap_in_place(value, swap)


def _addresses_in(values: dict[str, Any]) -> frozenset[str]:
    return frozenset(_ANY_IPV4.findall(json.dumps(values, default=str)))


def stack_resolver(root: Path, depth: int) -> StackResolver:
    """Resolve a StackReference to a stack of this project by planning that stack's file offline.

    Run in a child process: the mock runtime is process-global and busy with the referring stack.
    """

    def resolve(name: str) -> dict[str, Any]:
        stack = name.rsplit("/", 1)[-1]
        path = stack_path(root, stack)
        if not path.is_file():
            raise OfflineError(f"StackReference {name}: no stack file {path} to plan offline")
        if depth >= MAX_REFERENCE_DEPTH:
            raise OfflineError(f"StackReference {name}: references nest deeper than {MAX_REFERENCE_DEPTH}")
        env = dict(os.environ, WFGA_REFERENCE_DEPTH=str(depth + 1))
        proc = subprocess.run(
            [sys.executable, "-m", "wfga", "plan", "--config-file", str(path.resolve()), "--json", "-", "--quiet"],
            # The program's folder, where this wfga sits beside __main__.py; the stack file names its project.
            cwd=program_dir(root),
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise OfflineError(f"StackReference {name}: planning {path} failed:\n{proc.stderr.strip()}")
        outputs: dict[str, Any] = json.loads(proc.stdout)["outputs"]
        return outputs

    return resolve


def run_program(stack: StackValues, root: Path, resolver: StackResolver | None = None) -> Plan:
    """Validate, run the project's program under the mocks, then hold the plan to the cloud rules.

    Raises ConfigError on bad config, its subclass ProgramError when the program stops on what it
    finds while running (an image look-up without a match), and its subclass CloudRuleError listing
    every input a real ``pulumi up`` would have refused.
    """
    # Every user mistake surfaces before the program runs, the core stack reference's too.
    cfg = parse_stack_config(stack.values, stack.secret_keys)
    problems = core_stack_problems(cfg, root)
    if problems:
        raise ConfigError(problems)
    plan_stack(cfg)
    problem = program_problem(root)
    if problem:
        raise ConfigError([problem])
    try:
        plan = execute_program(stack, root, resolver)
    except pulumi.RunError as err:
        # Refused while the program runs, after the config passed (an image look-up that found
        # nothing): a real `pulumi up` prints the message without a stack trace, and so does the plan.
        raise ProgramError([str(err)]) from None
    rules.enforce(plan.resources)
    return plan


def execute_program(
    stack: StackValues,
    root: Path,
    resolver: StackResolver | None = None,
    records: list[ResourceRecord] | None = None,
) -> Plan:
    """Run the project's program under the mocks as ``pulumi up`` would, without validating first.

    ``records``, when given, receives each resource as it registers, even if the program fails.
    """
    done: list[Plan] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(_execute(stack, root, resolver, records))
        except BaseException as err:  # handed to the caller's thread as it is
            failed.append(err)

    # On a thread of its own: the program's event loop leaves the caller's thread alone, and where
    # the SDK builds each resource's stack trace (its own machinery, outside runtime.tuned), it makes
    # it frame by frame down to the thread's first; from here that is the CLI's and the test
    # runner's frames over again.
    thread = threading.Thread(target=contextvars.copy_context().run, args=(run,), name="wfga-program", daemon=True)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return done[0]


def _run_main(path: Path) -> None:
    """``runpy.run_path(path, run_name="__main__")`` without runpy's three frames under every resource."""
    module = types.ModuleType("__main__")
    module.__file__ = str(path)
    code = compile(path.read_bytes(), str(path), "exec")
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = module
    try:
        exec(code, module.__dict__)
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def _execute(
    stack: StackValues,
    root: Path,
    resolver: StackResolver | None,
    records: list[ResourceRecord] | None,
) -> Plan:
    depth = int(os.environ.get("WFGA_REFERENCE_DEPTH", "0"))
    mocks = WfgaMocks(resolver or stack_resolver(root, depth), _addresses_in(stack.values))
    recorded: list[ResourceRecord] = [] if records is None else records
    monitor = RecordingMonitor(mocks, recorded)
    loop = runtime.new_loop()
    loop.set_exception_handler(_unretrieved_in_one_line)
    asyncio.set_event_loop(loop)
    with runtime.tuned():
        try:
            settings.reset_options()
            pulumi.runtime.set_all_config(
                {k: _config_text(v) for k, v in stack.values.items()}, sorted(stack.secret_keys)
            )
            pulumi.runtime.set_mocks(mocks, project="wfga", stack=stack.stack, preview=False, monitor=monitor)
            program = program_dir(root)
            sys.path.insert(0, str(program))
            try:
                _run_main(program / "__main__.py")
                loop.run_until_complete(wait_for_rpcs())
            finally:
                sys.path.remove(str(program))
            final = mocks.final_addresses()
            swap = _swapper(final)
            stack_resource = settings.get_root_resource()
            outputs = loop.run_until_complete(_Settle(swap).value(dict(getattr(stack_resource, "outputs", {}))))
        finally:
            # Stack outputs and failed programs leave RPC tasks behind; finish them before closing.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()
    for record in recorded:
        _swap_in_place(record.inputs, swap)
        _swap_in_place(record.state, swap)
    return Plan(
        stack=stack.stack,
        resources=sorted(recorded, key=lambda r: r.urn),
        outputs=outputs,
        placeholders=sorted(mocks.placeholders | set(final.values())),
    )


def plan_stack_file(stack_file: Path, root: Path) -> Plan:
    return run_program(load_stack(stack_file, root), root)


class StackPlanner:
    """Plans stacks of one project in this process, the same inputs once.

    ``project`` holds ``Pulumi.yaml`` and ``stacks/``; ``code`` the ``__main__.py`` that runs
    (the same directory, unless a git ref's stacks are planned with identical code from here).
    A stack's ``wfga:core_stack`` is planned first, here, and its StackReference answered from that
    plan instead of a child process.  Plans are kept by their inputs (stack name, merged config,
    secret keys, referenced outputs, code), which is all a plan depends on: the two sides of a diff
    share a stack's plan when nothing it reads changed.  ``cache`` may be shared between planners.
    """

    def __init__(self, project: Path, code: Path | None = None, cache: dict[str, Plan] | None = None) -> None:
        self.project = project
        self.code = code or project
        self._cache: dict[str, Plan] = {} if cache is None else cache
        self._planning: set[Path] = set()

    def plan_file(self, stack_file: Path) -> Plan:
        return self.plan_values(load_stack(stack_file, self.project))

    def plan_values(self, stack: StackValues) -> Plan:
        references = self._references(stack)
        key = json.dumps(
            [stack.stack, stack.values, sorted(stack.secret_keys), references, str(self.code)],
            sort_keys=True,
            default=str,
        )
        if key not in self._cache:
            fallback = stack_resolver(self.project, int(os.environ.get("WFGA_REFERENCE_DEPTH", "0")))

            def resolve(name: str) -> dict[str, Any]:
                return references[name] if name in references else fallback(name)

            self._cache[key] = run_program(stack, self.code, resolve)
        return self._cache[key]

    def _references(self, stack: StackValues) -> dict[str, dict[str, Any]]:
        try:
            core = parse_stack_config(stack.values, stack.secret_keys).core_stack
        except ConfigError:
            return {}  # run_program reports it
        if core is None:
            return {}
        path = stack_path(self.project, core.rsplit("/", 1)[-1]).resolve()
        if not path.is_file() or path in self._planning:
            return {}  # the program's own StackReference fails with the reason
        self._planning.add(path)
        try:
            return {core: self.plan_file(path).outputs}
        except (ConfigError, OfflineError):
            return {}  # planned again in a child process, which reports the error as the reference's
        finally:
            self._planning.discard(path)
