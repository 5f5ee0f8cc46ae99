"""One access point's half of the CEN link: its transit router, attachments and routes both ways."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud

from wfga.model.config import AccessPoint, Cluster

from .cen_core import CenIds


@dataclass(frozen=True)
class CenLinkArgs:
    access_point: AccessPoint
    cluster: Cluster
    core: CenIds
    vpc_id: pulumi.Input[str]
    route_table_id: pulumi.Input[str]
    vswitch_ids: dict[str, pulumi.Output[str]]
    provider: alicloud.Provider
    cluster_provider: alicloud.Provider


class CenLink(pulumi.ComponentResource):
    """Everything one access point adds to CEN, so removing it touches no other access point."""

    def __init__(self, name: str, args: CenLinkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:cen_link:CenLink", name, None, opts)
        local = pulumi.ResourceOptions(parent=self, provider=args.provider)
        remote = pulumi.ResourceOptions(parent=self, provider=args.cluster_provider)
        ap, cluster, core = args.access_point, args.cluster, args.core

        router = alicloud.cen.TransitRouter(
            f"{name}-tr",
            cen_id=core.cen_id,
            transit_router_name=f"wfga-{ap.name}-{ap.region}",
            opts=local,
        )
        table = alicloud.cen.TransitRouterRouteTable(
            f"{name}-rt",
            transit_router_id=router.transit_router_id,
            transit_router_route_table_name=f"wfga-{ap.name}",
            opts=local,
        )
        vpc_attachment = alicloud.cen.TransitRouterVpcAttachment(
            f"{name}-vpc",
            cen_id=core.cen_id,
            transit_router_id=router.transit_router_id,
            vpc_id=args.vpc_id,
            zone_mappings=[
                alicloud.cen.TransitRouterVpcAttachmentZoneMappingArgs(zone_id=zone, vswitch_id=vsw)
                for zone, vsw in args.vswitch_ids.items()
            ],
            transit_router_vpc_attachment_name=f"wfga-{ap.name}",
            opts=local,
        )
        peer = alicloud.cen.TransitRouterPeerAttachment(
            f"{name}-peer",
            cen_id=core.cen_id,
            transit_router_id=router.transit_router_id,
            peer_transit_router_id=core.transit_router_id,
            peer_transit_router_region_id=cluster.region,
            bandwidth_type="DataTransfer",
            bandwidth=ap.cen_bandwidth_mbps,
            transit_router_peer_attachment_name=f"wfga-{ap.name}-{cluster.name}",
            opts=local,
        )
        # The peer attachment is seen by both routers: it must learn and carry routes on each side.
        for key, attachment_id, table_id, side in (
            ("vpc", vpc_attachment.transit_router_attachment_id, table.transit_router_route_table_id, local),
            ("peer", peer.transit_router_attachment_id, table.transit_router_route_table_id, local),
            ("peer-core", peer.transit_router_attachment_id, core.route_table_id, remote),
        ):
            alicloud.cen.TransitRouterRouteTableAssociation(
                f"{name}-{key}-assoc",
                transit_router_attachment_id=attachment_id,
                transit_router_route_table_id=table_id,
                opts=side,
            )
            alicloud.cen.TransitRouterRouteTablePropagation(
                f"{name}-{key}-prop",
                transit_router_attachment_id=attachment_id,
                transit_router_route_table_id=table_id,
                opts=side,
            )
        alicloud.vpc.RouteEntry(
            f"{name}-route-to-cluster",
            route_table_id=args.route_table_id,
            destination_cidrblock=str(cluster.cidr),
            nexthop_type="Attachment",
            nexthop_id=vpc_attachment.transit_router_attachment_id,
            name=f"wfga-to-{cluster.name}",
            opts=local,
        )
        for cluster_table in cluster.route_table_ids:
            alicloud.vpc.RouteEntry(
                f"{name}-route-from-cluster-{cluster_table}",
                route_table_id=cluster_table,
                destination_cidrblock=str(ap.vpc_cidr),
                nexthop_type="Attachment",
                nexthop_id=core.vpc_attachment_id,
                name=f"wfga-to-{ap.name}",
                opts=remote,
            )
        self.transit_router_id = router.transit_router_id
        self.peer_attachment_id = peer.transit_router_attachment_id
        self.register_outputs(
            {"transit_router_id": self.transit_router_id, "peer_attachment_id": self.peer_attachment_id}
        )
