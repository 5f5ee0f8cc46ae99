"""AWS access points under mocks: NLB joins, sharding, VPC peering, and bad input."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

import pulumi
import pytest

from tests.conftest import PROJECT, one, plan_values, stack_plan, stack_values
from wfga.offline.engine import Plan, ResourceRecord, execute_program
from wfga.offline.stackfile import StackValues
from wfga.plan.portplan import SERVICES

T_EIP = "aws:ec2/eip:Eip"
T_LB = "aws:lb/loadBalancer:LoadBalancer"
T_LISTENER = "aws:lb/listener:Listener"
T_TG = "aws:lb/targetGroup:TargetGroup"
T_ATT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
T_VPC = "aws:ec2/vpc:Vpc"
T_SG = "aws:ec2/securityGroup:SecurityGroup"
T_IN = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
T_ROUTE = "aws:ec2/route:Route"
T_PCX = "aws:ec2/vpcPeeringConnection:VpcPeeringConnection"
T_PCXA = "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter"


def follow(plan: Plan, ip: str, port: int) -> tuple[ResourceRecord, ResourceRecord, ResourceRecord, ResourceRecord]:
    """entry ip:port -> EIP -> NLB subnet mapping -> listener -> target group -> attachment."""
    allocation = one([r for r in plan.of_type(T_EIP) if r.state["publicIp"] == ip], f"EIP {ip}").state["allocationId"]
    lb = one(
        [r for r in plan.of_type(T_LB) if any(m["allocationId"] == allocation for m in r.inputs["subnetMappings"])],
        f"NLB with {ip}",
    )
    listener = one(
        [
            r
            for r in plan.of_type(T_LISTENER)
            if r.inputs["loadBalancerArn"] == lb.state["arn"] and r.inputs["port"] == port
        ],
        f"listener {ip}:{port}",
    )
    (action,) = listener.inputs["defaultActions"]
    assert action["type"] == "forward"
    group = one([r for r in plan.of_type(T_TG) if r.state["arn"] == action["targetGroupArn"]], "target group")
    target = one([r for r in plan.of_type(T_ATT) if r.inputs["targetGroupArn"] == group.state["arn"]], "attachment")
    return lb, listener, group, target


@pytest.mark.parametrize("stack", ["aws-demo", "mixed-demo"])
def test_every_aws_entry_forwards_to_its_own_node(stack):
    plan = stack_plan(stack)
    values = stack_values(stack)
    cluster = values["wfga:cluster"]
    nodes = {n["name"]: n["private_ip"] for n in cluster["nodes"]}
    aws_points = {ap["name"]: ap for ap in values["wfga:access_points"] if ap["cloud"] == "aws"}
    # The access point's own VPC: the one wfga creates, or the existing one it names.
    vpcs = {r.name.removesuffix("-vpc"): r.id for r in plan.of_type(T_VPC)}
    vpcs |= {name: ap["vpc_id"] for name, ap in aws_points.items() if "vpc_id" in ap}
    public = plan.outputs["access_points"]
    checked = 0
    for node, line in plan.outputs["backup_addresses"].items():
        for item in line.split(","):
            ip, *ports = item.split(":")
            owner = next(
                name for name, ap in public.items() for lb in ap["load_balancers"].values() if ip in lb["public_ips"]
            )
            if owner not in aws_points:
                continue
            for service, port in zip(SERVICES, map(int, ports), strict=True):
                lb, listener, group, target = follow(plan, ip, port)
                assert target.inputs["targetId"] == nodes[node]
                assert target.inputs["port"] == cluster["service_ports"][service]
                assert target.inputs["availabilityZone"] == "all"
                assert listener.inputs["protocol"] == "TCP"
                assert listener.inputs["tcpIdleTimeoutSeconds"] == aws_points[owner].get("idle_timeout_s", 900)
                assert listener.inputs["tcpIdleTimeoutSeconds"] >= 600
                assert group.inputs["targetType"] == "ip"
                assert group.inputs["protocol"] == "TCP"
                assert group.inputs["port"] == cluster["service_ports"][service]
                assert group.inputs["vpcId"] == vpcs[owner]
                assert group.inputs["healthCheck"]["protocol"] == "TCP"
                assert group.inputs["healthCheck"]["port"] == "traffic-port"
                assert lb.inputs["loadBalancerType"] == "network"
                assert {r.inputs["region"] for r in (lb, listener, group, target)} == {aws_points[owner]["region"]}
                checked += 1
    zones = sum(len(ap["zones"]) for ap in aws_points.values())
    assert checked == len(nodes) * zones * 3


def test_aws_eips_are_protected_and_nlbs_admit_only_their_listener_ports():
    plan = stack_plan("aws-demo")
    assert len(plan.of_type(T_EIP)) == 5
    assert all(r.protect for r in plan.of_type(T_EIP))
    groups = {r.id: r for r in plan.of_type(T_SG)}
    for lb in plan.of_type(T_LB):
        (sg_id,) = lb.inputs["securityGroups"]
        assert sg_id in groups
        listener_ports = {
            r.inputs["port"] for r in plan.of_type(T_LISTENER) if r.inputs["loadBalancerArn"] == lb.state["arn"]
        }
        admitted: set[int] = set()
        for rule in (r for r in plan.of_type(T_IN) if r.inputs["securityGroupId"] == sg_id):
            assert rule.inputs["cidrIpv4"] == "0.0.0.0/0"
            admitted |= set(range(int(rule.inputs["fromPort"]), int(rule.inputs["toPort"]) + 1))
        assert admitted == listener_ports
        assert "22" not in {str(p) for p in admitted}


def test_peering_requester_accepter_routes_and_cluster_rules():
    plan = stack_plan("aws-demo")
    values = stack_values("aws-demo")
    cluster = values["wfga:cluster"]
    for ap in values["wfga:access_points"]:
        name = ap["name"]
        vpc = one([r for r in plan.of_type(T_VPC) if r.name == f"{name}-vpc"], "vpc")
        pcx = one([r for r in plan.of_type(T_PCX) if r.name == f"{name}-peering"], "peering")
        assert pcx.inputs["region"] == ap["region"]
        assert pcx.inputs["vpcId"] == vpc.id
        assert pcx.inputs["peerVpcId"] == cluster["vpc_id"]
        assert pcx.inputs["peerRegion"] == cluster["region"]
        assert pcx.inputs["autoAccept"] is False
        accepter = one([r for r in plan.of_type(T_PCXA) if r.name == f"{name}-accepter"], "accepter")
        assert accepter.inputs["region"] == cluster["region"]
        assert accepter.inputs["autoAccept"] is True
        assert accepter.inputs["vpcPeeringConnectionId"] == pcx.id
        routes = [r for r in plan.of_type(T_ROUTE) if r.inputs.get("vpcPeeringConnectionId") == pcx.id]
        table = one([r for r in plan.resources if r.name == f"{name}-public"], "public route table")
        assert {(r.inputs["routeTableId"], r.inputs["destinationCidrBlock"], r.inputs["region"]) for r in routes} == {
            (table.id, cluster["cidr"], ap["region"]),
            *((t, ap["vpc_cidr"], cluster["region"]) for t in cluster["route_table_ids"]),
        }
        rules = [r for r in plan.of_type(T_IN) if r.inputs["securityGroupId"] == cluster["security_group_id"]]
        mine = [r for r in rules if r.inputs["cidrIpv4"] == ap["vpc_cidr"]]
        assert sorted((r.inputs["fromPort"], r.inputs["toPort"]) for r in mine) == [
            (80, 80),
            (1883, 1883),
            (8083, 8083),
        ]
        assert {r.inputs["region"] for r in mine} == {cluster["region"]}
    cluster_rules = [r for r in plan.of_type(T_IN) if r.inputs["securityGroupId"] == cluster["security_group_id"]]
    assert len(cluster_rules) == 3 * len(values["wfga:access_points"])


def test_mixed_stack_builds_cen_only_for_the_alibaba_access_point():
    plan = stack_plan("mixed-demo")
    assert {r.name for r in plan.resources if r.type == "wfga:cen_link:CenLink"} == {"sg"}
    assert not plan.of_type(T_PCX)
    assert {r.name for r in plan.resources if r.type == "wfga:aws_nlb_access_point:AwsNlbAccessPoint"} == {"va"}
    assert [r.name for r in plan.resources if r.type == "pulumi:providers:aws"] == ["aws"]


def forty_node_values(count: int) -> dict[str, Any]:
    values = stack_values("aws-demo")
    values["wfga:access_points"] = values["wfga:access_points"][:1]
    values["wfga:cluster"]["nodes"] = [
        {"name": f"im-{s}", "slot": s, "private_ip": str(ipaddress.IPv4Address("10.0.3.0") + s)}
        for s in range(1, count + 1)
    ]
    return values


def test_forty_nodes_on_three_nlbs_and_a_41st_changes_no_listener_target_group_or_entry():
    forty = plan_values(forty_node_values(40))
    assert len(forty.of_type(T_LISTENER)) == 120
    arns = {r.state["arn"]: r.name for r in forty.of_type(T_LB)}
    assert sorted(arns.values()) == ["sg-nlb-1", "sg-nlb-2", "sg-nlb-3"]
    counts: dict[str, int] = {}
    for r in forty.of_type(T_LISTENER):
        counts[arns[r.inputs["loadBalancerArn"]]] = counts.get(arns[r.inputs["loadBalancerArn"]], 0) + 1
    assert max(counts.values()) <= 50
    more = plan_values(forty_node_values(41))
    after = more.by_urn()
    for r in forty.resources:
        if r.type in (T_LISTENER, T_TG, T_ATT, T_LB, T_EIP):
            assert after[r.urn].inputs == r.inputs, f"{r.name} changed"
    for node, line in forty.outputs["backup_addresses"].items():
        assert more.outputs["backup_addresses"][node] == line


def aws_values() -> dict[str, Any]:
    return copy.deepcopy(stack_values("aws-demo"))


def set_ap(**changes: Any) -> dict[str, Any]:
    values = aws_values()
    values["wfga:access_points"][0].update(changes)
    return values


BAD = [
    (set_ap(vpc_cidr="10.0.128.0/17"), "wfga:access_points[0] (sg).vpc_cidr: 10.0.128.0/17 overlaps wfga:cluster.cidr"),
    (
        set_ap(zones=["ap-southeast-1-a", "ap-southeast-1b"]),
        "wfga:access_points[0] (sg).zones: 'ap-southeast-1-a' is not a zone of ap-southeast-1 "
        "(expected e.g. ap-southeast-1a)",
    ),
    (
        set_ap(listener_quota=100),
        "wfga:access_points[0] (sg).listener_quota: 100 is above what a aws NLB can have (50, not adjustable)",
    ),
    (
        set_ap(link="cen"),
        "wfga:access_points[0] (sg).link: cen joins a alicloud access point to a alicloud cluster, not aws to aws; "
        "use link: vpc-peering or existing",
    ),
    (
        set_ap(idle_timeout_s=7000),
        "wfga:access_points[0] (sg).idle_timeout_s: 7000 is outside 600..6000",
    ),
    (
        set_ap(vswitches={"ap-southeast-1a": "vsw-1", "ap-southeast-1b": "vsw-2"}),
        "wfga:access_points[0] (sg).vswitches: not a aws setting; an existing aws VPC takes subnets",
    ),
]


def alibaba_ap_peering() -> dict[str, Any]:
    values = copy.deepcopy(stack_values("demo"))
    values["wfga:access_points"][0]["link"] = "vpc-peering"
    return values


BAD.append(
    (
        alibaba_ap_peering(),
        "wfga:access_points[0] (sg).link: vpc-peering joins a aws access point to a aws cluster, not alicloud to "
        "alicloud; use link: cen or existing",
    )
)


@pytest.mark.parametrize(("values", "expected"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_aws_input_is_rejected_before_any_resource(values, expected):
    records: list[ResourceRecord] = []
    with pytest.raises(pulumi.RunError) as err:
        execute_program(StackValues(stack="bad", values=values), PROJECT, records=records)
    assert expected in str(err.value)
    assert records == []
