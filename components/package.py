"""The Pulumi component package: GlobalAccess and the access points, for programs in any language.

``package/__main__.py`` serves the classes below with the Pulumi SDK's component provider host,
which infers the package schema (``wfga:index:GlobalAccess`` and so on) from their annotations and
from the generated mirrors in ``package_types``.  Each class is a thin shell: it turns the schema's
plain values back into the config models, which validate them and name the key of a mistake as for a
stack file (``wfga:cluster.nodes[0] (im-1).slot: ...``), then builds the Python component of the
same purpose as its only child.  Python programs use those components directly
(``from wfga.components import GlobalAccess``); these classes exist for the schema.

No ``from __future__ import annotations`` here: the host reads the annotations at run time.
"""

import enum
from collections.abc import Mapping
from typing import Any, TypedDict

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws
from pulumi.provider.experimental import component_provider_host

from wfga.model.config import NAMESPACE, ConfigError, StackConfig, parse_stack_config
from wfga.model.edge import EdgeConfig
from wfga.plan.outputs import node_outputs
from wfga.plan.portplan import AccessPointPlan

from . import global_access
from .alicloud_nlb_access_point import AlicloudNlbAccessPoint, AlicloudNlbAccessPointArgs
from .alicloud_vm_access_point import AlicloudVmAccessPoint, AlicloudVmAccessPointArgs
from .aws_nlb_access_point import AwsNlbAccessPoint, AwsNlbAccessPointArgs
from .aws_vm_access_point import AwsVmAccessPoint, AwsVmAccessPointArgs
from .package_types import AccessPoint, Cluster, GlobalAccessArgs

NAME = "wfga"
# The package's schema version; tests/test_package.py keeps it equal to pyproject.toml's.
VERSION = "0.1.0"
# Stands for the API token and the TURN password while the models check the configuration: they
# only need to know one was given, and as a secret; the value itself stays an Output.
_TOKEN_PLACEHOLDER = "[secret]"
_SECRETS = ("cloudflare_api_token", "turn_password")


