"""Cluster-side security group rules that admit one access point to the three service ports only."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud

from wfga.config import AccessPoint, Cluster
from wfga.portplan import SERVICES


@dataclass(frozen=True)
class ClusterIngressArgs:
    access_point: AccessPoint
    cluster: Cluster
    security_group_id: str
    cluster_provider: alicloud.Provider


class ClusterIngress(pulumi.ComponentResource):
    def __init__(self, name: str, args: ClusterIngressArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:cluster_ingress:ClusterIngress", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.cluster_provider)
        ap, cluster = args.access_point, args.cluster
        for service in SERVICES:
            port = getattr(cluster.service_ports, service)
            alicloud.ecs.SecurityGroupRule(
                f"{name}-{service}",
                security_group_id=args.security_group_id,
                type="ingress",
                ip_protocol="tcp",
                nic_type="intranet",
                policy="accept",
                port_range=f"{port}/{port}",
                cidr_ip=str(ap.vpc_cidr),
                description=f"wfga access point {ap.name} to {service}",
                opts=child,
            )
        self.register_outputs({})
