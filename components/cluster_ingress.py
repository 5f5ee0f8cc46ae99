"""Cluster-side security group rules that admit one access point to the listened service ports only,
and, when the access point has a TURN relay, to Janus's RTP range (UDP)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws

from wfga.model.av import Janus
from wfga.model.config import AccessPoint, Cluster
from wfga.plan.portplan import listened_services
from wfga.plan.turn import janus_ingress


@dataclass(frozen=True)
class ClusterIngressArgs:
    access_point: AccessPoint
    cluster: Cluster
    security_group_id: str
    cluster_provider: alicloud.Provider | aws.Provider
    # Set when the access point has a TURN relay: its relays reach Janus's RTP ports over the link.
    janus: Janus | None = None


class ClusterIngress(pulumi.ComponentResource):
    """CIDR rules, because a security group cannot be referenced across regions (or clouds)."""

    def __init__(self, name: str, args: ClusterIngressArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:cluster_ingress:ClusterIngress", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.cluster_provider)
        ap, cluster = args.access_point, args.cluster
        # Without web clients no listener forwards to the ws port, so it stays closed.
        for service in listened_services(cluster):
            port = getattr(cluster.service_ports, service)
            description = f"wfga access point {ap.name} to {service}"
            if cluster.cloud == "aws":
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-{service}",
                    security_group_id=args.security_group_id,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_ipv4=str(ap.vpc_cidr),
                    description=description,
                    region=cluster.region,
                    opts=child,
                )
                continue
            alicloud.ecs.SecurityGroupRule(
                f"{name}-{service}",
                security_group_id=args.security_group_id,
                type="ingress",
                ip_protocol="tcp",
                nic_type="intranet",
                policy="accept",
                port_range=f"{port}/{port}",
                cidr_ip=str(ap.vpc_cidr),
                description=description,
                opts=child,
            )
        if args.janus is not None:
            rule = janus_ingress(args.janus, ap.name, str(ap.vpc_cidr))
            # "wfga access point ...": the policy pack holds it to the access points' CIDRs, like the IM ports.
            description = f"wfga access point {ap.name} TURN relays to Janus RTP"
            if cluster.cloud == "aws":
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-rtp",
                    security_group_id=args.security_group_id,
                    ip_protocol=rule.protocol,
                    from_port=rule.first_port,
                    to_port=rule.last_port,
                    cidr_ipv4=rule.cidr,
                    description=description,
                    region=cluster.region,
                    opts=child,
                )
            else:
                alicloud.ecs.SecurityGroupRule(
                    f"{name}-rtp",
                    security_group_id=args.security_group_id,
                    type="ingress",
                    ip_protocol=rule.protocol,
                    nic_type="intranet",
                    policy="accept",
                    port_range=f"{rule.first_port}/{rule.last_port}",
                    cidr_ip=rule.cidr,
                    description=description,
                    opts=child,
                )
        self.register_outputs({})
