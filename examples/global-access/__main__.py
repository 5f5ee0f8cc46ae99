"""GlobalAccess from models built in code: no stack file and no ``wfga:`` config keys.

The same models a stack file is parsed into (``wfga.model.config``), written in Python: here a
cluster in Hangzhou reached from Singapore through an NLB and from Frankfurt through two VMs
running nginx, both linked to the cluster over CEN.
"""

import pulumi

from wfga.components import GlobalAccess, GlobalAccessArgs
from wfga.model.config import AccessPoint, Cluster, Node, StackConfig, VmSettings

cluster = Cluster(
    name="hz",
    cloud="alicloud",
    region="cn-hangzhou",
    vpc_id="vpc-bp1examplecluster0001",
    cidr="172.16.0.0/16",
    route_table_ids=["vtb-bp1examplecluster001"],
    attach_vswitches={"cn-hangzhou-h": "vsw-bp1exampleattachh001", "cn-hangzhou-i": "vsw-bp1exampleattachi001"},
    security_group_id="sg-bp1examplecluster0001",
    nodes=[Node(name=f"im-{slot}", slot=slot, private_ip=f"172.16.0.{10 + slot}") for slot in (1, 2, 3)],
)
config = StackConfig(
    cluster=cluster,
    access_points=[
        AccessPoint(
            name="sg",
            cloud="alicloud",
            region="ap-southeast-1",
            vpc_cidr="10.21.0.0/16",
            zones=["ap-southeast-1a", "ap-southeast-1b"],
        ),
        AccessPoint(
            name="fra",
            cloud="alicloud",
            region="eu-central-1",
            kind="vm",
            vm=VmSettings(instance_type="ecs.c7.large", count=2),
            vpc_cidr="10.22.0.0/16",
            zones=["eu-central-1a", "eu-central-1b"],
        ),
    ],
)

access = GlobalAccess(cluster.name, GlobalAccessArgs(config=config))
pulumi.export("node_config", access.node_config)
pulumi.export("backup_entries", access.backup_entries)
