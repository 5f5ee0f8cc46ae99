"""The access point's own VPC, shared by the NLB and VM components of each cloud.

Plain functions, not components: the resources they create belong to the calling component
(``opts`` carries its ``parent``), so an NLB access point's resource names and URNs are the same
whichever kind uses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws

from wfga.model.config import AccessPoint
from wfga.plan.portplan import LoadBalancerPlan, vswitch_cidr


@dataclass(frozen=True)
class Network:
    vpc_id: pulumi.Output[str]
    route_table_id: pulumi.Output[str]
    subnet_ids: dict[str, pulumi.Output[str]]  # zone -> vSwitch (Alibaba) or public subnet (AWS)
    # AWS, in a VPC created here: what owns a public address must wait for it (see gateway_opts).
    internet_gateway: pulumi.Resource | None = None
    # AWS, in a VPC created here: per zone, the default route and the subnet's route table
    # association that give a VM the internet at its first boot (see boot_opts).
    internet_routes: dict[str, list[pulumi.Resource]] = field(default_factory=dict)

    def gateway_opts(self, opts: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
        """``opts`` plus a dependency on the internet gateway, when this network created one.

        AWS refuses an internet-facing load balancer or an EIP association while the VPC has no
        gateway attached yet ("VPC ... has no internet gateway"), and nothing else orders them.
        """
        if self.internet_gateway is None:
            return opts
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[self.internet_gateway]))

    def boot_opts(self, opts: pulumi.ResourceOptions, zone: str) -> pulumi.ResourceOptions:
        """``opts`` plus dependencies on the gateway and the zone's route to it, when this network made them.

        cloud-init installs packages at the first boot; an instance launched before its subnet routes
        to the internet gateway finds no mirror, and nothing else orders the route before the instance.
        """
        path = ([self.internet_gateway] if self.internet_gateway is not None else []) + self.internet_routes.get(
            zone, []
        )
        if not path:
            return opts
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=path))


def _existing(ap: AccessPoint, subnets: dict[str, str] | None) -> Network | None:
    if ap.vpc_id is None or subnets is None or ap.route_table_id is None:
        return None
    return Network(
        vpc_id=pulumi.Output.from_input(ap.vpc_id),
        route_table_id=pulumi.Output.from_input(ap.route_table_id),
        subnet_ids={zone: pulumi.Output.from_input(v) for zone, v in subnets.items()},
    )


def alicloud_network(name: str, ap: AccessPoint, opts: pulumi.ResourceOptions) -> Network:
    existing = _existing(ap, ap.vswitches)
    if existing is not None:
        return existing
    vpc = alicloud.vpc.Network(
        f"{name}-vpc",
        vpc_name=f"wfga-{name}",
        cidr_block=str(ap.vpc_cidr),
        description="wfga access point",
        opts=opts,
    )
    switches = {
        zone: alicloud.vpc.Switch(
            f"{name}-vsw-{zone}",
            vswitch_name=f"wfga-{name}-{zone}",
            vpc_id=vpc.id,
            zone_id=zone,
            cidr_block=str(vswitch_cidr(ap.vpc_cidr, ap.region, zone)),
            opts=opts,
        ).id
        for zone in ap.zones
    }
    return Network(vpc_id=vpc.id, route_table_id=vpc.route_table_id, subnet_ids=switches)


def aws_network(name: str, ap: AccessPoint, opts: pulumi.ResourceOptions) -> Network:
    existing = _existing(ap, ap.subnets)
    if existing is not None:
        return existing
    tags = {"Name": f"wfga-{name}", "wfga:access-point": name}
    vpc = aws.ec2.Vpc(
        f"{name}-vpc",
        cidr_block=str(ap.vpc_cidr),
        enable_dns_support=True,
        enable_dns_hostnames=True,
        region=ap.region,
        tags=tags,
        opts=opts,
    )
    gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, region=ap.region, tags=tags, opts=opts)
    table = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id, region=ap.region, tags=tags, opts=opts)
    default_route = aws.ec2.Route(
        f"{name}-default",
        route_table_id=table.id,
        destination_cidr_block="0.0.0.0/0",
        gateway_id=gateway.id,
        region=ap.region,
        opts=opts,
    )
    subnets: dict[str, pulumi.Output[str]] = {}
    routes: dict[str, list[pulumi.Resource]] = {}
    for zone in ap.zones:
        subnet = aws.ec2.Subnet(
            f"{name}-subnet-{zone}",
            vpc_id=vpc.id,
            availability_zone=zone,
            cidr_block=str(vswitch_cidr(ap.vpc_cidr, ap.region, zone)),
            region=ap.region,
            tags={**tags, "Name": f"wfga-{name}-{zone}"},
            opts=opts,
        )
        association = aws.ec2.RouteTableAssociation(
            f"{name}-subnet-{zone}",
            route_table_id=table.id,
            subnet_id=subnet.id,
            region=ap.region,
            opts=opts,
        )
        subnets[zone] = subnet.id
        routes[zone] = [default_route, association]
    return Network(
        vpc_id=vpc.id, route_table_id=table.id, subnet_ids=subnets, internet_gateway=gateway, internet_routes=routes
    )


@dataclass(frozen=True)
class PublicAddress:
    allocation_id: pulumi.Input[str]
    address: pulumi.Output[str]


def _pinned(carrier: LoadBalancerPlan, zone: str) -> PublicAddress | None:
    pinned = carrier.pinned.get(zone)
    if pinned is None:
        return None
    return PublicAddress(pinned.allocation_id, pulumi.Output.from_input(str(pinned.address)))


# Every EIP wfga creates is protected: its address is written into every node's wildfirechat.conf
# (or, for TURN, into every app), so neither a refactor nor a stray `pulumi destroy` may release it.
_PROTECT = pulumi.ResourceOptions(protect=True)


def alicloud_eip(
    name: str, carrier: LoadBalancerPlan, zone: str, bandwidth_mbps: int, opts: pulumi.ResourceOptions
) -> PublicAddress:
    """The EIP for ``zone`` of an NLB or VM: the pinned one, or a new, protected one."""
    pinned = _pinned(carrier, zone)
    if pinned is not None:
        return pinned
    return new_alicloud_eip(
        name, bandwidth_mbps, f"wfga access point {carrier.access_point} {carrier.key} {zone}", opts
    )


def new_alicloud_eip(name: str, bandwidth_mbps: int, description: str, opts: pulumi.ResourceOptions) -> PublicAddress:
    """A new, protected EIP named ``wfga-<name>``, pay-by-traffic (the only metering an NLB takes)."""
    eip = alicloud.ecs.EipAddress(
        name,
        address_name=f"wfga-{name}",
        bandwidth=str(bandwidth_mbps),
        internet_charge_type="PayByTraffic",
        payment_type="PayAsYouGo",
        description=description,
        opts=pulumi.ResourceOptions.merge(opts, _PROTECT),
    )
    return PublicAddress(eip.id, eip.ip_address)


def aws_eip(
    name: str, carrier: LoadBalancerPlan, zone: str, region: str, opts: pulumi.ResourceOptions
) -> PublicAddress:
    """The EIP for ``zone`` of an NLB or VM: the pinned one, or a new, protected one."""
    pinned = _pinned(carrier, zone)
    if pinned is not None:
        return pinned
    return new_aws_eip(name, region, opts)


def new_aws_eip(name: str, region: str, opts: pulumi.ResourceOptions) -> PublicAddress:
    """A new, protected VPC EIP tagged ``wfga-<name>``."""
    eip = aws.ec2.Eip(
        name,
        domain="vpc",
        region=region,
        tags={"Name": f"wfga-{name}"},
        opts=pulumi.ResourceOptions.merge(opts, _PROTECT),
    )
    return PublicAddress(eip.allocation_id, eip.public_ip)
