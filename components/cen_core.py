"""The shared half of the CEN link: one CEN instance and the cluster's transit router."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud

from wfga.model.config import Cluster


@dataclass(frozen=True)
class CenIds:
    """What an access point's link needs from the core, whether built here or read from a stack."""

    cen_id: pulumi.Input[str]
    transit_router_id: pulumi.Input[str]
    route_table_id: pulumi.Input[str]
    vpc_attachment_id: pulumi.Input[str]

    def as_output(self) -> dict[str, pulumi.Input[str]]:
        return {
            "cen_id": self.cen_id,
            "transit_router_id": self.transit_router_id,
            "route_table_id": self.route_table_id,
            "vpc_attachment_id": self.vpc_attachment_id,
        }


@dataclass(frozen=True)
class CenCoreArgs:
    cluster: Cluster
    provider: alicloud.Provider


class CenCore(pulumi.ComponentResource):
    """CEN instance, cluster-region transit router with its own route table, cluster VPC attachment."""

    ids: CenIds

    def __init__(self, name: str, args: CenCoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:cen_core:CenCore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        cluster = args.cluster

        cen = alicloud.cen.Instance(
            f"{name}-instance",
            cen_instance_name=f"wfga-{cluster.name}",
            description="wfga: links access points to the WildFire IM cluster",
            opts=child,
        )
        router = alicloud.cen.TransitRouter(
            f"{name}-tr-{cluster.region}",
            cen_id=cen.id,
            transit_router_name=f"wfga-{cluster.name}-{cluster.region}",
            opts=child,
        )
        # A route table of our own keeps wfga's routes apart from whatever else uses the router.
        table = alicloud.cen.TransitRouterRouteTable(
            f"{name}-rt-{cluster.region}",
            transit_router_id=router.transit_router_id,
            transit_router_route_table_name=f"wfga-{cluster.name}",
            opts=child,
        )
        attachment = alicloud.cen.TransitRouterVpcAttachment(
            f"{name}-vpc-{cluster.name}",
            cen_id=cen.id,
            transit_router_id=router.transit_router_id,
            vpc_id=cluster.vpc_id,
            zone_mappings=[
                alicloud.cen.TransitRouterVpcAttachmentZoneMappingArgs(zone_id=zone, vswitch_id=vsw)
                for zone, vsw in cluster.attach_vswitches.items()
            ],
            transit_router_vpc_attachment_name=f"wfga-{cluster.name}",
            opts=child,
        )
        alicloud.cen.TransitRouterRouteTableAssociation(
            f"{name}-vpc-{cluster.name}-assoc",
            transit_router_attachment_id=attachment.transit_router_attachment_id,
            transit_router_route_table_id=table.transit_router_route_table_id,
            opts=child,
        )
        alicloud.cen.TransitRouterRouteTablePropagation(
            f"{name}-vpc-{cluster.name}-prop",
            transit_router_attachment_id=attachment.transit_router_attachment_id,
            transit_router_route_table_id=table.transit_router_route_table_id,
            opts=child,
        )
        self.ids = CenIds(
            cen_id=cen.id,
            transit_router_id=router.transit_router_id,
            route_table_id=table.transit_router_route_table_id,
            vpc_attachment_id=attachment.transit_router_attachment_id,
        )
        self.register_outputs(self.ids.as_output())
