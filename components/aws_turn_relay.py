"""The TURN relay of an AWS access point: EC2 instances running coturn, each with its own EIP.

They live in the access point's VPC and public subnets, so they reach Janus over the access point's
private link.  The security group admits the TURN port(s) from anywhere and the relay range from
the cluster only (``wfga.plan.turn.turn_ingress``).  The user data holds the TURN credential key
and is passed as a secret.

The user data only bootstraps a VM (the instance ignores later changes to it and to its AMI):
every config reaches the running VMs through Systems Manager, as for the VM access points
(``components/aws_vm_access_point.py``): per VM an ``ssm.Document`` whose content is the delivery
script (secret: it holds the credential key) and whose name carries the hash of the delivered files,
and an ``ssm.Association`` of it with the VM, which runs it when created.  The apply script restarts
coturn only when the config changed (coturn cannot reload its listeners, so the calls on that server
reconnect), and the VM, its address and its EIP stay.  The agent's role comes by an instance profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from wfga.model.av import AvConfig
from wfga.model.config import AccessPoint
from wfga.plan.turn import render_turn_delivery, render_turn_user_data, turn_ingress, turn_spec, turn_vms

from .image_lookup import aws_image
from .networks import Network, PublicAddress, new_aws_eip
from .vm_delivery import ssm_delivery, ssm_document, ssm_instance_profile


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
            ami = aws_image(servers.distro, region, f"wfga:av.access_points.{ap.name}.image_id", args.provider, self)

        spec = turn_spec(av)
        distro = servers.distro
        # Output.secret: whatever the caller passes, the user data (which holds the key) stays secret.
        password = pulumi.Output.secret(args.turn_password)
        user_data = password.apply(lambda p: render_turn_user_data(spec, password=p, distro=distro))
        delivery = password.apply(lambda p: render_turn_delivery(spec, password=p))
        # The name carries the hash of the files (holding the key), never the key: not a secret.
        version = pulumi.Output.unsecret(delivery.apply(lambda d: d.key))

        profile, core = ssm_instance_profile(prefix, f"wfga TURN relay {name}: Systems Manager agent", region, child)
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
                iam_instance_profile=profile.name,
                # cloud-init installs coturn at the first boot, before the EIP is associated: a public
                # address from launch, in a subnet routed to the gateway, reaches the mirrors.
                associate_public_ip_address=True,
                metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"),
                region=region,
                tags={"Name": f"wfga-{key}"},
                # A user data update stops and starts the instance and a new AMI replaces it; configs
                # travel by Systems Manager below instead.  The address at launch matters only when a
                # relay is created; a running one keeps its own.
                opts=pulumi.ResourceOptions.merge(
                    network.boot_opts(child, vm.zone),
                    pulumi.ResourceOptions(
                        ignore_changes=["user_data", "user_data_base64", "ami", "associate_public_ip_address"],
                        depends_on=[core],
                    ),
                ),
            )
            ssm_delivery(
                f"{key}-coturn",
                version=version,
                # Secret, like the key in it.
                content=delivery.apply(
                    lambda d: ssm_document(d.script, f"wfga: coturn config {d.key}", "deliverCoturnConfig")
                ),
                instance_id=instance.id,
                region=region,
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
                # A replaced instance (a deliberate replacement, docs/audio-video.md) takes the EIP over:
                # the old association goes first, or deleting it after the new one would detach the EIP
                # from the new instance.
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
