"""Configs unlike the shipped stacks (names at their longest, three zones, 40 nodes, other regions):
each plans with no cloud rule broken, or stops with messages naming what to change, never a trace."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import PROJECT, stack_values
from wfga.model.base import ConfigError
from wfga.offline import rules
from wfga.offline.engine import Plan, run_program
from wfga.offline.stackfile import StackValues

SECRET = frozenset({"wfga:turn_password"})
# The longest access point names wfga takes (32 characters), ending in a digit.
LONG_ALI = "singapore-edge-primary-access-01"
LONG_AWS = "saopaulo-edge-secondary-access-2"
assert len(LONG_ALI) == len(LONG_AWS) == 32


def _plan(values: dict[str, Any], stack: str = "held-out") -> Plan:
    return run_program(StackValues(stack=stack, values=values, secret_keys=SECRET), PROJECT)


_PLANS: dict[str, Plan] = {}


def held_out_plan(name: str) -> Plan:
    """Each held-out config planned once per session; tests only read the plans."""
    if name not in _PLANS:
        _PLANS[name] = _plan(HELD_OUT[name]())
    return _PLANS[name]


def _forty_nodes(cluster: dict[str, Any], prefix: str) -> None:
    cluster["nodes"] = [
        {"name": f"im-{s}", "slot": s, "private_ip": f"{prefix}.{s // 100}.{10 + s % 100}"} for s in range(1, 41)
    ]


def alibaba_cluster_long_names() -> dict[str, Any]:
    """The demo cluster with 40 nodes, a 32-character Alibaba NLB in three zones, a 32-character AWS NLB
    in Sao Paulo over an existing link, a VM access point in London, TURN on both long-named ones."""
    values = stack_values("av-demo")
    _forty_nodes(values["wfga:cluster"], "172.16")
    sg, va = values["wfga:access_points"]
    sg.update(name=LONG_ALI, zones=["ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"])
    va.update(
        name=LONG_AWS,
        region="sa-east-1",
        zones=["sa-east-1a", "sa-east-1b", "sa-east-1c"],
        subnets={f"sa-east-1{z}": f"subnet-0e1a5a7c3d9b24f6{z}" for z in "abc"},
    )
    values["wfga:access_points"].append(
        {
            "name": "london-edge-vm-01",
            "cloud": "alicloud",
            "region": "eu-west-1",
            "kind": "vm",
            "link": "cen",
            "vpc_cidr": "10.24.0.0/16",
            "zones": ["eu-west-1a", "eu-west-1b"],
            "vm": {"instance_type": "ecs.c7.large", "count": 2, "distro": "ubuntu"},
        }
    )
    turn = values["wfga:av"]["access_points"]
    turn[LONG_ALI] = {**turn.pop("sg"), "count": 3}
    turn[LONG_AWS] = {**turn.pop("va"), "count": 3}
    return values


def aws_cluster_other_regions() -> dict[str, Any]:
    """The AWS cluster with 40 nodes, NLBs in Tokyo (three zones) and the UAE under long names, and an
    EC2 VM access point in Mumbai."""
    values = stack_values("aws-demo")
    _forty_nodes(values["wfga:cluster"], "10.0")
    sg, fra = values["wfga:access_points"]
    sg.update(name="tokyo-" + "x" * 20 + "-nlb-1", region="ap-northeast-1")
    sg["zones"] = ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]
    fra.update(name="uae-" + "y" * 24 + "-2", region="me-central-1", zones=["me-central-1a", "me-central-1b"])
    values["wfga:access_points"].append(
        {
            "name": "mumbai-vm-edge-access-point-0001",
            "cloud": "aws",
            "region": "ap-south-1",
            "kind": "vm",
            "link": "vpc-peering",
            "vpc_cidr": "10.33.0.0/16",
            "zones": ["ap-south-1a", "ap-south-1b"],
            "vm": {"instance_type": "c7i.large", "count": 2, "distro": "debian"},
        }
    )
    return values


HELD_OUT: dict[str, Callable[[], dict[str, Any]]] = {
    "alibaba-cluster-long-names": alibaba_cluster_long_names,
    "aws-cluster-other-regions": aws_cluster_other_regions,
}


@pytest.mark.parametrize("name", sorted(HELD_OUT))
def test_held_out_configs_plan_with_no_cloud_rule_broken(name):
    plan = held_out_plan(name)
    assert [str(v) for v in rules.check(plan.resources)] == []
    for type_ in (rules.AWS_LB, rules.AWS_TARGET_GROUP):
        names = [r.inputs["name"] for r in plan.of_type(type_)]
        assert all(len(n) <= 32 and not n.endswith("-") for n in names)
        assert len(set(names)) == len(names)
    for vm in plan.of_type("alicloud:ecs/instance:Instance"):
        assert len(vm.inputs["hostName"]) <= 64, vm.name


def test_forty_nodes_shard_over_nlbs_in_every_held_out_region():
    plan = held_out_plan("aws-cluster-other-regions")
    regions = [r.inputs["region"] for r in plan.of_type(rules.AWS_LB)]
    # 40 nodes x 3 services = 120 listeners at 50 per NLB (whole nodes: 16 each): 3 NLBs per access point.
    assert sorted(regions) == ["ap-northeast-1"] * 3 + ["me-central-1"] * 3


def _one_zone_alibaba_nlb() -> dict[str, Any]:
    values = copy.deepcopy(alibaba_cluster_long_names())
    values["wfga:access_points"][0]["zones"] = ["ap-southeast-1a"]
    return values


def _too_wide_eip() -> dict[str, Any]:
    values = copy.deepcopy(alibaba_cluster_long_names())
    values["wfga:access_points"][0]["eip_bandwidth_mbps"] = 500
    return values


@pytest.mark.parametrize(
    ("build", "named"),
    [(_one_zone_alibaba_nlb, "zones"), (_too_wide_eip, "eip_bandwidth_mbps")],
)
def test_held_out_configs_the_cloud_refuses_stop_with_the_key_named(build, named):
    with pytest.raises(ConfigError) as err:
        _plan(build())
    assert any(p.startswith("wfga:access_points") and named in p for p in err.value.problems), err.value.problems
