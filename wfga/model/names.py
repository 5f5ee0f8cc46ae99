"""The resource names an access point's components will register, known before any is registered.

Components name each child ``<access point>-<stable key>``, where the key joins node names,
services, carrier keys and zones with dashes.  Joined names can collide: node ``im-ab`` on access
point ``sg`` and node ``ab`` on access point ``sg-im`` both give ``sg-im-ab-short-...``.  Pulumi
refuses two resources with one URN (same parent type, type and name), and the mocks would not, so
the config check lists every name here and refuses duplicates.  ``tests/test_resource_names.py`` holds this
list to what the offline plan registers, so it cannot drift from the components.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from wfga.model.base import port_ranges

if TYPE_CHECKING:
    from wfga.model.config import AccessPoint, Cluster

SERVICES = ("short", "long", "ws")

COMPONENT = {
    ("alicloud", "nlb"): "wfga:alicloud_nlb_access_point:AlicloudNlbAccessPoint",
    ("alicloud", "vm"): "wfga:alicloud_vm_access_point:AlicloudVmAccessPoint",
    ("aws", "nlb"): "wfga:aws_nlb_access_point:AwsNlbAccessPoint",
    ("aws", "vm"): "wfga:aws_vm_access_point:AwsVmAccessPoint",
}
CEN_LINK = "wfga:cen_link:CenLink"
VPC_PEERING = "wfga:vpc_peering:VpcPeering"
CLUSTER_INGRESS = "wfga:cluster_ingress:ClusterIngress"

# (parent component type, resource type, name)
Registration = tuple[str, str, str]


def _alicloud_network(ap: AccessPoint) -> Iterator[tuple[str, str]]:
    if ap.vpc_id is None:
        yield "alicloud:vpc/network:Network", f"{ap.name}-vpc"
        for zone in ap.zones:
            yield "alicloud:vpc/switch:Switch", f"{ap.name}-vsw-{zone}"


def _aws_network(ap: AccessPoint) -> Iterator[tuple[str, str]]:
    if ap.vpc_id is None:
        yield "aws:ec2/vpc:Vpc", f"{ap.name}-vpc"
        yield "aws:ec2/internetGateway:InternetGateway", f"{ap.name}-igw"
        yield "aws:ec2/routeTable:RouteTable", f"{ap.name}-public"
        yield "aws:ec2/route:Route", f"{ap.name}-default"
        for zone in ap.zones:
            yield "aws:ec2/subnet:Subnet", f"{ap.name}-subnet-{zone}"
            yield "aws:ec2/routeTableAssociation:RouteTableAssociation", f"{ap.name}-subnet-{zone}"


def _rule_keys(ap: AccessPoint, services: tuple[str, ...], slots: list[int], admin: bool) -> list[str]:
    keys = [
        f"{service}-{first}"
        for service in services
        for first, _ in port_ranges([ap.public_ports(slot)[service] for slot in slots])
    ]
    return keys + (["ssh-22"] if admin else [])


def _access_point(cluster: Cluster, ap: AccessPoint) -> Iterator[tuple[str, str]]:
    n = ap.name
    carriers = ap.carriers(cluster.nodes, len(cluster.listened_services))
    pinned = {(e.load_balancer, e.zone) for e in ap.pinned_eips}
    if ap.cloud == "alicloud":
        yield from _alicloud_network(ap)
    else:
        yield from _aws_network(ap)
    if ap.kind == "vm":
        assert ap.vm is not None
        cloud = "alicloud:ecs" if ap.cloud == "alicloud" else "aws:ec2"
        rule = "alicloud:ecs/securityGroupRule:SecurityGroupRule" if ap.cloud == "alicloud" else None
        yield f"{cloud}/securityGroup:SecurityGroup", f"{n}-sg"
        slots = [node.slot for node in cluster.nodes]
        for key in _rule_keys(ap, cluster.listened_services, slots, ap.vm.admin_cidr is not None):
            yield rule or "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", f"{n}-in-{key}"
        if ap.cloud == "aws":
            yield "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", f"{n}-out"
            # The instance profile that lets SSM deliver nginx configs.
            yield "aws:iam/role:Role", f"{n}-ssm"
            yield "aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"{n}-ssm"
            yield "aws:iam/instanceProfile:InstanceProfile", f"{n}-ssm"
        for number, (zones, _) in carriers.items():
            prefix = f"{n}-{ap.carrier_key(number)}"
            yield f"{cloud}/instance:Instance", prefix
            # The nginx config delivery: Cloud Assistant on Alibaba, SSM on AWS.
            if ap.cloud == "alicloud":
                yield "alicloud:ecs/command:Command", f"{prefix}-nginx"
                yield "alicloud:ecs/ecsInvocation:EcsInvocation", f"{prefix}-nginx"
            else:
                yield "aws:ssm/document:Document", f"{prefix}-nginx"
                yield "aws:ssm/association:Association", f"{prefix}-nginx"
            if (number, zones[0]) not in pinned:
                eip = "alicloud:ecs/eipAddress:EipAddress" if ap.cloud == "alicloud" else "aws:ec2/eip:Eip"
                yield eip, f"{prefix}-eip"
            yield f"{cloud}/eipAssociation:EipAssociation", f"{prefix}-eip"
        return
    for number, (zones, nodes) in carriers.items():
        prefix = f"{n}-{ap.carrier_key(number)}"
        for zone in zones:
            if (number, zone) not in pinned:
                eip = "alicloud:ecs/eipAddress:EipAddress" if ap.cloud == "alicloud" else "aws:ec2/eip:Eip"
                yield eip, f"{prefix}-eip-{zone}"
        if ap.cloud == "alicloud":
            yield "alicloud:nlb/loadBalancer:LoadBalancer", prefix
        else:
            yield "aws:ec2/securityGroup:SecurityGroup", f"{prefix}-sg"
            for key in _rule_keys(ap, cluster.listened_services, [node.slot for node in nodes], admin=False):
                yield "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", f"{prefix}-in-{key}"
            for port in sorted(set(cluster.service_ports.as_dict().values())):
                yield "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", f"{prefix}-out-{port}"
            yield "aws:lb/loadBalancer:LoadBalancer", prefix
        for node in nodes:
            for service in cluster.listened_services:
                listener = f"{n}-{node.name}-{service}"
                if ap.cloud == "alicloud":
                    yield "alicloud:nlb/serverGroup:ServerGroup", f"{listener}-sg"
                    yield (
                        "alicloud:nlb/serverGroupServerAttachment:ServerGroupServerAttachment",
                        f"{listener}-target",
                    )
                    yield "alicloud:nlb/listener:Listener", f"{listener}-listener"
                else:
                    yield "aws:lb/targetGroup:TargetGroup", f"{listener}-tg"
                    yield "aws:lb/targetGroupAttachment:TargetGroupAttachment", f"{listener}-target"
                    yield "aws:lb/listener:Listener", f"{listener}-listener"


def _links(cluster: Cluster, ap: AccessPoint) -> Iterator[tuple[str, str, str]]:
    n = ap.name
    if ap.link == "cen":
        cen = "alicloud:cen/"
        yield CEN_LINK, f"{cen}transitRouter:TransitRouter", f"{n}-tr"
        yield CEN_LINK, f"{cen}transitRouterRouteTable:TransitRouterRouteTable", f"{n}-rt"
        yield CEN_LINK, f"{cen}transitRouterVpcAttachment:TransitRouterVpcAttachment", f"{n}-vpc"
        yield CEN_LINK, f"{cen}transitRouterPeerAttachment:TransitRouterPeerAttachment", f"{n}-peer"
        for key in ("vpc", "peer", "peer-core"):
            yield (
                CEN_LINK,
                f"{cen}transitRouterRouteTableAssociation:TransitRouterRouteTableAssociation",
                f"{n}-{key}-assoc",
            )
            yield (
                CEN_LINK,
                f"{cen}transitRouterRouteTablePropagation:TransitRouterRouteTablePropagation",
                f"{n}-{key}-prop",
            )
        yield CEN_LINK, "alicloud:vpc/routeEntry:RouteEntry", f"{n}-route-to-cluster"
        for table in cluster.route_table_ids:
            yield CEN_LINK, "alicloud:vpc/routeEntry:RouteEntry", f"{n}-route-from-cluster-{table}"
    if ap.link == "vpc-peering":
        yield VPC_PEERING, "aws:ec2/vpcPeeringConnection:VpcPeeringConnection", f"{n}-peering"
        yield VPC_PEERING, "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter", f"{n}-accepter"
        yield VPC_PEERING, "aws:ec2/route:Route", f"{n}-route-to-cluster"
        for table in cluster.route_table_ids:
            yield VPC_PEERING, "aws:ec2/route:Route", f"{n}-route-from-cluster-{table}"
    if cluster.security_group_id is not None:
        rule = (
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
            if cluster.cloud == "aws"
            else "alicloud:ecs/securityGroupRule:SecurityGroupRule"
        )
        for service in SERVICES:
            yield CLUSTER_INGRESS, rule, f"{n}-{service}"


def registrations(cluster: Cluster, ap: AccessPoint) -> set[Registration]:
    """Every (parent type, type, name) the access point's components register."""
    component = COMPONENT[(ap.cloud, ap.kind)]
    found = {(component, type_, name) for type_, name in _access_point(cluster, ap)}
    return found | set(_links(cluster, ap))


def name_problems(cluster: Cluster, aps: list[tuple[str, AccessPoint]]) -> list[str]:
    """Names two access points would both register; ``aps`` pairs each with its key path."""
    owner: dict[Registration, str] = {}
    problems: list[str] = []
    reported: set[tuple[str, str]] = set()
    for path, ap in aps:
        for registration in sorted(registrations(cluster, ap)):
            first = owner.setdefault(registration, path)
            if first != path and (first, path) not in reported:
                reported.add((first, path))
                problems.append(
                    f"{path}.name: its resource {registration[2]} ({registration[1].rsplit(':', 1)[-1]}) is also "
                    f"{first}'s: the names joined with node names, zones and keys collide, and Pulumi refuses "
                    "two resources with one name; rename the access point (or the node)"
                )
    return problems
