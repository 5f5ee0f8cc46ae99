"""The program under mocks: every backup entry must land on its own node's service port."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from tests.conftest import one, plan_values, stack_plan, stack_values
from wfga.model.config import ConfigError, parse_stack_config
from wfga.offline.engine import Plan, ResourceRecord
from wfga.plan.portplan import SERVICES

T_EIP = "alicloud:ecs/eipAddress:EipAddress"
T_NLB = "alicloud:nlb/loadBalancer:LoadBalancer"
T_LISTENER = "alicloud:nlb/listener:Listener"
T_GROUP = "alicloud:nlb/serverGroup:ServerGroup"
T_TARGET = "alicloud:nlb/serverGroupServerAttachment:ServerGroupServerAttachment"
T_VPC = "alicloud:vpc/network:Network"
T_ROUTE = "alicloud:vpc/routeEntry:RouteEntry"
T_SGR = "alicloud:ecs/securityGroupRule:SecurityGroupRule"
T_TR = "alicloud:cen/transitRouter:TransitRouter"
T_TRVA = "alicloud:cen/transitRouterVpcAttachment:TransitRouterVpcAttachment"
T_PEER = "alicloud:cen/transitRouterPeerAttachment:TransitRouterPeerAttachment"
T_ASSOC = "alicloud:cen/transitRouterRouteTableAssociation:TransitRouterRouteTableAssociation"
T_PROP = "alicloud:cen/transitRouterRouteTablePropagation:TransitRouterRouteTablePropagation"
T_RT = "alicloud:cen/transitRouterRouteTable:TransitRouterRouteTable"
T_CEN = "alicloud:cen/instance:Instance"


def follow_entry(plan: Plan, ip: str, service: str, port: int) -> tuple[ResourceRecord, ResourceRecord, ResourceRecord]:
    """entry ip:port -> EIP -> NLB zone mapping -> listener -> server group -> attachment."""
    eips = {r.id: r.state["ipAddress"] for r in plan.of_type(T_EIP)}
    nlbs = [r for r in plan.of_type(T_NLB) if any(eips.get(z["allocationId"]) == ip for z in r.inputs["zoneMappings"])]
    nlb = one(nlbs, f"load balancer with address {ip}")
    listener = one(
        [
            r
            for r in plan.of_type(T_LISTENER)
            if r.inputs["loadBalancerId"] == nlb.id and r.inputs["listenerPort"] == port
        ],
        f"listener {ip}:{port} ({service})",
    )
    group = one([r for r in plan.of_type(T_GROUP) if r.id == listener.inputs["serverGroupId"]], "server group")
    target = one([r for r in plan.of_type(T_TARGET) if r.inputs["serverGroupId"] == group.id], "server group target")
    assert group.inputs["vpcId"] == nlb.inputs["vpcId"]
    return listener, group, target


@pytest.mark.parametrize("stack", ["demo", "sg", "fra"])
def test_every_backup_entry_forwards_to_its_own_node(stack):
    plan = stack_plan(stack)
    cluster = stack_values(stack)["wfga:cluster"]
    nodes = {n["name"]: n for n in cluster["nodes"]}
    service_ports = cluster["service_ports"]
    checked = 0
    for node, line in plan.outputs["backup_addresses"].items():
        for item in line.split(","):
            ip, *ports = item.split(":")
            ipaddress.IPv4Address(ip)
            for service, port in zip(SERVICES, map(int, ports), strict=True):
                listener, group, target = follow_entry(plan, ip, service, port)
                assert target.inputs["serverIp"] == nodes[node]["private_ip"]
                assert target.inputs["serverId"] == nodes[node]["private_ip"]
                assert target.inputs["serverType"] == "Ip"
                assert target.inputs["port"] == service_ports[service]
                assert listener.inputs["listenerProtocol"] == "TCP"
                assert group.inputs["protocol"] == "TCP"
                assert group.inputs["serverGroupType"] == "Ip"
                assert group.inputs["healthCheck"]["healthCheckEnabled"] is True
                checked += 1
    # 6 nodes x (2 zones per access point) x 3 services, per access point in the stack
    assert checked == 6 * 2 * 3 * len(stack_values(stack)["wfga:access_points"])


def test_demo_counts_and_outputs():
    plan = stack_plan("demo")
    assert len(plan.of_type(T_LISTENER)) == 2 * 6 * 3
    assert len(plan.of_type(T_GROUP)) == len(plan.of_type(T_TARGET)) == 36
    assert len(plan.of_type(T_NLB)) == 2
    assert len(plan.of_type(T_EIP)) == 4
    assert len(plan.outputs["port_map"]) == 2 * 6 * 3 * 2
    line = plan.outputs["node_config"]["im-1"]
    assert line.startswith("server.backup_address  ")
    assert line.split("  ", 1)[1] == plan.outputs["backup_addresses"]["im-1"]
    entries = plan.outputs["backup_addresses"]["im-1"].split(",")
    assert [e.split(":", 1)[1] for e in entries] == ["81:1881:8081"] * 4
    # access points in config order, then zones in config order
    public = plan.outputs["access_points"]
    assert [e.split(":")[0] for e in entries] == public["sg"]["load_balancers"]["nlb-1"]["public_ips"] + public["fra"][
        "load_balancers"
    ]["nlb-1"]["public_ips"]


def test_listeners_keep_idle_connections_for_the_configured_time():
    plan = stack_plan("demo")
    assert {r.inputs["idleTimeout"] for r in plan.of_type(T_LISTENER)} == {900}
    values = stack_values("demo")
    values["wfga:access_points"][0]["idle_timeout_s"] = 600
    changed = plan_values(values)
    by_ap = {r.name.split("-")[0]: r.inputs["idleTimeout"] for r in changed.of_type(T_LISTENER)}
    assert by_ap == {"sg": 600, "fra": 900}


def test_eips_are_protected_and_pinned_eips_are_not_created():
    plan = stack_plan("demo")
    assert all(r.protect for r in plan.of_type(T_EIP))
    assert not any(r.protect for r in plan.resources if r.type != T_EIP)
    values = stack_values("demo")
    values["wfga:access_points"][0]["pinned_eips"] = [
        {"load_balancer": 1, "zone": "ap-southeast-1a", "allocation_id": "eip-pinned1", "address": "47.74.1.1"}
    ]
    pinned = plan_values(values)
    assert len(pinned.of_type(T_EIP)) == 3
    nlb = one([r for r in pinned.of_type(T_NLB) if r.name == "sg-nlb-1"], "sg nlb")
    assert nlb.inputs["zoneMappings"][0]["allocationId"] == "eip-pinned1"
    assert all(e.startswith("47.74.1.1:") for e in [pinned.outputs["backup_addresses"]["im-3"].split(",")[0]])
    assert "47.74.1.1" not in pinned.placeholders


def test_cen_pieces_are_wired_to_the_right_ids():
    plan = stack_plan("demo")
    cluster = stack_values("demo")["wfga:cluster"]
    cen = one(plan.of_type(T_CEN), "CEN instance")
    routers = {r.name: r for r in plan.of_type(T_TR)}
    core_tr = routers["hz-cen-tr-cn-hangzhou"]
    tables = {r.state["transitRouterRouteTableId"]: r for r in plan.of_type(T_RT)}
    assert all(r.inputs["cenId"] == cen.id for r in routers.values())
    core_att = one([r for r in plan.of_type(T_TRVA) if r.inputs["vpcId"] == cluster["vpc_id"]], "cluster attachment")
    assert core_att.inputs["zoneMappings"] == [
        {"zoneId": z, "vswitchId": v} for z, v in cluster["attach_vswitches"].items()
    ]
    core_table = one(
        [t for t in tables.values() if t.inputs["transitRouterId"] == core_tr.state["transitRouterId"]], "core table"
    )
    for ap in stack_values("demo")["wfga:access_points"]:
        name = ap["name"]
        vpc = one([r for r in plan.of_type(T_VPC) if r.name == f"{name}-vpc"], "vpc")
        assert vpc.inputs["cidrBlock"] == ap["vpc_cidr"]
        tr = routers[f"{name}-tr"]
        att = one([r for r in plan.of_type(T_TRVA) if r.inputs["vpcId"] == vpc.id], "ap attachment")
        assert att.inputs["transitRouterId"] == tr.state["transitRouterId"]
        assert {m["zoneId"] for m in att.inputs["zoneMappings"]} == set(ap["zones"])
        peer = one([r for r in plan.of_type(T_PEER) if r.name == f"{name}-peer"], "peer")
        assert peer.inputs["transitRouterId"] == tr.state["transitRouterId"]
        assert peer.inputs["peerTransitRouterId"] == core_tr.state["transitRouterId"]
        assert peer.inputs["peerTransitRouterRegionId"] == cluster["region"]
        assert peer.inputs["bandwidthType"] == "DataTransfer"
        peer_id = peer.state["transitRouterAttachmentId"]
        for kind in (T_ASSOC, T_PROP):
            pairs = {
                (r.inputs["transitRouterAttachmentId"], r.inputs["transitRouterRouteTableId"])
                for r in plan.of_type(kind)
            }
            local_table = one(
                [t for t in tables.values() if t.inputs["transitRouterId"] == tr.state["transitRouterId"]], "table"
            )
            assert (att.state["transitRouterAttachmentId"], local_table.state["transitRouterRouteTableId"]) in pairs
            assert (peer_id, local_table.state["transitRouterRouteTableId"]) in pairs
            assert (peer_id, core_table.state["transitRouterRouteTableId"]) in pairs
        to_cluster = one([r for r in plan.of_type(T_ROUTE) if r.name == f"{name}-route-to-cluster"], "route")
        assert to_cluster.inputs["routeTableId"] == vpc.state["routeTableId"]
        assert to_cluster.inputs["destinationCidrblock"] == cluster["cidr"]
        assert to_cluster.inputs["nexthopType"] == "Attachment"
        assert to_cluster.inputs["nexthopId"] == att.state["transitRouterAttachmentId"]
        (table,) = cluster["route_table_ids"]
        back = one([r for r in plan.of_type(T_ROUTE) if r.name == f"{name}-route-from-cluster-{table}"], "route")
        assert back.inputs["routeTableId"] == table
        assert back.inputs["destinationCidrblock"] == ap["vpc_cidr"]
        assert back.inputs["nexthopId"] == core_att.state["transitRouterAttachmentId"]
        assert "alicloud-cn-hangzhou" in back.provider
        assert f"alicloud-{ap['region']}" in to_cluster.provider


def test_cluster_security_group_admits_access_points_to_service_ports_only():
    plan = stack_plan("demo")
    values = stack_values("demo")
    cluster = values["wfga:cluster"]
    rules = plan.of_type(T_SGR)
    expected = {
        (ap["vpc_cidr"], f"{p}/{p}") for ap in values["wfga:access_points"] for p in cluster["service_ports"].values()
    }
    assert {(r.inputs["cidrIp"], r.inputs["portRange"]) for r in rules} == expected
    assert len(rules) == len(expected)
    for r in rules:
        assert r.inputs["securityGroupId"] == cluster["security_group_id"]
        assert r.inputs["type"] == "ingress"
        assert r.inputs["ipProtocol"] == "tcp"
        assert r.inputs["policy"] == "accept"
        assert "alicloud-cn-hangzhou" in r.provider
    values["wfga:cluster"].pop("security_group_id")
    assert plan_values(values).of_type(T_SGR) == []


def test_one_provider_per_region_and_every_resource_under_a_component():
    plan = stack_plan("demo")
    providers = [r for r in plan.resources if r.type == "pulumi:providers:alicloud"]
    assert sorted(p.inputs["region"] for p in providers) == ["ap-southeast-1", "cn-hangzhou", "eu-central-1"]
    components = {r.urn: r for r in plan.resources if r.type.startswith("wfga:")}
    for r in plan.resources:
        if r.custom and not r.type.startswith("pulumi:"):
            parent = components.get(r.parent)
            assert parent is not None, f"{r.name} has no wfga component parent"
            assert r.name.startswith(f"{parent.name}-"), f"{r.name} is not named after {parent.name}"
            assert r.provider, f"{r.name} uses the default provider"
    tokens = {r.type for r in components.values()}
    assert tokens == {
        "wfga:global_access:GlobalAccess",
        "wfga:alicloud_nlb_access_point:AlicloudNlbAccessPoint",
        "wfga:cen_core:CenCore",
        "wfga:cen_link:CenLink",
        "wfga:cluster_ingress:ClusterIngress",
    }


def test_access_point_in_an_existing_vpc_uses_its_ids():
    values = stack_values("demo")
    values["wfga:access_points"][0].update(
        vpc_id="vpc-sgexisting",
        vswitches={"ap-southeast-1a": "vsw-a", "ap-southeast-1b": "vsw-b"},
        route_table_id="vtb-sgexisting",
    )
    plan = plan_values(values)
    assert [r.name for r in plan.of_type(T_VPC)] == ["fra-vpc"]
    nlb = one([r for r in plan.of_type(T_NLB) if r.name == "sg-nlb-1"], "nlb")
    assert nlb.inputs["vpcId"] == "vpc-sgexisting"
    assert [z["vswitchId"] for z in nlb.inputs["zoneMappings"]] == ["vsw-a", "vsw-b"]
    route = one([r for r in plan.of_type(T_ROUTE) if r.name == "sg-route-to-cluster"], "route")
    assert route.inputs["routeTableId"] == "vtb-sgexisting"


def test_link_existing_builds_no_cen():
    values = stack_values("demo")
    for ap in values["wfga:access_points"]:
        ap.update(
            link="existing",
            vpc_id=f"vpc-{ap['name']}existing",
            vswitches={zone: f"vsw-{zone}" for zone in ap["zones"]},
            route_table_id=f"vtb-{ap['name']}existing",
        )
    plan = plan_values(values)
    assert not [r for r in plan.resources if r.type.startswith("alicloud:cen/")]
    assert plan.of_type(T_VPC) == []
    assert "cen" not in plan.outputs
    assert len(plan.of_type(T_LISTENER)) == 36


def test_link_existing_into_a_vpc_wfga_would_create_is_refused():
    # Nothing would route the cluster CIDR out of a new VPC: its only route is to the internet.
    values = stack_values("demo")
    values["wfga:access_points"][0]["link"] = "existing"
    with pytest.raises(ConfigError, match=r"access_points\[0\] \(sg\)\.link: existing means a VPC you already route"):
        parse_stack_config(values)


def test_cen_allows_one_transit_router_per_region():
    values = stack_values("demo")
    values["wfga:access_points"][1].update(region="ap-southeast-1", zones=["ap-southeast-1a", "ap-southeast-1b"])
    values["wfga:access_points"][1]["vpc_cidr"] = "10.22.0.0/16"
    with pytest.raises(ConfigError, match=r"access_points\[1\] \(fra\)\.region: sg already links ap-southeast-1"):
        parse_stack_config(values)
    values = stack_values("demo")
    values["wfga:access_points"][0].update(region="cn-hangzhou", zones=["cn-hangzhou-h", "cn-hangzhou-i"])
    with pytest.raises(ConfigError, match=r"access_points\[0\] \(sg\)\.region: a CEN access point in the cluster"):
        parse_stack_config(values)


def test_cen_attachments_need_two_zones():
    values = stack_values("demo")
    values["wfga:cluster"]["attach_vswitches"] = {"cn-hangzhou-h": "vsw-h"}
    with pytest.raises(ConfigError, match=r"cluster\.attach_vswitches: a transit router VPC attachment needs"):
        parse_stack_config(values)
    values = stack_values("vm-demo")
    values["wfga:access_points"][0]["zones"] = ["ap-northeast-1a"]
    with pytest.raises(ConfigError, match=r"\(tyo\)\.zones: link cen attaches this VPC to a transit router"):
        parse_stack_config(values)


def test_pay_by_traffic_eips_take_at_most_200_mbps():
    values = stack_values("demo")
    values["wfga:access_points"][0]["eip_bandwidth_mbps"] = 200
    parse_stack_config(values)
    values["wfga:access_points"][0]["eip_bandwidth_mbps"] = 201
    with pytest.raises(ConfigError, match=r"\(sg\)\.eip_bandwidth_mbps: Input should be less than or equal to 200"):
        parse_stack_config(values)


def nodes(count: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        {"name": f"im-{s}", "slot": s, "private_ip": str(ipaddress.IPv4Address("172.16.1.0") + s)}
        for s in range(start, start + count)
    ]


def test_forty_nodes_need_three_load_balancers_and_a_41st_changes_nothing():
    values = stack_values("demo")
    values["wfga:access_points"] = values["wfga:access_points"][:1]
    values["wfga:cluster"]["nodes"] = nodes(40)
    forty = plan_values(values)
    lbs = {r.id: r.name for r in forty.of_type(T_NLB)}
    assert sorted(lbs.values()) == ["sg-nlb-1", "sg-nlb-2", "sg-nlb-3"]
    per_lb: dict[str, int] = {}
    for r in forty.of_type(T_LISTENER):
        per_lb[lbs[r.inputs["loadBalancerId"]]] = per_lb.get(lbs[r.inputs["loadBalancerId"]], 0) + 1
    assert per_lb == {"sg-nlb-1": 48, "sg-nlb-2": 48, "sg-nlb-3": 24}
    values["wfga:cluster"]["nodes"].append(nodes(1, start=41)[0])
    more = plan_values(values)
    after = more.by_urn()
    for urn, r in forty.by_urn().items():
        assert after[urn].inputs == r.inputs, f"{r.name} changed"
    for node, line in forty.outputs["backup_addresses"].items():
        assert more.outputs["backup_addresses"][node] == line
