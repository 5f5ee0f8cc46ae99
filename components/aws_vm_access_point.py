"""An AWS VM access point: EC2 instances running nginx `stream`, each with its own EIP."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from wfga.model.config import AccessPoint, Cluster
from wfga.model.images import IMAGES
from wfga.plan.cloudinit import render_user_data
from wfga.plan.portplan import AccessPointPlan, public_ingress

from .from_config import plan_for
from .networks import aws_eip, aws_network


@dataclass(frozen=True)
class AwsVmAccessPointArgs:
    plan: AccessPointPlan
    provider: aws.Provider

    @classmethod
    def from_config(cls, cluster: Cluster, access_point: AccessPoint, provider: aws.Provider) -> AwsVmAccessPointArgs:
        """Args from the user-facing models: plans the access point against its cluster, with the
        checks and messages of a stack file."""
        plan = plan_for("AwsVmAccessPoint", "aws", "vm", cluster, access_point)
        return cls(plan=plan, provider=provider)


class AwsVmAccessPoint(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    route_table_id: pulumi.Output[str]
    subnet_ids: dict[str, pulumi.Output[str]]
    addresses: dict[tuple[str, str, str], pulumi.Output[str]]
    load_balancer_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AwsVmAccessPointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:aws_vm_access_point:AwsVmAccessPoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        plan = args.plan
        ap = plan.config
        assert ap.vm is not None
        region = ap.region
        network = aws_network(name, ap, child)
        self.vpc_id, self.route_table_id, self.subnet_ids = network.vpc_id, network.route_table_id, network.subnet_ids

        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            # Named here: auto-named after an access point called "sg" it would begin with "sg-",
            # which EC2 refuses in a group name.
            name=f"wfga-{name}",
            vpc_id=self.vpc_id,
            description=f"wfga VM access point {name}: mapped ports only",
            region=region,
            tags={"Name": f"wfga-{name}"},
            opts=child,
        )
        admin = str(ap.vm.admin_cidr) if ap.vm.admin_cidr is not None else None
        for rule in public_ingress(plan.mappings, admin):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-in-{rule.key}",
                security_group_id=group.id,
                ip_protocol="tcp",
                from_port=rule.first_port,
                to_port=rule.last_port,
                cidr_ipv4=rule.cidr,
                description=f"wfga {rule.key}",
                region=region,
                opts=child,
            )
        # nginx reaches the nodes over the link, and cloud-init the distribution's package mirrors.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-out",
            security_group_id=group.id,
            ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0",
            description="wfga: nodes and package mirrors",
            region=region,
            opts=child,
        )

        ami: pulumi.Input[str]
        if ap.vm.image_id is not None:
            ami = ap.vm.image_id
        else:
            query = IMAGES[(ap.cloud, ap.vm.distro)]
            ami = aws.ec2.get_ami_output(
                most_recent=True,
                owners=list(query.owners),
                filters=[aws.ec2.GetAmiFilterArgs(name="name", values=[query.name])],
                region=region,
                opts=pulumi.InvokeOutputOptions(provider=args.provider, parent=self),
            ).id

        self.addresses = {}
        self.load_balancer_ids = {}
        for vm in plan.load_balancers:
            (zone,) = vm.zones
            prefix = f"{name}-{vm.key}"
            instance = aws.ec2.Instance(
                prefix,
                ami=ami,
                instance_type=ap.vm.instance_type,
                subnet_id=self.subnet_ids[zone],
                vpc_security_group_ids=[group.id],
                user_data=render_user_data(list(vm.mappings), distro=ap.vm.distro, connections=ap.vm.connections),
                associate_public_ip_address=False,
                metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"),
                region=region,
                tags={"Name": f"wfga-{prefix}"},
                opts=child,
            )
            eip = aws_eip(f"{prefix}-eip", vm, zone, region, child)
            self.addresses[(ap.name, vm.key, zone)] = eip.address
            aws.ec2.EipAssociation(
                f"{prefix}-eip",
                allocation_id=eip.allocation_id,
                instance_id=instance.id,
                region=region,
                opts=network.gateway_opts(child),
            )
            self.load_balancer_ids[vm.key] = instance.id

        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "instance_ids": self.load_balancer_ids,
                "public_ips": {f"{key}/{zone}": ip for (_, key, zone), ip in self.addresses.items()},
                "region": region,
            }
        )
