"""Planning one access point from the user-facing models, for programs that compose it themselves."""

from __future__ import annotations

import pulumi
import pytest

from components.from_config import plan_for
from wfga.model.config import AccessPoint, Cluster, ConfigError, Node, VmSettings
from wfga.plan.portplan import plan_alone

CLUSTER = Cluster(
    name="hz",
    cloud="alicloud",
    region="cn-hangzhou",
    vpc_id="vpc-bp1testcluster00001",
    cidr="172.16.0.0/16",
    route_table_ids=["vtb-bp1testcluster0001"],
    nodes=[Node(name=f"im-{n}", slot=n, private_ip=f"172.16.0.{10 + n}") for n in (1, 2, 3)],
)


def _point(**changes: object) -> AccessPoint:
    settings: dict[str, object] = {
        "name": "sg",
        "cloud": "alicloud",
        "region": "ap-southeast-1",
        # An existing VPC the operator already routes to the cluster (over a VPN, say).
        "link": "existing",
        "vpc_id": "vpc-t4ntestexisting0001",
        "vswitches": {"ap-southeast-1a": "vsw-t4ntesta0001", "ap-southeast-1b": "vsw-t4ntestb0001"},
        "route_table_id": "vtb-t4ntestexisting01",
        "vpc_cidr": "10.21.0.0/16",
        "zones": ["ap-southeast-1a", "ap-southeast-1b"],
    }
    return AccessPoint.model_validate(settings | changes)


def test_an_access_point_alone_plans_like_one_in_a_stack() -> None:
    plan = plan_alone(CLUSTER, _point(port_base={"short": 100, "long": 1900, "ws": 8100}))
    assert [lb.key for lb in plan.load_balancers] == ["nlb-1"]
    assert {(m.node, m.service, m.public_port) for m in plan.mappings if m.node == "im-2"} == {
        ("im-2", "short", 102),
        ("im-2", "long", 1902),
        ("im-2", "ws", 8102),
    }


def test_the_checks_that_span_cluster_and_access_point_still_run() -> None:
    with pytest.raises(ConfigError) as err:
        plan_alone(CLUSTER, _point(vpc_cidr="172.16.0.0/20", link="cen"))
    assert err.value.problems == [
        "wfga:access_points[0] (sg).vpc_cidr: 172.16.0.0/20 overlaps wfga:cluster.cidr 172.16.0.0/16; "
        "routed networks must not overlap, pick a free range",
        "wfga:cluster.attach_vswitches: link cen on sg attaches the cluster VPC to a transit router; "
        "give one vSwitch per zone, e.g. {cn-hangzhou-h: vsw-...}",
    ]


def test_only_the_settings_given_are_judged() -> None:
    # A VM access point refuses an explicit listener_quota; the model's default must not count as one.
    vm = _point(kind="vm", vm=VmSettings(instance_type="ecs.c7.large", count=2))
    plan = plan_alone(CLUSTER, vm)
    assert [lb.key for lb in plan.load_balancers] == ["vm-1", "vm-2"]


def test_the_component_refuses_an_access_point_of_another_cloud_or_kind() -> None:
    with pytest.raises(pulumi.RunError, match="AwsNlbAccessPoint: access point sg is cloud alicloud, kind nlb"):
        plan_for("AwsNlbAccessPoint", "aws", "nlb", CLUSTER, _point())
    with pytest.raises(pulumi.RunError, match=r"wfga:access_points\[0\] \(sg\)\.vpc_cidr"):
        plan_for("AlicloudNlbAccessPoint", "alicloud", "nlb", CLUSTER, _point(vpc_cidr="172.16.0.0/20"))