def _plain(value: Any, path: str) -> Any:
    """A schema value as a stack file holds it: enums as their values, no Outputs."""
    if isinstance(value, pulumi.Output):
        raise pulumi.RunError(
            f"{path}: must be a plain value, known before deployment; wfga decides from it which "
            "resources exist (pass a literal or a config value, not another resource's output)"
        )
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {key: _plain(item, f"{path}.{key}") for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_plain(item, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def _stack_values(args: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    values = {
        f"{NAMESPACE}:{key}": _plain(value, f"{NAMESPACE}:{key}")
        for key, value in args.items()
        if key not in _SECRETS and value is not None
    }
    secret: set[str] = set()
    for key in _SECRETS:
        if args.get(key) is not None:
            values[f"{NAMESPACE}:{key}"] = _TOKEN_PLACEHOLDER
            secret.add(f"{NAMESPACE}:{key}")
    return values, secret


def parse_args(args: Mapping[str, Any]) -> tuple[StackConfig, EdgeConfig]:
    """The models of a GlobalAccess's schema args, or a RunError listing every problem by key."""
    values, secret = _stack_values(args)
    try:
        config = parse_stack_config(values, secret)
    except ConfigError as err:
        raise pulumi.RunError(str(err)) from None
    return config, config.edge


class GlobalAccess(pulumi.ComponentResource):
    """The global access of one WildFire IM cluster: access points in other regions, their private
    links to the cluster and its security group rules, and the service-domain and object-storage
    acceleration, from the same settings as a wfga stack's ``wfga:`` configuration.  Outputs that do
    not apply to the configuration are absent."""

    backup_addresses: pulumi.Output[dict[str, str]] | None
    """Per node: the value for server.backup_address, IP:SHORT:LONG:WS entries joined by commas."""
    node_config: pulumi.Output[dict[str, str]] | None
    """Per node: the server.backup_address line for the node's wildfirechat.conf."""
    backup_entries: pulumi.Output[Any] | None
    """Per node: its entries, each with the access point that serves it."""
    port_map: pulumi.Output[Any] | None
    """One row per public address and port: access point, load balancer, zone, node, service and target."""
    access_points: pulumi.Output[Any] | None
    """Per access point: region, VPC, and load balancers with their public IPs and nodes."""
    cen: pulumi.Output[Any] | None
    """The CEN ids that region stacks link their access points to, when this configuration builds them."""
    service_domains: pulumi.Output[Any] | None
    """Per service domain: the CDN and DNS names that serve it."""
    object_storage: pulumi.Output[Any] | None
    """The object storage CDN: domain, CNAME and origin."""
    media_config: pulumi.Output[list[str]] | None
    """Media settings for im-server's wildfirechat.conf that point downloads at the CDN."""
    turn_servers: pulumi.Output[Any] | None
    """Per access point with audio/video: its TURN URLs and user, the client lines and the per-call link estimate."""
    janus_config: pulumi.Output[str] | None
    """With audio/video: the janus.jcfg lines every Janus server needs."""

    def __init__(self, name: str, args: GlobalAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        config, edge = parse_args(args)
        super().__init__(f"{NAME}:index:GlobalAccess", name, None, opts)
        token = args.get("cloudflare_api_token")
        password = args.get("turn_password")
        inner = global_access.GlobalAccess(
            name,
            global_access.GlobalAccessArgs(
                config=config,
                edge=edge,
                cloudflare_api_token=None if token is None else pulumi.Output.secret(token),
                turn_password=None if password is None else pulumi.Output.secret(password),
            ),
            pulumi.ResourceOptions(parent=self),
        )
        present = inner.outputs()

        def output(key: str) -> pulumi.Output[Any] | None:
            return pulumi.Output.from_input(present[key]) if key in present else None

        self.backup_addresses = output("backup_addresses")
        self.node_config = output("node_config")
        self.backup_entries = output("backup_entries")
        self.port_map = output("port_map")
        self.access_points = output("access_points")
        self.cen = output("cen")
        self.service_domains = output("service_domains")
        self.object_storage = output("object_storage")
        self.media_config = output("media_config")
        self.turn_servers = output("turn_servers")
        self.janus_config = output("janus_config")
        self.register_outputs(present)


def _access_point_config(cluster: Cluster, access_point: AccessPoint) -> StackConfig:
    values, _ = _stack_values({"cluster": cluster, "access_points": [access_point]})
    try:
        return parse_stack_config(values)
    except ConfigError as err:
        raise pulumi.RunError(str(err)) from None


def _node_outputs(
    config: StackConfig, plan: AccessPointPlan, addresses: Mapping[tuple[str, str, str], pulumi.Output[str]]
) -> pulumi.Output[dict[str, Any]]:
    keys = list(addresses)
    return pulumi.Output.all(*addresses.values()).apply(
        lambda ips: node_outputs(config, [plan], dict(zip(keys, ips, strict=True)))
    )


def _resolved(values: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[dict[str, str]]:
    return pulumi.Output.all(**values)


def _by_carrier(addresses: Mapping[tuple[str, str, str], pulumi.Output[str]]) -> pulumi.Output[dict[str, str]]:
    return _resolved({f"{lb}/{zone}": ip for (_, lb, zone), ip in addresses.items()})


class AlicloudAccessPointArgs(TypedDict):
    """An Alibaba Cloud access point with the cluster it forwards to."""

    cluster: Cluster
    """The WildFire IM cluster, as in wfga:cluster."""
    access_point: AccessPoint
    """The access point, as one item of wfga:access_points; its cloud must be alicloud."""
    provider: alicloud.Provider
    """The Alibaba Cloud provider for the access point's region."""


class AlicloudAccessPoint(pulumi.ComponentResource):
    """One Alibaba Cloud access point: its VPC (or an existing one), EIPs, and NLBs with one TCP
    listener per node and service, or for kind vm, VMs running nginx stream.  The private link to the
    cluster (CEN or existing) is not part of it."""

    vpc_id: pulumi.Output[str]
    """The access point's VPC."""
    route_table_id: pulumi.Output[str]
    """The VPC route table that gets the route to the cluster."""
    vswitch_ids: pulumi.Output[dict[str, str]]
    """Per zone: the vSwitch."""
    load_balancer_ids: pulumi.Output[dict[str, str]]
    """Per load balancer (nlb-N) or VM (vm-N): its id."""
    public_ips: pulumi.Output[dict[str, str]]
    """Per load balancer and zone (nlb-1/ap-southeast-1a): the public IPv4 address."""
    backup_addresses: pulumi.Output[dict[str, str]]
    """Per node: this access point's server.backup_address entries, joined by commas."""
    node_config: pulumi.Output[dict[str, str]]
    """Per node: the server.backup_address line, if this is the cluster's only access point."""

    def __init__(self, name: str, args: AlicloudAccessPointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        config = _access_point_config(args["cluster"], args["access_point"])
        cluster, access_point = config.cluster, config.access_points[0]
        # Plan (and so validate) before registering anything.
        inner_args = (
            AlicloudVmAccessPointArgs.from_config(cluster, access_point, args["provider"])
            if access_point.kind == "vm"
            else AlicloudNlbAccessPointArgs.from_config(cluster, access_point, args["provider"])
        )
        super().__init__(f"{NAME}:index:AlicloudAccessPoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        inner = (
            AlicloudVmAccessPoint(name, inner_args, child)
            if isinstance(inner_args, AlicloudVmAccessPointArgs)
            else AlicloudNlbAccessPoint(name, inner_args, child)
        )
        self.vpc_id, self.route_table_id = inner.vpc_id, inner.route_table_id
        self.vswitch_ids = _resolved(inner.vswitch_ids)
        self.load_balancer_ids = _resolved(inner.load_balancer_ids)
        self.public_ips = _by_carrier(inner.addresses)
        nodes = _node_outputs(config, inner_args.plan, inner.addresses)
        self.backup_addresses, self.node_config = nodes["backup_addresses"], nodes["node_config"]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "route_table_id": self.route_table_id,
                "vswitch_ids": self.vswitch_ids,
                "load_balancer_ids": self.load_balancer_ids,
                "public_ips": self.public_ips,
                "backup_addresses": self.backup_addresses,
                "node_config": self.node_config,
            }
        )


class AwsAccessPointArgs(TypedDict):
    """An AWS access point with the cluster it forwards to."""

    cluster: Cluster
    """The WildFire IM cluster, as in wfga:cluster."""
    access_point: AccessPoint
    """The access point, as one item of wfga:access_points; its cloud must be aws."""
    provider: aws.Provider
    """The AWS provider; each resource names the access point's region itself."""


class AwsAccessPoint(pulumi.ComponentResource):
    """One AWS access point: its VPC with public subnets (or an existing one), EIPs, and NLBs with one
    TCP listener per node and service, or for kind vm, VMs running nginx stream.  The private link to
    the cluster (VPC peering or existing) is not part of it."""

    vpc_id: pulumi.Output[str]
    """The access point's VPC."""
    route_table_id: pulumi.Output[str]
    """The public route table that gets the route to the cluster."""
    subnet_ids: pulumi.Output[dict[str, str]]
    """Per zone: the public subnet."""
    load_balancer_ids: pulumi.Output[dict[str, str]]
    """Per load balancer (nlb-N) or VM (vm-N): its id."""
    public_ips: pulumi.Output[dict[str, str]]
    """Per load balancer and zone (nlb-1/us-west-2a): the public IPv4 address."""
    backup_addresses: pulumi.Output[dict[str, str]]
    """Per node: this access point's server.backup_address entries, joined by commas."""
    node_config: pulumi.Output[dict[str, str]]
    """Per node: the server.backup_address line, if this is the cluster's only access point."""

    def __init__(self, name: str, args: AwsAccessPointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        config = _access_point_config(args["cluster"], args["access_point"])
        cluster, access_point = config.cluster, config.access_points[0]
        # Plan (and so validate) before registering anything.
        inner_args = (
            AwsVmAccessPointArgs.from_config(cluster, access_point, args["provider"])
            if access_point.kind == "vm"
            else AwsNlbAccessPointArgs.from_config(cluster, access_point, args["provider"])
        )
        super().__init__(f"{NAME}:index:AwsAccessPoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        inner = (
            AwsVmAccessPoint(name, inner_args, child)
            if isinstance(inner_args, AwsVmAccessPointArgs)
            else AwsNlbAccessPoint(name, inner_args, child)
        )
        self.vpc_id, self.route_table_id = inner.vpc_id, inner.route_table_id
        self.subnet_ids = _resolved(inner.subnet_ids)
        self.load_balancer_ids = _resolved(inner.load_balancer_ids)
        self.public_ips = _by_carrier(inner.addresses)
        nodes = _node_outputs(config, inner_args.plan, inner.addresses)
        self.backup_addresses, self.node_config = nodes["backup_addresses"], nodes["node_config"]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "route_table_id": self.route_table_id,
                "subnet_ids": self.subnet_ids,
                "load_balancer_ids": self.load_balancer_ids,
                "public_ips": self.public_ips,
                "backup_addresses": self.backup_addresses,
                "node_config": self.node_config,
            }
        )


COMPONENTS: list[type[pulumi.ComponentResource]] = [GlobalAccess, AlicloudAccessPoint, AwsAccessPoint]


def serve() -> None:
    """Run the provider: the Pulumi engine starts ``package/`` with its address as the argument."""
    component_provider_host(COMPONENTS, NAME, version=VERSION)
