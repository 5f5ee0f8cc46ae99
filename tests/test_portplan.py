"""Port plan rules, as properties over generated clusters."""

from __future__ import annotations

import ipaddress
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfga.model.config import ConfigError, parse_stack_config
from wfga.plan.portplan import (
    AccessPointPlan,
    backup_entries,
    entry,
    load_balancer_number,
    plan_stack,
    vswitch_cidr,
)

QUOTAS = st.sampled_from([3, 6, 9, 30, 50, 51, 60, 100])


def cluster(slots: list[int]) -> dict[str, Any]:
    return {
        "name": "hz",
        "cloud": "alicloud",
        "region": "cn-hangzhou",
        "vpc_id": "vpc-1",
        "cidr": "172.16.0.0/16",
        "route_table_ids": ["vtb-1"],
        "attach_vswitches": {"cn-hangzhou-h": "vsw-1"},
        "nodes": [
            {"name": f"im-{s}", "slot": s, "private_ip": str(ipaddress.IPv4Address("172.16.0.0") + s)} for s in slots
        ],
    }


def access_point(quota: int, name: str = "sg", cidr: str = "10.21.0.0/16") -> dict[str, Any]:
    return {
        "name": name,
        "cloud": "alicloud",
        "region": "ap-southeast-1",
        "vpc_cidr": cidr,
        "zones": ["ap-southeast-1a", "ap-southeast-1b"],
        "port_base": {"short": 10000, "long": 20000, "ws": 30000},
        "listener_quota": quota,
    }


def plan_of(slots: list[int], quota: int) -> AccessPointPlan:
    cfg = parse_stack_config({"wfga:cluster": cluster(slots), "wfga:access_points": [access_point(quota)]})
    return plan_stack(cfg)[0]


def fake_addresses(plan: AccessPointPlan) -> dict[tuple[str, str, str], str]:
    return {
        (plan.name, lb.key, zone): str(ipaddress.IPv4Address("198.18.0.0") + lb.number * 16 + i)
        for lb in plan.load_balancers
        for i, zone in enumerate(lb.zones)
    }


def entries_of(slots: list[int], quota: int) -> dict[str, list[str]]:
    cfg = parse_stack_config({"wfga:cluster": cluster(slots), "wfga:access_points": [access_point(quota)]})
    plans = plan_stack(cfg)
    got = backup_entries(cfg.cluster, plans, fake_addresses(plans[0]))
    return {node: [item["entry"] for item in items] for node, items in got.items()}


slot_sets = st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=60, unique=True)


@settings(max_examples=60, deadline=None)
@given(slots=slot_sets, quota=QUOTAS, data=st.data())
def test_reorder_and_removal_never_change_another_nodes_mappings(slots, quota, data):
    base = plan_of(slots, quota)
    shuffled = data.draw(st.permutations(slots))
    kept = data.draw(st.lists(st.sampled_from(slots), unique=True, min_size=1))
    for other in (plan_of(list(shuffled), quota), plan_of(kept, quota)):
        before = {(m.node, m.service): (m.load_balancer, m.public_port, m.target_ip) for m in base.mappings}
        after = {(m.node, m.service): (m.load_balancer, m.public_port, m.target_ip) for m in other.mappings}
        assert {k: before[k] for k in after} == after


@settings(max_examples=60, deadline=None)
@given(slots=slot_sets, quota=QUOTAS, extra=st.lists(st.integers(301, 400), unique=True, max_size=20))
def test_adding_nodes_only_appends(slots, quota, extra):
    before = entries_of(slots, quota)
    after = entries_of(slots + extra, quota)
    for node, items in before.items():
        assert after[node] == items


@settings(max_examples=80, deadline=None)
@given(slots=slot_sets, quota=QUOTAS)
def test_mappings_unique_in_range_and_within_quota(slots, quota):
    plan = plan_of(slots, quota)
    assert len(plan.mappings) == 3 * len(slots)
    for lb in plan.load_balancers:
        ports = [m.public_port for m in lb.mappings]
        assert len(ports) == len(set(ports)), "a public port serves two mappings on one address"
        assert len(lb.mappings) <= quota
        assert all(1 <= p <= 65535 for p in ports)
        # the three mappings of a node share its load balancer, hence its entry IP
        assert {m.node for m in lb.mappings} == set(lb.nodes)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 200), quota=QUOTAS)
def test_dense_slots_use_the_fewest_load_balancers(n, quota):
    plan = plan_of(list(range(1, n + 1)), quota)
    assert len(plan.load_balancers) == math.ceil(n / (quota // 3))


@given(slot=st.integers(1, 9999), quota=QUOTAS)
def test_load_balancer_depends_on_own_slot_only(slot, quota):
    per_lb = quota // 3
    number = load_balancer_number(slot, quota)
    assert (number - 1) * per_lb < slot <= number * per_lb


def test_entries_follow_the_articles_example():
    # Article: node 1 -> IPA:81:1881:8081, node 2 -> IPA:82:1882:8082.
    cfg = parse_stack_config(
        {
            "wfga:cluster": cluster([1, 2]),
            "wfga:access_points": [
                dict(access_point(50), port_base={"short": 80, "long": 1880, "ws": 8080}),
            ],
        }
    )
    plans = plan_stack(cfg)
    got = backup_entries(
        cfg.cluster,
        plans,
        {("sg", "nlb-1", "ap-southeast-1a"): "1.2.3.4", ("sg", "nlb-1", "ap-southeast-1b"): "5.6.7.8"},
    )
    assert [i["entry"] for i in got["im-1"]] == ["1.2.3.4:81:1881:8081", "5.6.7.8:81:1881:8081"]
    assert [i["entry"] for i in got["im-2"]] == ["1.2.3.4:82:1882:8082", "5.6.7.8:82:1882:8082"]


def test_entry_rejects_a_non_ipv4_address():
    with pytest.raises(ValueError):
        entry("ap.example.com", {"short": 1, "long": 2, "ws": 3})


def test_forty_nodes_shard_onto_three_load_balancers_and_a_41st_moves_nobody():
    forty = plan_of(list(range(1, 41)), 50)
    assert [lb.key for lb in forty.load_balancers] == ["nlb-1", "nlb-2", "nlb-3"]
    assert [len(lb.mappings) for lb in forty.load_balancers] == [48, 48, 24]
    more = plan_of(list(range(1, 42)), 50)
    assert {m for m in forty.mappings} <= set(more.mappings)


def test_colliding_ranges_are_rejected_with_the_key_path():
    ap = dict(access_point(50), port_base={"short": 80, "long": 81, "ws": 8080})
    with pytest.raises(ConfigError) as err:
        plan_stack(parse_stack_config({"wfga:cluster": cluster([1, 2, 3]), "wfga:access_points": [ap]}))
    assert "wfga:access_points[0] (sg).port_base: public port 82" in str(err.value)


@given(letter=st.sampled_from("abcdefghijklmnopqrstuvwxyz"))
def test_vswitch_ranges_come_from_the_zone_letter(letter):
    vpc = ipaddress.IPv4Network("10.21.0.0/16")
    net = vswitch_cidr(vpc, "ap-southeast-1", f"ap-southeast-1{letter}")
    assert net.subnet_of(vpc)
    assert net.prefixlen == 21
    assert vswitch_cidr(vpc, "cn-hangzhou", f"cn-hangzhou-{letter}") == net
