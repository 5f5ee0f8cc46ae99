"""The TURN relay of an Alibaba Cloud access point: ECS instances running coturn, each with its own EIP.

They live in the access point's VPC and vSwitches, so they reach Janus over the access point's
private link.  The security group admits the TURN port(s) from anywhere and the relay range from
the cluster only (``wfga.plan.turn.turn_ingress``).  The user data holds the TURN credential key
and is passed as a secret.

The user data only bootstraps a VM (the instance ignores later changes to it and to its image):
every config reaches the running VMs through Cloud Assistant, as for the VM access points
(``components/alicloud_vm_access_point.py``): per VM an ``ecs.Command`` whose content is the delivery
script (secret: it holds the credential key) and whose name carries the hash of the delivered files,
and an ``ecs.EcsInvocation`` of it.  A new config replaces both, which runs the script once; its
apply script restarts coturn only when the config changed (coturn cannot reload its listeners, so
the calls on that server reconnect), and the VM, its address and its EIP stay.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud

from wfga.model.av import AvConfig
from wfga.model.config import AccessPoint
from wfga.plan.turn import render_turn_delivery, render_turn_user_data, turn_ingress, turn_spec, turn_vms

from .image_lookup import alicloud_image
from .networks import Network, PublicAddress, new_alicloud_eip
from .vm_delivery import cloud_assistant_delivery


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
            setting = f"wfga:av.access_points.{ap.name}.image_id"
            image_id = alicloud_image(servers.distro, ap.region, setting, args.provider, self)

        spec = turn_spec(av)
        distro = servers.distro
        # Output.secret: whatever the caller passes, the user data (which holds the key) stays secret.
        password = pulumi.Output.secret(args.turn_password)
        user_data = password.apply(lambda p: render_turn_user_data(spec, password=p, distro=distro))
        delivery = password.apply(lambda p: render_turn_delivery(spec, password=p))
        # The name carries the hash of the files (holding the key), never the key: not a secret.
        version = pulumi.Output.unsecret(delivery.apply(lambda d: d.key))
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
                # A user_data update reboots the instance and an image_id change re-images it; configs
                # travel by Cloud Assistant below instead.
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(ignore_changes=["user_data", "image_id"])
                ),
            )
            cloud_assistant_delivery(
                f"{key}-coturn",
                description=pulumi.Output.concat("wfga: coturn config ", version, f" for {key}"),
                version=version,
                # Secret, like the key in it.
                script=delivery.apply(lambda d: d.script),
                instance_id=instance.id,
                opts=child,
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
                # A replaced instance (a deliberate replacement, docs/audio-video.md) takes the EIP
                # over: unbind it from the old one first, as an EIP is bound to one instance at a time.
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
