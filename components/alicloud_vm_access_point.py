"""An Alibaba Cloud VM access point: ECS instances running nginx `stream`, each with its own EIP.

The user data only bootstraps a VM: the instance ignores later changes to it (and to its image), so
a config change never reboots or re-images a VM.  Every config reaches the running VMs through Cloud
Assistant instead: one ``ecs.Command`` per VM whose content is the delivery script and whose name
carries the hash of the delivered files, and an ``ecs.EcsInvocation`` of it on that VM.  In
terraform-provider-alicloud every Command argument is ForceNew, and so are the Invocation's
``command_id`` and ``instance_id``: a new config replaces the Command, which replaces the
Invocation, which runs the script once.  The provider creates an Invocation by waiting for
``Success`` and fails on ``Failed``/``PartialFailed``/``Stopped``, so a config that nginx rejects
fails ``pulumi up`` visibly while the VM keeps serving the old one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud

from wfga.model.config import AccessPoint, Cluster
from wfga.plan.cloudinit import pack_user_data, render_user_data, render_vm_delivery
from wfga.plan.portplan import AccessPointPlan, public_ingress

from .from_config import plan_for
from .image_lookup import alicloud_image
from .networks import Network, alicloud_eip, alicloud_network
from .vm_delivery import cloud_assistant_delivery


@dataclass(frozen=True)
class AlicloudVmAccessPointArgs:
    plan: AccessPointPlan
    provider: alicloud.Provider

    @classmethod
    def from_config(
        cls, cluster: Cluster, access_point: AccessPoint, provider: alicloud.Provider
    ) -> AlicloudVmAccessPointArgs:
        """Args from the user-facing models: plans the access point against its cluster, with the
        checks and messages of a stack file."""
        plan = plan_for("AlicloudVmAccessPoint", "alicloud", "vm", cluster, access_point)
        return cls(plan=plan, provider=provider)


class AlicloudVmAccessPoint(pulumi.ComponentResource):
    # The VPC, its route table and subnets, for what else lives in the access point (TURN relays).
    network: Network
    vpc_id: pulumi.Output[str]
    route_table_id: pulumi.Output[str]
    vswitch_ids: dict[str, pulumi.Output[str]]
    addresses: dict[tuple[str, str, str], pulumi.Output[str]]
    load_balancer_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AlicloudVmAccessPointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:alicloud_vm_access_point:AlicloudVmAccessPoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        plan = args.plan
        ap = plan.config
        assert ap.vm is not None
        network = alicloud_network(name, ap, child)
        self.network = network
        self.vpc_id, self.route_table_id, self.vswitch_ids = network.vpc_id, network.route_table_id, network.subnet_ids

        group = alicloud.ecs.SecurityGroup(
            f"{name}-sg",
            vpc_id=self.vpc_id,
            security_group_name=f"wfga-{name}",
            description=f"wfga VM access point {name}: mapped ports only",
            opts=child,
        )
        admin = str(ap.vm.admin_cidr) if ap.vm.admin_cidr is not None else None
        for rule in public_ingress(plan.mappings, admin):
            alicloud.ecs.SecurityGroupRule(
                f"{name}-in-{rule.key}",
                security_group_id=group.id,
                type="ingress",
                ip_protocol="tcp",
                nic_type="intranet",
                policy="accept",
                port_range=f"{rule.first_port}/{rule.last_port}",
                cidr_ip=rule.cidr,
                description=f"wfga {rule.key}",
                opts=child,
            )

        image_id: pulumi.Input[str]
        if ap.vm.image_id is not None:
            image_id = ap.vm.image_id
        else:
            setting = f"wfga:access_points ({name}).vm.image_id"
            image_id = alicloud_image(ap.vm.distro, ap.region, setting, args.provider, self)

        self.addresses = {}
        self.load_balancer_ids = {}
        for vm in plan.load_balancers:
            (zone,) = vm.zones
            prefix = f"{name}-{vm.key}"
            carrier = list(vm.mappings)
            user_data = render_user_data(carrier, distro=ap.vm.distro, connections=ap.vm.connections)
            instance = alicloud.ecs.Instance(
                prefix,
                instance_name=f"wfga-{prefix}",
                host_name=f"wfga-{prefix}",
                instance_type=ap.vm.instance_type,
                image_id=image_id,
                vswitch_id=self.vswitch_ids[zone],
                security_groups=[group.id],
                # `user_data` "supports setting a base64-encoded value, and it is the recommended usage"
                # (SDK docstring); cloud-init unpacks the gzip inside.
                user_data=pack_user_data(user_data),
                instance_charge_type="PostPaid",
                system_disk_category="cloud_essd",
                # The EIP is the only way in; no second, changing public address.
                internet_max_bandwidth_out=0,
                key_name=ap.vm.key_name,
                # A user_data update reboots the instance ("If updated, the instance will reboot",
                # SDK docstring) and an image_id change re-images it; neither may reach a serving VM.
                # Configs travel by Cloud Assistant below; a new image by a deliberate replacement
                # (docs/vm-access-points.md).  A new key_name too reboots a running instance (SDK
                # docstring): the key pair is the one a VM was created with.
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(ignore_changes=["user_data", "image_id", "key_name"])
                ),
            )
            delivery = render_vm_delivery(carrier, distro=ap.vm.distro, connections=ap.vm.connections)
            cloud_assistant_delivery(
                f"{prefix}-nginx",
                description=f"wfga: nginx config {delivery.key} for {prefix}",
                version=delivery.key,
                script=delivery.script,
                instance_id=instance.id,
                opts=child,
            )
            eip = alicloud_eip(f"{prefix}-eip", vm, zone, ap.eip_bandwidth_mbps, child)
            self.addresses[(ap.name, vm.key, zone)] = eip.address
            alicloud.ecs.EipAssociation(
                f"{prefix}-eip",
                allocation_id=eip.allocation_id,
                instance_id=instance.id,
                instance_type="EcsInstance",
                opts=child,
            )
            self.load_balancer_ids[vm.key] = instance.id

        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "instance_ids": self.load_balancer_ids,
                "public_ips": {f"{key}/{zone}": ip for (_, key, zone), ip in self.addresses.items()},
                "region": ap.region,
            }
        )
