"""The TURN relay of an Alibaba Cloud access point: ECS instances running coturn, each with its own EIP.

They live in the access point's VPC and vSwitches, so they reach Janus over the access point's
private link.  The security group admits the TURN port(s) from anywhere and the relay range from
the cluster only (``wfga.plan.turn.turn_ingress``).  The user data holds the TURN credential key
and is passed as a secret.

A config change (password, relay range, Janus addresses...) replaces the instance: cloud-init
writes the config only on a VM's first boot, and a changed ``user_data`` would only reboot the
instance with the old one.  coturn restarts on any config change anyway (it cannot reload its
listeners), so the calls on that server reconnect either way; the EIP, and so the address in
every app, stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud

from wfga.model.av import AvConfig
from wfga.model.config import AccessPoint
from wfga.model.images import IMAGES
from wfga.plan.turn import render_turn_user_data, turn_ingress, turn_spec, turn_vms

from .networks import Network, PublicAddress, new_alicloud_eip


@dataclass(frozen=True)
class AlicloudTurnRelayArgs:
    access_point: AccessPoint
    av: AvConfig
    cluster_cidr: str
    # The access point's VPC (its component's ``network``).
    network: Network
    # The shared TURN password (wfga:turn_password); kept secret, only its key reaches the VM.
    turn_password: pulumi.Input[str]
    provider: alicloud.Provider


class AlicloudTurnRelay(pulumi.ComponentResource):
    addresses: dict[str, pulumi.Output[str]]  # turn-N -> public address
    instance_ids: dict[str, pulumi.Output[str]]
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: AlicloudTurnRelayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:alicloud_turn_relay:AlicloudTurnRelay", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        ap, av = args.access_point, args.av
        servers = av.access_points[ap.name]
        prefix = f"{name}-turn"

        group = alicloud.ecs.SecurityGroup(
            f"{prefix}-sg",
            vpc_id=args.network.vpc_id,
            security_group_name=f"wfga-{prefix}",
            description=f"wfga TURN relay {name}: TURN from anywhere, relay ports from the cluster",
            opts=child,
        )
        self.security_group_id = group.id
        admin = str(servers.admin_cidr) if servers.admin_cidr is not None else None
        for rule in turn_ingress(av, args.cluster_cidr, admin):
            alicloud.ecs.SecurityGroupRule(
                f"{prefix}-in-{rule.key}",
                security_group_id=group.id,
                type="ingress",
                ip_protocol=rule.protocol,
                nic_type="intranet",
                policy="accept",
                port_range=f"{rule.first_port}/{rule.last_port}",
                cidr_ip=rule.cidr,
                description=f"wfga {rule.key}",
                opts=child,
            )

        image_id: pulumi.Input[str]
        if servers.image_id is not None:
            image_id = servers.image_id
        else:
            query = IMAGES[(ap.cloud, servers.distro)]
            image_id = alicloud.ecs.get_images_output(
                name_regex=query.name,
                owners=query.owners[0],
                most_recent=True,
                opts=pulumi.InvokeOutputOptions(provider=args.provider, parent=self),
            ).apply(lambda result: result.images[0].id)

        spec = turn_spec(av)
        distro = servers.distro
        # Output.secret: whatever the caller passes, the user data (which holds the key) stays secret.
        user_data = pulumi.Output.secret(args.turn_password).apply(
            lambda password: render_turn_user_data(spec, password=password, distro=distro)
        )
        bandwidth = servers.eip_bandwidth_mbps or ap.eip_bandwidth_mbps
        self.addresses = {}
        self.instance_ids = {}
        for vm in turn_vms(ap, servers):
            key = f"{name}-{vm.key}"
            instance = alicloud.ecs.Instance(
                key,
                instance_name=f"wfga-{key}",
                host_name=f"wfga-{key}",
                instance_type=servers.instance_type,
                image_id=image_id,
                vswitch_id=args.network.subnet_ids[vm.zone],
                security_groups=[group.id],
                user_data=user_data,
                instance_charge_type="PostPaid",
                system_disk_category="cloud_essd",
                # The EIP is the only way in; no second, changing public address.
                internet_max_bandwidth_out=0,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(replace_on_changes=["userData"])),
            )
            eip = (
                PublicAddress(vm.pinned_allocation_id, pulumi.Output.from_input(vm.pinned_address))
                if vm.pinned_allocation_id is not None and vm.pinned_address is not None
                else new_alicloud_eip(f"{key}-eip", bandwidth, f"wfga TURN relay {name} {vm.key} {vm.zone}", child)
            )
            alicloud.ecs.EipAssociation(
                f"{key}-eip",
                allocation_id=eip.allocation_id,
                instance_id=instance.id,
                instance_type="EcsInstance",
                # A replaced instance takes the EIP over: unbind it from the old one first, as an
                # EIP is bound to one instance at a time.
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(delete_before_replace=True)),
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
