"""Inter-region VPC peering from an AWS access point to an AWS cluster, with routes both ways."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from wfga.model.config import AccessPoint, Cluster


@dataclass(frozen=True)
class VpcPeeringArgs:
    access_point: AccessPoint
    cluster: Cluster
    vpc_id: pulumi.Input[str]
    route_table_id: pulumi.Input[str]
    provider: aws.Provider


class VpcPeering(pulumi.ComponentResource):
    """Requester in the access point's region, accepter in the cluster's."""

    def __init__(self, name: str, args: VpcPeeringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:vpc_peering:VpcPeering", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        ap, cluster = args.access_point, args.cluster
        tags = {"Name": f"wfga-{ap.name}-{cluster.name}"}

        connection = aws.ec2.VpcPeeringConnection(
            f"{name}-peering",
            vpc_id=args.vpc_id,
            peer_vpc_id=cluster.vpc_id,
            peer_region=cluster.region,
            # Cross-region peering cannot be auto-accepted by the requester; the accepter does it.
            auto_accept=False,
            region=ap.region,
            tags=tags,
            opts=child,
        )
        accepter = aws.ec2.VpcPeeringConnectionAccepter(
            f"{name}-accepter",
            vpc_peering_connection_id=connection.id,
            auto_accept=True,
            region=cluster.region,
            tags=tags,
            opts=child,
        )
        aws.ec2.Route(
            f"{name}-route-to-cluster",
            route_table_id=args.route_table_id,
            destination_cidr_block=str(cluster.cidr),
            vpc_peering_connection_id=accepter.vpc_peering_connection_id,
            region=ap.region,
            opts=child,
        )
        for table in cluster.route_table_ids:
            aws.ec2.Route(
                f"{name}-route-from-cluster-{table}",
                route_table_id=table,
                destination_cidr_block=str(ap.vpc_cidr),
                vpc_peering_connection_id=accepter.vpc_peering_connection_id,
                region=cluster.region,
                opts=child,
            )
        self.peering_connection_id = connection.id
        self.register_outputs({"peering_connection_id": self.peering_connection_id})
