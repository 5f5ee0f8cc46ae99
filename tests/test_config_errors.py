"""Bad stack files: each is rejected with its key path, before any resource, without a traceback."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from tests.conftest import PROJECT, stack_values
from wfga.cli import main
from wfga.offline.engine import ResourceRecord, execute_program
from wfga.offline.stackfile import StackValues

Values = dict[str, Any]


def cluster(v: Values) -> Values:
    c: Values = v["wfga:cluster"]
    return c


def ap(v: Values, i: int = 0) -> Values:
    a: Values = v["wfga:access_points"][i]
    return a


def drop(key: str) -> Callable[[Values], None]:
    return lambda v: v.pop(key)


def pin_first_zone_everywhere(v: Values) -> None:
    for a in v["wfga:access_points"]:
        a["pinned_eips"] = [
            {"load_balancer": 1, "zone": a["zones"][0], "allocation_id": "eip-1", "address": "47.1.1.1"}
        ]


CASES: list[tuple[str, Callable[[Values], None], str]] = [
    ("no cluster", drop("wfga:cluster"), "wfga:cluster: required key is missing"),
    ("misspelt top key", lambda v: v.update({"wfga:acces_points": []}), "wfga:acces_points: unknown key"),
    ("misspelt field", lambda v: ap(v).update(idle_timeout=900), "wfga:access_points[0] (sg).idle_timeout: unknown"),
    (
        "duplicate node name",
        lambda v: cluster(v)["nodes"][1].update(name="im-1"),
        "wfga:cluster.nodes: two nodes share name im-1",
    ),
    ("duplicate slot", lambda v: cluster(v)["nodes"][1].update(slot=1), "wfga:cluster.nodes: two nodes share slot 1"),
    (
        "duplicate ip",
        lambda v: cluster(v)["nodes"][1].update(private_ip="172.16.0.11"),
        "wfga:cluster.nodes: two nodes share private_ip",
    ),
    (
        "node outside cidr",
        lambda v: cluster(v)["nodes"][0].update(private_ip="10.9.0.1"),
        "wfga:cluster.nodes: im-1 has private_ip 10.9.0.1, outside cidr",
    ),
    (
        "service port out of range",
        lambda v: cluster(v)["service_ports"].update(long=70000),
        "wfga:cluster.service_ports.long: Input should be less than or equal to 65535",
    ),
    (
        "service ports not distinct",
        lambda v: cluster(v)["service_ports"].update(ws=80),
        "wfga:cluster.service_ports: short, long and ws must be three different ports",
    ),
    (
        "public port above 65535",
        lambda v: ap(v)["port_base"].update(ws=65531),
        "wfga:access_points[0] (sg).port_base.ws: node im-5 (slot 5) would get public port 65536",
    ),
    (
        "ranges overlap on one address",
        lambda v: ap(v)["port_base"].update(long=83),
        "wfga:access_points[0] (sg).port_base: public port 84 on nlb-1",
    ),
    (
        "access point overlaps cluster",
        lambda v: ap(v).update(vpc_cidr="172.16.128.0/17"),
        "wfga:access_points[0] (sg).vpc_cidr: 172.16.128.0/17 overlaps wfga:cluster.cidr",
    ),
    (
        "access points overlap",
        lambda v: ap(v, 1).update(vpc_cidr="10.21.0.0/20"),
        "wfga:access_points[1] (fra).vpc_cidr: 10.21.0.0/20 overlaps wfga:access_points[0] (sg).vpc_cidr",
    ),
    (
        "idle timeout too short",
        lambda v: ap(v).update(idle_timeout_s=300),
        "wfga:access_points[0] (sg).idle_timeout_s: 300 is outside 600..900",
    ),
    (
        "idle timeout above the NLB maximum",
        lambda v: ap(v).update(idle_timeout_s=3600),
        "wfga:access_points[0] (sg).idle_timeout_s: 3600 is outside 600..900",
    ),
    ("unknown cloud", lambda v: ap(v).update(cloud="gcp"), "wfga:access_points[0] (sg).cloud: Input should be"),
    ("unknown link", lambda v: ap(v).update(link="vpn"), "wfga:access_points[0] (sg).link: Input should be"),
    (
        "zone of another region",
        lambda v: ap(v).update(zones=["ap-southeast-1a", "eu-central-1a"]),
        "wfga:access_points[0] (sg).zones: 'eu-central-1a' is not a zone of ap-southeast-1",
    ),
    (
        "single zone",
        lambda v: ap(v).update(zones=["ap-southeast-1a"]),
        "wfga:access_points[0] (sg).zones: kind nlb on alicloud takes 2 to 10 zones, got 1",
    ),
    (
        "listener quota below one node",
        lambda v: ap(v).update(listener_quota=2),
        "wfga:access_points[0] (sg).listener_quota: Input should be greater than or equal to 3",
    ),
    (
        "pinned eip in a zone not used",
        lambda v: ap(v).update(
            pinned_eips=[
                {"load_balancer": 1, "zone": "ap-southeast-1c", "allocation_id": "eip-1", "address": "47.1.1.1"}
            ]
        ),
        "wfga:access_points[0] (sg).pinned_eips[0].zone: ap-southeast-1c is not one of zones",
    ),
    (
        "pinned eip on an unused load balancer",
        lambda v: ap(v).update(
            pinned_eips=[
                {"load_balancer": 5, "zone": "ap-southeast-1a", "allocation_id": "eip-1", "address": "47.1.1.1"}
            ]
        ),
        "wfga:access_points[0] (sg).pinned_eips[0].load_balancer: nlb-5 carries no node",
    ),
    (
        "same eip pinned twice",
        pin_first_zone_everywhere,
        "is pinned for both sg nlb-1 ap-southeast-1a and fra nlb-1 eu-central-1a",
    ),
    (
        "half an existing vpc",
        lambda v: ap(v).update(vpc_id="vpc-x"),
        "wfga:access_points[0] (sg): an existing VPC needs vpc_id, vswitches and route_table_id together",
    ),
    (
        "region stack without core",
        lambda v: v.update({"wfga:layout": "region"}),
        "wfga:core_stack: a region stack with link cen needs wfga:core_stack",
    ),
    (
        "core stack with access points",
        lambda v: v.update({"wfga:layout": "core"}),
        "wfga:access_points: the core stack owns the shared CEN pieces only",
    ),
    (
        "cidr with host bits",
        lambda v: ap(v).update(vpc_cidr="10.21.0.1/16"),
        "wfga:access_points[0] (sg).vpc_cidr: '10.21.0.1/16' is not an IPv4 network",
    ),
    (
        "node name with capitals",
        lambda v: cluster(v)["nodes"][0].update(name="IM-1"),
        "wfga:cluster.nodes[0] (IM-1).name: 'IM-1' is not a name",
    ),
    (
        "cen without cluster vswitches",
        lambda v: cluster(v).update(attach_vswitches={}),
        "wfga:cluster.attach_vswitches: link cen on sg attaches the cluster VPC",
    ),
    (
        "two access points with one name",
        lambda v: ap(v, 1).update(name="sg"),
        "wfga:access_points: the name sg is used twice",
    ),
    (
        "slot zero",
        lambda v: cluster(v)["nodes"][0].update(slot=0),
        "wfga:cluster.nodes[0] (im-1).slot: Input should be",
    ),
    (
        "vpc too small to split",
        lambda v: ap(v).update(vpc_cidr="10.21.0.0/26"),
        "wfga:access_points[0] (sg).vpc_cidr: 10.21.0.0/26 is too small",
    ),
]


def bad_values(mutate: Callable[[Values], None]) -> Values:
    values = stack_values("demo")
    mutate(values)
    return values


def write_stack(tmp_path: Path, values: Values) -> Path:
    path = tmp_path / "Pulumi.bad.yaml"
    # A stack file overrides whole keys of Pulumi.yaml; write each key the case touched.
    path.write_text(yaml.safe_dump({"config": values}), encoding="utf-8")
    return path


def test_there_are_at_least_twenty_distinct_cases():
    assert len({expected for _, _, expected in CASES}) >= 20


@pytest.mark.parametrize(("case", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_cli_rejects_with_key_path_and_exit_2(tmp_path, capsys, case, mutate, expected):
    values = bad_values(mutate)
    if "wfga:cluster" not in values:
        # Pulumi.yaml supplies a cluster; an explicit null in the stack file takes it away.
        values["wfga:cluster"] = None
    code = main(["plan", "--config-file", str(write_stack(tmp_path, values))])
    out, err = capsys.readouterr()
    assert code == 2
    assert expected in err
    assert "Traceback" not in err
    assert out == ""


@pytest.mark.parametrize(("case", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_program_itself_rejects_before_any_resource(case, mutate, expected):
    # `pulumi up` runs __main__.py without the offline engine's own check in front of it.
    records: list[ResourceRecord] = []
    with pytest.raises(pulumi.RunError) as err:
        execute_program(StackValues(stack="bad", values=bad_values(mutate)), PROJECT, records=records)
    assert expected in str(err.value)
    assert records == []


def test_a_good_stack_is_not_rejected(tmp_path, capsys):
    assert (
        main(["plan", "--config-file", str(write_stack(tmp_path, copy.deepcopy(stack_values("demo")))), "--quiet"]) == 0
    )
