"""An Alibaba Cloud access point: VPC, EIPs and NLBs with one TCP listener per (node x service)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud

from wfga.model.config import AccessPoint, Cluster
from wfga.plan.portplan import AccessPointPlan, LoadBalancerPlan, PortMapping

from .from_config import plan_for
from .networks import Network, alicloud_eip, alicloud_network


@dataclass(frozen=True)
class AlicloudNlbAccessPointArgs:
    plan: AccessPointPlan
    provider: alicloud.Provider

    @classmethod
    def from_config(
        cls, cluster: Cluster, access_point: AccessPoint, provider: alicloud.Provider
    ) -> AlicloudNlbAccessPointArgs:
        """Args from the user-facing models: plans the access point against its cluster, with the
        checks and messages of a stack file."""
        plan = plan_for("AlicloudNlbAccessPoint", "alicloud", "nlb", cluster, access_point)
        return cls(plan=plan, provider=provider)


class AlicloudNlbAccessPoint(pulumi.ComponentResource):
    """Owns everything of one access point in its region; the cluster side lives elsewhere."""

    # The VPC, its route table and subnets, for what else lives in the access point (TURN relays).
    network: Network
    vpc_id: pulumi.Output[str]
    route_table_id: pulumi.Output[str]
    vswitch_ids: dict[str, pulumi.Output[str]]
    addresses: dict[tuple[str, str, str], pulumi.Output[str]]
    load_balancer_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AlicloudNlbAccessPointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:alicloud_nlb_access_point:AlicloudNlbAccessPoint", name, None, opts)
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        ap = args.plan.config
        self._eip_bandwidth_mbps = ap.eip_bandwidth_mbps

        network = alicloud_network(name, ap, self._child)
        self.network = network
        self.vpc_id, self.route_table_id, self.vswitch_ids = network.vpc_id, network.route_table_id, network.subnet_ids
        self.addresses = {}
        self.load_balancer_ids = {}
        for lb in args.plan.load_balancers:
            self._load_balancer(lb)

        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "load_balancer_ids": self.load_balancer_ids,
                "public_ips": {f"{lb}/{zone}": ip for (_, lb, zone), ip in self.addresses.items()},
                "region": ap.region,
            }
        )

    def _load_balancer(self, lb: LoadBalancerPlan) -> None:
        prefix = f"{self._name}-{lb.key}"
        allocation_ids: dict[str, pulumi.Input[str]] = {}
        for zone in lb.zones:
            eip = alicloud_eip(f"{prefix}-eip-{zone}", lb, zone, self._eip_bandwidth_mbps, self._child)
            allocation_ids[zone] = eip.allocation_id
            self.addresses[(lb.access_point, lb.key, zone)] = eip.address
        nlb = alicloud.nlb.LoadBalancer(
            prefix,
            load_balancer_name=f"wfga-{prefix}",
            load_balancer_type="Network",
            address_type="Internet",
            address_ip_version="ipv4",
            vpc_id=self.vpc_id,
            cross_zone_enabled=True,
            zone_mappings=[
                alicloud.nlb.LoadBalancerZoneMappingArgs(
                    zone_id=zone, vswitch_id=self.vswitch_ids[zone], allocation_id=allocation_ids[zone]
                )
                for zone in lb.zones
            ],
            # A replacement cannot bind the EIPs while the old NLB holds them: the old one goes first.
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(delete_before_replace=True)),
        )
        self.load_balancer_ids[lb.key] = nlb.id
        for mapping in lb.mappings:
            self._listener(nlb, mapping)

    def _listener(self, nlb: alicloud.nlb.LoadBalancer, m: PortMapping) -> None:
        prefix = f"{self._name}-{m.key}"
        group = alicloud.nlb.ServerGroup(
            f"{prefix}-sg",
            server_group_name=f"wfga-{prefix}",
            server_group_type="Ip",
            protocol="TCP",
            vpc_id=self.vpc_id,
            scheduler="Wrr",
            health_check=alicloud.nlb.ServerGroupHealthCheckArgs(
                health_check_enabled=True,
                health_check_type="TCP",
                health_check_connect_timeout=5,
                health_check_interval=10,
                healthy_threshold=2,
                unhealthy_threshold=2,
            ),
            opts=self._child,
        )
        alicloud.nlb.ServerGroupServerAttachment(
            f"{prefix}-target",
            server_group_id=group.id,
            server_type="Ip",
            server_id=m.target_ip,
            server_ip=m.target_ip,
            port=m.target_port,
            # Alibaba allows letters, digits and , . ; / @ _ - here: no spaces.
            description=f"wfga/{m.node}/{m.service}",
            opts=self._child,
        )
        alicloud.nlb.Listener(
            f"{prefix}-listener",
            load_balancer_id=nlb.id,
            listener_protocol="TCP",
            listener_port=m.public_port,
            server_group_id=group.id,
            idle_timeout=m.idle_timeout_s,
            listener_description=f"wfga/{m.access_point}/{m.node}/{m.service}",
            opts=self._child,
        )
