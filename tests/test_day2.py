"""Day 2: changing the cluster must not disturb what already runs."""

from __future__ import annotations

from tests.conftest import plan_values, stack_plan, stack_values
from wfga.offline.engine import Plan


def assert_unchanged(before: Plan, after: Plan) -> None:
    now = after.by_urn()
    for urn, r in before.by_urn().items():
        if urn in now:
            assert now[urn].inputs == r.inputs, f"{r.name}: inputs changed"


def test_adding_a_node_changes_no_existing_resource_or_entry():
    before = stack_plan("demo")
    values = stack_values("demo")
    values["wfga:cluster"]["nodes"].append({"name": "im-7", "slot": 7, "private_ip": "172.16.0.17"})
    after = plan_values(values, stack="demo")
    missing = set(before.by_urn()) - set(after.by_urn())
    assert missing == set()
    assert_unchanged(before, after)
    for node, line in before.outputs["backup_addresses"].items():
        assert after.outputs["backup_addresses"][node] == line
    added = {r.name for r in after.resources} - {r.name for r in before.resources}
    assert added == {
        f"{ap}-im-7-{service}-{kind}"
        for ap in ("sg", "fra")
        for service in ("short", "long", "ws")
        for kind in ("sg", "target", "listener")
    }
    assert after.outputs["backup_addresses"]["im-7"].split(",")[0].endswith(":87:1887:8087")


def test_removing_or_reordering_nodes_keeps_the_others():
    before = stack_plan("demo")
    values = stack_values("demo")
    nodes = values["wfga:cluster"]["nodes"]
    values["wfga:cluster"]["nodes"] = list(reversed([n for n in nodes if n["name"] != "im-3"]))
    after = plan_values(values, stack="demo")
    assert_unchanged(before, after)
    assert not [r for r in after.resources if "-im-3-" in r.name]
    for node, line in after.outputs["backup_addresses"].items():
        assert before.outputs["backup_addresses"][node] == line


def test_adding_an_access_point_appends_entries_and_touches_no_other():
    before = stack_plan("demo")
    values = stack_values("demo")
    values["wfga:access_points"].append(
        {
            "name": "tyo",
            "cloud": "alicloud",
            "region": "ap-northeast-1",
            "vpc_cidr": "10.23.0.0/16",
            "zones": ["ap-northeast-1a", "ap-northeast-1b"],
        }
    )
    after = plan_values(values, stack="demo")
    assert_unchanged(before, after)
    for node, line in before.outputs["backup_addresses"].items():
        new = after.outputs["backup_addresses"][node]
        assert new.startswith(line + ",")
        assert len(new.split(",")) == len(line.split(",")) + 2
