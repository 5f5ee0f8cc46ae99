"""An AWS VM access point: EC2 instances running nginx `stream`, each with its own EIP.

The user data only bootstraps a VM: the instance ignores later changes to it (and to its AMI), so a
config change never stops/starts or replaces a VM.  Every config reaches the running VMs through
Systems Manager instead: per VM an ``ssm.Document`` (type Command) whose content is the delivery
script and whose name carries the hash of the delivered files, and an ``ssm.Association`` of that
document with the VM.  In terraform-provider-aws the Document's ``name`` and the Association's
``name`` (the document to apply) are ForceNew: a new config replaces both, and "when you create a
new or update associations, the system runs it immediately" (SDK docstring,
``apply_only_at_cron_interval``).  ``wait_for_success_timeout_seconds`` makes the create wait for
``Success``, so a config that nginx rejects fails ``pulumi up`` visibly while the VM keeps serving
the old one.  The agent needs the AmazonSSMManagedInstanceCore role, given here by an instance
profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from wfga.model.config import AccessPoint, Cluster
from wfga.plan.cloudinit import pack_user_data, render_user_data, render_vm_delivery
from wfga.plan.portplan import AccessPointPlan, public_ingress

from .from_config import plan_for
from .image_lookup import aws_image
from .networks import Network, aws_eip, aws_network
from .vm_delivery import ssm_delivery, ssm_document, ssm_instance_profile


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
    # The VPC, its route table and subnets, for what else lives in the access point (TURN relays).
    network: Network
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
        self.network = network
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
            ami = aws_image(ap.vm.distro, region, f"wfga:access_points ({name}).vm.image_id", args.provider, self)

        profile, core = ssm_instance_profile(name, f"wfga VM access point {name}: Systems Manager agent", region, child)

        self.addresses = {}
        self.load_balancer_ids = {}
        for vm in plan.load_balancers:
            (zone,) = vm.zones
            prefix = f"{name}-{vm.key}"
            carrier = list(vm.mappings)
            user_data = render_user_data(carrier, distro=ap.vm.distro, connections=ap.vm.connections)
            instance = aws.ec2.Instance(
                prefix,
                ami=ami,
                instance_type=ap.vm.instance_type,
                subnet_id=self.subnet_ids[zone],
                vpc_security_group_ids=[group.id],
                # "gzip-encoded user data must be base64-encoded and passed via this argument" (SDK
                # docstring); EC2's 16 KB limit counts the gzip bytes.
                user_data_base64=pack_user_data(user_data),
                # "Specified as the name of the Instance Profile" (SDK docstring).
                iam_instance_profile=profile.name,
                # cloud-init installs nginx at the first boot, before the EIP is associated: a public
                # address from launch (in a subnet routed to the gateway, below) reaches the mirrors.
                # The EIP replaces it once associated.
                associate_public_ip_address=True,
                key_name=ap.vm.key_name,
                metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"),
                region=region,
                tags={"Name": f"wfga-{prefix}"},
                # A user data update "will trigger a stop/start of the EC2 instance" (SDK docstring) and a
                # new AMI replaces it; neither may reach a serving VM.  Configs travel by Systems
                # Manager below; a new image by a deliberate replacement (docs/vm-access-points.md).
                # The public address at launch and the key pair only matter when a VM is created, and
                # both replace an instance: a running VM keeps what it was launched with.
                opts=pulumi.ResourceOptions.merge(
                    network.boot_opts(child, zone),
                    pulumi.ResourceOptions(
                        ignore_changes=[
                            "user_data",
                            "user_data_base64",
                            "ami",
                            "associate_public_ip_address",
                            "key_name",
                        ],
                        depends_on=[core],
                    ),
                ),
            )
            delivery = render_vm_delivery(carrier, distro=ap.vm.distro, connections=ap.vm.connections)
            ssm_delivery(
                f"{prefix}-nginx",
                version=delivery.key,
                content=ssm_document(delivery.script, f"wfga: nginx config {delivery.key} for {prefix}"),
                instance_id=instance.id,
                region=region,
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
