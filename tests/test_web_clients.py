"""`web_clients: false` under mocks: no ws listener, server or firewall opening anywhere, while every
entry still names a ws port, and the NLBs carry 25 nodes each at the default quota."""

from __future__ import annotations

import ipaddress
from typing import Any

from tests.conftest import plan_values, stack_values
from tests.test_vm_access_points import instance_behind, nginx_routes
from wfga.offline.engine import Plan

T_ALI_LISTENER = "alicloud:nlb/listener:Listener"
T_ALI_NLB = "alicloud:nlb/loadBalancer:LoadBalancer"
T_ALI_SGR = "alicloud:ecs/securityGroupRule:SecurityGroupRule"
T_AWS_LISTENER = "aws:lb/listener:Listener"
T_AWS_TG = "aws:lb/targetGroup:TargetGroup"
T_AWS_IN = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def native_only(stack: str, nodes: int | None = None) -> tuple[dict[str, Any], Plan]:
    values = stack_values(stack)
    cluster = values["wfga:cluster"]
    cluster["web_clients"] = False
    if nodes is not None:
        cluster["nodes"] = [
            {
                "name": f"im-{s}",
                "slot": s,
                "private_ip": str(ipaddress.IPv4Address(cluster["nodes"][0]["private_ip"]) + s),
            }
            for s in range(1, nodes + 1)
        ]
    return values, plan_values(values)


def entry_ports(plan: Plan) -> list[tuple[str, int, int, int]]:
    out = []
    for line in plan.outputs["backup_addresses"].values():
        for item in line.split(","):
            ip, short, long, ws = item.split(":")
            out.append((ip, int(short), int(long), int(ws)))
    return out


def test_alicloud_nlbs_carry_25_nodes_and_no_ws_listener():
    values, plan = native_only("demo", nodes=30)
    listeners = plan.of_type(T_ALI_LISTENER)
    assert len(listeners) == 2 * 30 * 2  # two access points, 30 nodes, short and long only
    assert not [r for r in listeners if r.inputs["listenerDescription"].endswith(" ws")]
    assert sorted(r.name for r in plan.of_type(T_ALI_NLB)) == ["fra-nlb-1", "fra-nlb-2", "sg-nlb-1", "sg-nlb-2"]
    by_lb: dict[str, int] = {}
    for r in listeners:
        by_lb[r.inputs["loadBalancerId"]] = by_lb.get(r.inputs["loadBalancerId"], 0) + 1
    assert sorted(by_lb.values()) == [10, 10, 50, 50]
    listened = {(r.inputs["loadBalancerId"], r.inputs["listenerPort"]) for r in listeners}
    ws_base = values["wfga:access_points"][0]["port_base"]["ws"]
    for _, short, _, ws in entry_ports(plan):
        assert ws == ws_base + (short - values["wfga:access_points"][0]["port_base"]["short"])
    assert not {port for _, port in listened} & {ws for *_, ws in entry_ports(plan)}
    # The cluster's security group opens short and long to each access point, never ws.
    ranges = {r.inputs["portRange"] for r in plan.of_type(T_ALI_SGR)}
    assert ranges == {"80/80", "1883/1883"}


def test_aws_nlbs_have_no_ws_listener_target_group_or_opening():
    _, plan = native_only("aws-demo")
    ws_ports = {ws for *_, ws in entry_ports(plan)}
    assert ws_ports == {8080 + s for s in range(1, 7)}
    assert not {int(r.inputs["port"]) for r in plan.of_type(T_AWS_LISTENER)} & ws_ports
    assert len(plan.of_type(T_AWS_LISTENER)) == 2 * 6 * 2
    assert {r.inputs["tags"]["wfga:service"] for r in plan.of_type(T_AWS_TG)} == {"short", "long"}
    opened = {(int(r.inputs["fromPort"]), int(r.inputs["toPort"])) for r in plan.of_type(T_AWS_IN)}
    assert not any(low <= port <= high for low, high in opened for port in ws_ports | {8083})
    assert (81, 86) in opened and (1881, 1886) in opened


def test_vm_nginx_has_no_ws_server():
    _, plan = native_only("vm-demo")
    entries = entry_ports(plan)
    for ip, short, long, ws in entries:
        routes = nginx_routes(instance_behind(plan, ip))
        assert short in routes and long in routes
        assert ws not in routes
        assert len(routes) == 2 * 6
    opened = {r.inputs["portRange"] for r in plan.of_type(T_ALI_SGR) if r.name.startswith("tyo-in-")}
    assert opened == {"81/86", "1881/1886", "22/22"}
