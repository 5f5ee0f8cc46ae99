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
        "attach_vswitches": {"cn-hangzhou-h": "vsw-1", "cn-hangzhou-i": "vsw-2"},
        "nodes": [
            {"name": f"im-{s}", "slot": s, "private_ip": str(ipaddress.IPv4Address("172.16.0.0") + s)} for s in slots
        ],
    }


def access_point(
    quota: int, name: str = "sg", cidr: str = "10.21.0.0/16", region: str = "ap-southeast-1"
) -> dict[str, Any]:
    return {
        "name": name,
        "cloud": "alicloud",
        "region": region,
        "vpc_cidr": cidr,
        "zones": [f"{region}a", f"{region}b"],
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


def native_only(slots: list[int], *aps: dict[str, Any], **extra: Any) -> Any:
    return parse_stack_config(
        {"wfga:cluster": {**cluster(slots), "web_clients": False, **extra}, "wfga:access_points": list(aps)}
    )


def all_addresses(plans: list[AccessPointPlan]) -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], str] = {}
    for i, plan in enumerate(plans):
        for lb in plan.load_balancers:
            for j, zone in enumerate(lb.zones):
                out[(plan.name, lb.key, zone)] = str(
                    ipaddress.IPv4Address("198.18.0.0") + i * 4096 + lb.number * 16 + j
                )
    return out


@settings(max_examples=80, deadline=None)
@given(slots=slot_sets, quota=QUOTAS)
def test_without_web_clients_no_two_nodes_share_an_entry_port(slots, quota):
    cfg = native_only(
        slots,
        access_point(quota),
        dict(
            access_point(quota, "fra", "10.22.0.0/16", "eu-central-1"),
            port_base={"short": 100, "long": 2000, "ws": 9000},
        ),
    )
    plans = plan_stack(cfg)
    owner: dict[tuple[str, int], str] = {}
    for node, items in backup_entries(cfg.cluster, plans, all_addresses(plans)).items():
        for item in items:
            ip, *ports = item["entry"].split(":")
            assert len(ports) == 3, "an entry always carries short, long and ws"
            for port in map(int, ports):
                assert owner.setdefault((ip, port), node) == node
    for plan in plans:
        assert {m.service for m in plan.mappings} == {"short", "long"}
        assert len(plan.mappings) == 2 * len(slots)
        assert all(len(lb.mappings) <= quota for lb in plan.load_balancers)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 300))
def test_without_web_clients_dense_slots_take_ceil_n_over_25_nlbs_at_quota_50(n):
    plan = plan_stack(native_only(list(range(1, n + 1)), access_point(50)))[0]
    assert len(plan.load_balancers) == math.ceil(n / 25)
    assert max(len(lb.mappings) for lb in plan.load_balancers) == 2 * min(n, 25)


def test_without_web_clients_the_ws_port_is_the_one_a_listener_would_have():
    cfg = native_only([1, 17], dict(access_point(50), port_base={"short": 80, "long": 1880, "ws": 8080}))
    plans = plan_stack(cfg)
    got = backup_entries(
        cfg.cluster,
        plans,
        {("sg", "nlb-1", "ap-southeast-1a"): "1.2.3.4", ("sg", "nlb-1", "ap-southeast-1b"): "5.6.7.8"},
    )
    # Slot 17 shares nlb-1 with slot 1 (25 nodes per NLB); with ws listeners it would sit on nlb-2.
    assert [i["entry"] for i in got["im-17"]] == ["1.2.3.4:97:1897:8097", "5.6.7.8:97:1897:8097"]
    assert [
        lb.key
        for lb in plan_stack(
            parse_stack_config({"wfga:cluster": cluster([1, 17]), "wfga:access_points": [access_point(50)]})
        )[0].load_balancers
    ] == ["nlb-1", "nlb-2"]


def test_a_ws_range_overlapping_another_nodes_port_is_refused_even_without_listeners():
    ap = dict(access_point(50), port_base={"short": 80, "long": 1880, "ws": 81})
    with pytest.raises(ConfigError) as err:
        plan_stack(native_only([1, 2], ap))
    assert "public port 82 on nlb-1 would serve both im-1/ws and im-2/short" in str(err.value)


def _ordered(cfg: Any) -> dict[str, list[str]]:
    plans = plan_stack(cfg)
    got = backup_entries(cfg.cluster, plans, all_addresses(plans))
    return {node: [i["access_point"] for i in items] for node, items in got.items()}


def two_points() -> list[dict[str, Any]]:
    return [access_point(50), access_point(50, "fra", "10.22.0.0/16", "eu-central-1")]


def test_web_primary_puts_that_access_points_entries_first():
    base = cluster([1, 2])
    plain = _ordered(parse_stack_config({"wfga:cluster": base, "wfga:access_points": two_points()}))
    assert plain["im-1"] == ["sg", "sg", "fra", "fra"]
    nodes = [dict(base["nodes"][0]), dict(base["nodes"][1], web_primary="sg")]
    cfg = parse_stack_config(
        {"wfga:cluster": {**base, "web_primary": "fra", "nodes": nodes}, "wfga:access_points": two_points()}
    )
    got = _ordered(cfg)
    assert got["im-1"] == ["fra", "fra", "sg", "sg"]  # the cluster's choice
    assert got["im-2"] == ["sg", "sg", "fra", "fra"]  # the node's own choice wins
    plans = plan_stack(cfg)
    items = backup_entries(cfg.cluster, plans, all_addresses(plans))
    assert {i["web_primary"] for i in items["im-1"]} == {"fra"}
    # Moved as a block: the zone order inside each access point is kept.
    plain_cfg = parse_stack_config({"wfga:cluster": base, "wfga:access_points": two_points()})
    before = [i["entry"] for i in backup_entries(plain_cfg.cluster, plans, all_addresses(plans))["im-1"]]
    assert [i["entry"] for i in items["im-1"]] == before[2:] + before[:2]


def test_web_primary_must_name_an_access_point_of_an_all_in_one_stack():
    base = cluster([1])
    nodes = [dict(base["nodes"][0], web_primary="tokyo")]
    with pytest.raises(ConfigError) as err:
        parse_stack_config(
            {"wfga:cluster": {**base, "web_primary": "paris", "nodes": nodes}, "wfga:access_points": two_points()}
        )
    assert err.value.problems == [
        "wfga:cluster.web_primary: paris is not an access point of this stack; use one of sg, fra",
        "wfga:cluster.nodes[0] (im-1).web_primary: tokyo is not an access point of this stack; use one of sg, fra",
    ]
