"""An AWS access point: public subnets, EIPs and NLBs with one TCP listener per (node x service)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from wfga.model.config import AccessPoint, Cluster
from wfga.plan.names import load_balancer_name, target_group_name
from wfga.plan.portplan import AccessPointPlan, LoadBalancerPlan, PortMapping, public_ingress

from .from_config import plan_for
from .networks import Network, aws_eip, aws_network


@dataclass(frozen=True)
class AwsNlbAccessPointArgs:
    plan: AccessPointPlan
    cluster_cidr: str
    provider: aws.Provider

    @classmethod
    def from_config(cls, cluster: Cluster, access_point: AccessPoint, provider: aws.Provider) -> AwsNlbAccessPointArgs:
        """Args from the user-facing models: plans the access point against its cluster, with the
        checks and messages of a stack file."""
        plan = plan_for("AwsNlbAccessPoint", "aws", "nlb", cluster, access_point)
        return cls(plan=plan, cluster_cidr=str(cluster.cidr), provider=provider)


class AwsNlbAccessPoint(pulumi.ComponentResource):
    """Owns everything of one access point in its region; peering and the cluster side live elsewhere."""

    # The VPC, its route table and subnets, for what else lives in the access point (TURN relays).
    network: Network
    vpc_id: pulumi.Output[str]
    route_table_id: pulumi.Output[str]
    subnet_ids: dict[str, pulumi.Output[str]]
    addresses: dict[tuple[str, str, str], pulumi.Output[str]]
    load_balancer_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AwsNlbAccessPointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:aws_nlb_access_point:AwsNlbAccessPoint", name, None, opts)
        self._name = name
        self._region = args.plan.config.region
        # The VPC as the stack file names it: replacing it replaces the target groups, so it is part of their names.
        self._vpc_identity = args.plan.config.vpc_id or str(args.plan.config.vpc_cidr)
        self._cluster_cidr = args.cluster_cidr
        self._child = pulumi.ResourceOptions(parent=self, provider=args.provider)

        network = aws_network(name, args.plan.config, self._child)
        self.network = network
        self.vpc_id, self.route_table_id, self.subnet_ids = network.vpc_id, network.route_table_id, network.subnet_ids
        self.addresses = {}
        self.load_balancer_ids = {}
        for lb in args.plan.load_balancers:
            self._load_balancer(lb, args.plan.config.idle_timeout_s)

        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "load_balancer_ids": self.load_balancer_ids,
                "public_ips": {f"{lb}/{zone}": ip for (_, lb, zone), ip in self.addresses.items()},
                "region": self._region,
            }
        )

    def _load_balancer(self, lb: LoadBalancerPlan, idle_timeout_s: int) -> None:
        prefix = f"{self._name}-{lb.key}"
        allocation_ids: dict[str, pulumi.Input[str]] = {}
        for zone in lb.zones:
            eip = aws_eip(f"{prefix}-eip-{zone}", lb, zone, self._region, self._child)
            allocation_ids[zone] = eip.allocation_id
            self.addresses[(lb.access_point, lb.key, zone)] = eip.address
        # An NLB takes security groups only when it is created; adding one later replaces it.
        group = aws.ec2.SecurityGroup(
            f"{prefix}-sg",
            # Named here: auto-named after an access point called "sg" it would begin with "sg-",
            # which EC2 refuses in a group name.
            name=f"wfga-{prefix}",
            vpc_id=self.vpc_id,
            description=f"wfga {prefix}: listener ports in, service ports to the cluster out",
            region=self._region,
            tags={"Name": f"wfga-{prefix}"},
            opts=self._child,
        )
        for rule in public_ingress(lb.mappings):
            aws.vpc.SecurityGroupIngressRule(
                f"{prefix}-in-{rule.key}",
                security_group_id=group.id,
                ip_protocol="tcp",
                from_port=rule.first_port,
                to_port=rule.last_port,
                cidr_ipv4=rule.cidr,
                description=f"wfga {rule.key.split('-')[0]} listeners",
                region=self._region,
                opts=self._child,
            )
        for target_port in sorted({m.target_port for m in lb.mappings}):
            aws.vpc.SecurityGroupEgressRule(
                f"{prefix}-out-{target_port}",
                security_group_id=group.id,
                ip_protocol="tcp",
                from_port=target_port,
                to_port=target_port,
                cidr_ipv4=self._cluster_cidr,
                description="wfga to the IM nodes",
                region=self._region,
                opts=self._child,
            )
        nlb = aws.lb.LoadBalancer(
            prefix,
            name=load_balancer_name(pulumi.get_project(), pulumi.get_stack(), lb.access_point, lb.key),
            load_balancer_type="network",
            internal=False,
            ip_address_type="ipv4",
            enable_cross_zone_load_balancing=True,
            security_groups=[group.id],
            subnet_mappings=[
                aws.lb.LoadBalancerSubnetMappingArgs(
                    subnet_id=self.subnet_ids[zone], allocation_id=allocation_ids[zone]
                )
                for zone in lb.zones
            ],
            region=self._region,
            tags={
                "Name": f"wfga-{prefix}",
                "wfga:access-point": lb.access_point,
                "wfga:load-balancer": lb.key,
                "wfga:stack": pulumi.get_stack(),
            },
            # Removing a zone or the security group replaces an NLB; the new one cannot take the EIPs (nor
            # the name) while the old one holds them, so the old one goes first (docs/safe-change.md).
            opts=pulumi.ResourceOptions.merge(
                self.network.gateway_opts(self._child), pulumi.ResourceOptions(delete_before_replace=True)
            ),
        )
        self.load_balancer_ids[lb.key] = nlb.arn
        for mapping in lb.mappings:
            self._listener(nlb, mapping, idle_timeout_s)

    def _listener(self, nlb: aws.lb.LoadBalancer, m: PortMapping, idle_timeout_s: int) -> None:
        prefix = f"{self._name}-{m.key}"
        group = aws.lb.TargetGroup(
            f"{prefix}-tg",
            name=target_group_name(
                pulumi.get_project(),
                pulumi.get_stack(),
                m.access_point,
                m.load_balancer,
                node=m.node,
                service=m.service,
                port=m.target_port,
                protocol="TCP",
                vpc=self._vpc_identity,
            ),
            port=m.target_port,
            protocol="TCP",
            target_type="ip",
            vpc_id=self.vpc_id,
            # Targets sit in a peered VPC: the nodes must see (and answer) the NLB's own addresses.
            preserve_client_ip="false",
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                protocol="TCP",
                port="traffic-port",
                interval=10,
                # AWS's TCP default timeout (10 s) is not below this interval, which the API refuses.
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=2,
            ),
            tags={
                "Name": f"wfga-{prefix}",
                "wfga:access-point": m.access_point,
                "wfga:load-balancer": m.load_balancer,
                "wfga:node": m.node,
                "wfga:service": m.service,
                "wfga:stack": pulumi.get_stack(),
            },
            region=self._region,
            opts=self._child,
        )
        aws.lb.TargetGroupAttachment(
            f"{prefix}-target",
            target_group_arn=group.arn,
            target_id=m.target_ip,
            port=m.target_port,
            # An IP outside the NLB's VPC (here: across the peering) must be registered for all zones.
            availability_zone="all",
            region=self._region,
            opts=self._child,
        )
        aws.lb.Listener(
            f"{prefix}-listener",
            load_balancer_arn=nlb.arn,
            port=m.public_port,
            protocol="TCP",
            tcp_idle_timeout_seconds=idle_timeout_s,
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=group.arn)],
            tags={"wfga:node": m.node, "wfga:service": m.service},
            region=self._region,
            opts=self._child,
        )
