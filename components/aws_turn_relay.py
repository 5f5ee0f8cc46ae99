"""The TURN relay of an AWS access point: EC2 instances running coturn, each with its own EIP.

They live in the access point's VPC and public subnets, so they reach Janus over the access point's
private link.  The security group admits the TURN port(s) from anywhere and the relay range from
the cluster only (``wfga.plan.turn.turn_ingress``).  The user data holds the TURN credential key
and is passed as a secret.

A config change replaces the instance (``user_data_replace_on_change``): cloud-init writes the
config only on a VM's first boot, and a changed user data would only stop and start the instance
with the old one.  coturn restarts on any config change anyway (it cannot reload its listeners), so
the calls on that server reconnect either way; the EIP, and so the address in every app, stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from wfga.model.av import AvConfig
from wfga.model.config import AccessPoint
from wfga.model.images import IMAGES
from wfga.plan.turn import render_turn_user_data, turn_ingress, turn_spec, turn_vms

from .networks import Network, PublicAddress, new_aws_eip


@dataclass(frozen=True)
class AwsTurnRelayArgs:
    access_point: AccessPoint
    av: AvConfig
    cluster_cidr: str
    # The access point's VPC (its component's ``network``).
    network: Network
    # The shared TURN password (wfga:turn_password); kept secret, only its key reaches the VM.
    turn_password: pulumi.Input[str]
    provider: aws.Provider


class AwsTurnRelay(pulumi.ComponentResource):
    addresses: dict[str, pulumi.Output[str]]  # turn-N -> public address
    instance_ids: dict[str, pulumi.Output[str]]
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: AwsTurnRelayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:aws_turn_relay:AwsTurnRelay", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        ap, av, network = args.access_point, args.av, args.network
        servers = av.access_points[ap.name]
        region = ap.region
        prefix = f"{name}-turn"

        group = aws.ec2.SecurityGroup(
            f"{prefix}-sg",
            # Named: auto-named after an access point called "sg" it would begin with "sg-",
            # which EC2 refuses in a group name.
            name=f"wfga-{prefix}",
            vpc_id=network.vpc_id,
            description=f"wfga TURN relay {name}: TURN from anywhere, relay ports from the cluster",
            region=region,
            tags={"Name": f"wfga-{prefix}"},
            opts=child,
        )
        self.security_group_id = group.id
        admin = str(servers.admin_cidr) if servers.admin_cidr is not None else None
        for rule in turn_ingress(av, args.cluster_cidr, admin):
            aws.vpc.SecurityGroupIngressRule(
                f"{prefix}-in-{rule.key}",
                security_group_id=group.id,
                ip_protocol=rule.protocol,
                from_port=rule.first_port,
                to_port=rule.last_port,
                cidr_ipv4=rule.cidr,
                description=f"wfga {rule.key}",
                region=region,
                opts=child,
            )
        # coturn relays to Janus over the link; cloud-init reaches the distribution's package mirrors.
        # (A security group created through the API keeps no default egress rule.)
        aws.vpc.SecurityGroupEgressRule(
            f"{prefix}-out",
            security_group_id=group.id,
            ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0",
            description="wfga: Janus and package mirrors",
            region=region,
            opts=child,
        )

        ami: pulumi.Input[str]
        if servers.image_id is not None:
            ami = servers.image_id
        else:
            query = IMAGES[(ap.cloud, servers.distro)]
            ami = aws.ec2.get_ami_output(
                most_recent=True,
                owners=list(query.owners),
                filters=[aws.ec2.GetAmiFilterArgs(name="name", values=[query.name])],
                region=region,
                opts=pulumi.InvokeOutputOptions(provider=args.provider, parent=self),
            ).id

        spec = turn_spec(av)
        distro = servers.distro
        # Output.secret: whatever the caller passes, the user data (which holds the key) stays secret.
        user_data = pulumi.Output.secret(args.turn_password).apply(
            lambda password: render_turn_user_data(spec, password=password, distro=distro)
        )
        self.addresses = {}
        self.instance_ids = {}
        for vm in turn_vms(ap, servers):
            key = f"{name}-{vm.key}"
            instance = aws.ec2.Instance(
                key,
                ami=ami,
                instance_type=servers.instance_type,
                subnet_id=network.subnet_ids[vm.zone],
                vpc_security_group_ids=[group.id],
                user_data=user_data,
                user_data_replace_on_change=True,
                associate_public_ip_address=False,
                metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"),
                region=region,
                tags={"Name": f"wfga-{key}"},
                opts=child,
            )
            eip = (
                PublicAddress(vm.pinned_allocation_id, pulumi.Output.from_input(vm.pinned_address))
                if vm.pinned_allocation_id is not None and vm.pinned_address is not None
                else new_aws_eip(f"{key}-eip", region, child)
            )
            aws.ec2.EipAssociation(
                f"{key}-eip",
                allocation_id=eip.allocation_id,
                instance_id=instance.id,
                region=region,
                # A replaced instance takes the EIP over: the old association goes first, or deleting
                # it after the new one would detach the EIP from the new instance.
                opts=network.gateway_opts(
                    pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(delete_before_replace=True))
                ),
            )
            self.addresses[vm.key] = eip.address
            self.instance_ids[vm.key] = instance.id

        self.register_outputs(
            {
                "security_group_id": self.security_group_id,
                "instance_ids": self.instance_ids,
                "public_ips": self.addresses,
            }
        )
