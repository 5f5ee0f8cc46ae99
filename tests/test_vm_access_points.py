"""VM access points under mocks: each backup entry reaches, through the VM's own rendered nginx
configuration, its node's service port."""

from __future__ import annotations

import copy
import re
from typing import Any

import pulumi
import pytest

from tests.conftest import PROJECT, one, plan_values, stack_plan, stack_values
from tests.vm_delivery import user_data_of, written_files
from wfga.offline.engine import Plan, ResourceRecord, execute_program
from wfga.offline.stackfile import StackValues
from wfga.plan.cloudinit import STAGED_CONF
from wfga.plan.portplan import SERVICES

EIPS = {"alicloud:ecs/eipAddress:EipAddress": "ipAddress", "aws:ec2/eip:Eip": "publicIp"}
ASSOCIATIONS = ("alicloud:ecs/eipAssociation:EipAssociation", "aws:ec2/eipAssociation:EipAssociation")
INSTANCES = ("alicloud:ecs/instance:Instance", "aws:ec2/instance:Instance")
_SERVER = re.compile(r"server \{\s*listen (\d+)[^;]*;\s*proxy_pass ([\d.]+):(\d+);\s*[^}]*?proxy_timeout (\d+)s;", re.S)


def nginx_routes(instance: ResourceRecord) -> dict[int, tuple[str, int, int]]:
    """listen port -> (target ip, target port, proxy_timeout), from the VM's own user data."""
    conf = written_files(instance)[STAGED_CONF]
    routes = {int(p): (ip, int(tp), int(t)) for p, ip, tp, t in _SERVER.findall(conf)}
    assert len(routes) == conf.count("server {")
    return routes


def instance_behind(plan: Plan, ip: str) -> ResourceRecord:
    """entry ip -> EIP -> EIP association -> instance."""
    eip = one([r for t, attr in EIPS.items() for r in plan.of_type(t) if r.state[attr] == ip], f"EIP {ip}")
    allocation = eip.state.get("allocationId", eip.id)  # an Alibaba EIP's id is its allocation id
    association = one(
        [r for t in ASSOCIATIONS for r in plan.of_type(t) if r.inputs["allocationId"] == allocation], "association"
    )
    return one([r for t in INSTANCES for r in plan.of_type(t) if r.id == association.inputs["instanceId"]], "instance")


def test_every_vm_entry_reaches_its_node_through_the_rendered_nginx():
    plan = stack_plan("vm-demo")
    values = stack_values("vm-demo")
    cluster = values["wfga:cluster"]
    nodes = {n["name"]: n["private_ip"] for n in cluster["nodes"]}
    idle = {ap["name"]: ap.get("idle_timeout_s", 900) for ap in values["wfga:access_points"]}
    vms = {ap["name"]: ap["vm"].get("count", 1) for ap in values["wfga:access_points"]}
    checked = 0
    for node, line in plan.outputs["backup_addresses"].items():
        entries = line.split(",")
        assert len(entries) == sum(vms.values())  # one entry per VM, so clients fail over between VMs
        for item in entries:
            ip, *ports = item.split(":")
            routes = nginx_routes(instance_behind(plan, ip))
            for service, port in zip(SERVICES, map(int, ports), strict=True):
                target_ip, target_port, timeout = routes[port]
                assert (target_ip, target_port) == (nodes[node], cluster["service_ports"][service])
                if service != "short":
                    ap = next(r["access_point"] for r in plan.outputs["port_map"] if r["public_ip"] == ip)
                    assert timeout >= idle[ap]
                checked += 1
    assert checked == 6 * 3 * 3


def test_vms_spread_over_zones_with_protected_eips_and_images_looked_up():
    plan = stack_plan("vm-demo")
    ali = plan.of_type("alicloud:ecs/instance:Instance")
    switches = {r.id: r.inputs["zoneId"] for r in plan.of_type("alicloud:vpc/switch:Switch")}
    assert sorted(switches[r.inputs["vswitchId"]] for r in ali) == ["ap-northeast-1a", "ap-northeast-1b"]
    assert all(r.inputs["instanceType"] == "ecs.c7.large" for r in ali)
    assert {r.inputs["imageId"] for r in ali} == {next(iter({r.inputs["imageId"] for r in ali}))}
    assert ali[0].inputs["imageId"].startswith("m-")
    (ec2,) = plan.of_type("aws:ec2/instance:Instance")
    assert ec2.inputs["ami"].startswith("ami-")
    assert ec2.inputs["metadataOptions"]["httpTokens"] == "required"
    assert user_data_of(ec2)["packages"] == ["nginx", "nginx-mod-stream"]
    assert user_data_of(ali[0])["packages"] == ["nginx", "libnginx-mod-stream"]
    eips = [r for t in EIPS for r in plan.of_type(t)]
    assert len(eips) == 3 and all(r.protect for r in eips)


