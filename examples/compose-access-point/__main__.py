"""One access point composed into a program that already has its own providers and CEN.

The program owns the Alibaba Cloud providers and an existing CEN whose transit router serves the
cluster; wfga adds an access point in Singapore, its half of the CEN link and the cluster's
security group rules, and the program computes each node's backup entries with wfga's pure core.
"""

import pulumi
import pulumi_alicloud as alicloud

from wfga.components import (
    AlicloudNlbAccessPoint,
    AlicloudNlbAccessPointArgs,
    CenIds,
    CenLink,
    CenLinkArgs,
    ClusterIngress,
    ClusterIngressArgs,
)
from wfga.model.config import AccessPoint, Cluster, Node
from wfga.plan.nodeline import node_config_line
from wfga.plan.portplan import backup_entries

# Already in the program: a provider per region, and the CEN with the cluster's transit router
# (in a real program these ids come from its CEN resources or a stack reference).
home = alicloud.Provider("home", region="cn-hangzhou")
singapore = alicloud.Provider("singapore", region="ap-southeast-1")
existing_cen = CenIds(
    cen_id="cen-exampleexisting0001",
    transit_router_id="tr-exampleexisting00001",
    route_table_id="vtb-exampletrtable00001",
    vpc_attachment_id="tr-attach-examplecluster1",
)

cluster = Cluster(
    name="hz",
    cloud="alicloud",
    region="cn-hangzhou",
    vpc_id="vpc-bp1examplecluster0001",
    cidr="172.16.0.0/16",
    route_table_ids=["vtb-bp1examplecluster001"],
    attach_vswitches={"cn-hangzhou-h": "vsw-bp1exampleattachh001", "cn-hangzhou-i": "vsw-bp1exampleattachi001"},
    nodes=[Node(name=f"im-{slot}", slot=slot, private_ip=f"172.16.0.{10 + slot}") for slot in (1, 2, 3)],
)
singapore_point = AccessPoint(
    name="sg",
    cloud="alicloud",
    region="ap-southeast-1",
    link="cen",
    vpc_cidr="10.21.0.0/16",
    zones=["ap-southeast-1a", "ap-southeast-1b"],
)

# from_config plans the access point against the cluster, with a stack file's checks and messages.
args = AlicloudNlbAccessPointArgs.from_config(cluster=cluster, access_point=singapore_point, provider=singapore)
point = AlicloudNlbAccessPoint(singapore_point.name, args)
CenLink(
    singapore_point.name,
    CenLinkArgs(
        access_point=singapore_point,
        cluster=cluster,
        core=existing_cen,
        vpc_id=point.vpc_id,
        route_table_id=point.route_table_id,
        vswitch_ids=point.vswitch_ids,
        provider=singapore,
        cluster_provider=home,
    ),
)
ClusterIngress(
    singapore_point.name,
    ClusterIngressArgs(
        access_point=singapore_point,
        cluster=cluster,
        security_group_id="sg-bp1examplecluster0001",
        cluster_provider=home,
    ),
)

keys = list(point.addresses)
entries = pulumi.Output.all(*point.addresses.values()).apply(
    lambda ips: backup_entries(cluster, [args.plan], dict(zip(keys, ips, strict=True)))
)
pulumi.export(
    "node_config",
    entries.apply(lambda nodes: {node: node_config_line([i["entry"] for i in items]) for node, items in nodes.items()}),
)