def test_vm_security_groups_admit_only_mapped_ports_and_ssh_from_the_admin_cidr():
    plan = stack_plan("vm-demo")
    ali_rules = [
        r for r in plan.of_type("alicloud:ecs/securityGroupRule:SecurityGroupRule") if r.name.startswith("tyo-in-")
    ]
    got = sorted((r.inputs["portRange"], r.inputs["cidrIp"]) for r in ali_rules)
    assert got == sorted(
        [("81/86", "0.0.0.0/0"), ("1881/1886", "0.0.0.0/0"), ("8081/8086", "0.0.0.0/0"), ("22/22", "203.0.113.0/24")]
    )
    aws_rules = [
        r
        for r in plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.name.startswith("va-in-")
    ]
    assert sorted((int(r.inputs["fromPort"]), int(r.inputs["toPort"])) for r in aws_rules) == [
        (81, 86),
        (1881, 1886),
        (8081, 8086),
    ]
    assert all(r.inputs["cidrIpv4"] == "0.0.0.0/0" for r in aws_rules)


def test_an_image_id_skips_the_lookup_and_adding_a_node_keeps_existing_entries():
    values = stack_values("vm-demo")
    values["wfga:access_points"][1]["vm"]["image_id"] = "ami-0123456789abcdef0"
    plan = plan_values(values)
    (ec2,) = plan.of_type("aws:ec2/instance:Instance")
    assert ec2.inputs["ami"] == "ami-0123456789abcdef0"
    values["wfga:cluster"]["nodes"].append({"name": "im-7", "slot": 7, "private_ip": "172.16.0.17"})
    more = plan_values(values)
    for node, line in plan.outputs["backup_addresses"].items():
        assert more.outputs["backup_addresses"][node] == line
    routes = nginx_routes(next(r for r in more.of_type("alicloud:ecs/instance:Instance") if r.name == "tyo-vm-2"))
    assert routes[87][:2] == ("172.16.0.17", 80)


def vm_values(**changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(stack_values("vm-demo"))
    values["wfga:access_points"][0].update(changes)
    return values


BAD = [
    (vm_values(vm=None), "wfga:access_points[0] (tyo).vm: a kind vm access point needs vm settings"),
    (vm_values(kind="nlb"), "wfga:access_points[0] (tyo).vm: only a kind vm access point takes vm settings"),
    (vm_values(listener_quota=60), "wfga:access_points[0] (tyo).listener_quota: a VM has no listener quota"),
    (
        vm_values(vm={"instance_type": "ecs.c7.large", "distro": "amazon-linux"}),
        "wfga:access_points[0] (tyo).vm.distro: amazon-linux has no public image on alicloud",
    ),
    (vm_values(vm={"instance_type": "ecs.c7.large", "count": 0}), "wfga:access_points[0] (tyo).vm.count"),
    (vm_values(vm={"count": 2}), "wfga:access_points[0] (tyo).vm.instance_type: required key is missing"),
    (
        vm_values(
            pinned_eips=[
                {"load_balancer": 2, "zone": "ap-northeast-1a", "allocation_id": "eip-1", "address": "47.1.1.1"}
            ]
        ),
        "wfga:access_points[0] (tyo).pinned_eips[0].zone: vm-2 is in ap-northeast-1b, not ap-northeast-1a",
    ),
]


@pytest.mark.parametrize(("values", "expected"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_vm_input_is_rejected_before_any_resource(values, expected):
    records: list[ResourceRecord] = []
    with pytest.raises(pulumi.RunError) as err:
        execute_program(StackValues(stack="bad", values=values), PROJECT, records=records)
    assert expected in str(err.value)
    assert records == []


def test_a_key_pair_is_given_to_new_vms_and_ssh_stays_closed_without_admin_cidr():
    values = stack_values("vm-demo")
    tyo, va = values["wfga:access_points"]
    tyo["vm"]["key_name"] = "ops-tokyo"
    va["vm"]["key_name"] = "ops-virginia"
    assert "admin_cidr" not in va["vm"]
    plan = plan_values(values)
    keys = {r.name: r.inputs["keyName"] for t in INSTANCES for r in plan.of_type(t)}
    assert keys == {"tyo-vm-1": "ops-tokyo", "tyo-vm-2": "ops-tokyo", "va-vm-1": "ops-virginia"}
    # A key opens nothing: SSH is admitted only where admin_cidr says so (tyo), never on va.
    ali_ssh = [
        r for r in plan.of_type("alicloud:ecs/securityGroupRule:SecurityGroupRule") if r.inputs["portRange"] == "22/22"
    ]
    assert [r.inputs["cidrIp"] for r in ali_ssh] == ["203.0.113.0/24"]
    aws_in = plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert not [r for r in aws_in if int(r.inputs["fromPort"]) <= 22 <= int(r.inputs["toPort"])]
    # Without key_name no key pair at all: the keyless ways in are Cloud Assistant and Session Manager.
    bare = stack_plan("vm-demo")
    assert all("keyName" not in r.inputs for t in INSTANCES for r in bare.of_type(t))
