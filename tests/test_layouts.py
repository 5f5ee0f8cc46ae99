"""The all-in-one demo and the per-region stacks (core, sg, fra) must agree on every node."""

from __future__ import annotations

import json

import pytest

from tests.conftest import PROJECT, plan_values, stack_plan, stack_values
from wfga.cli import main
from wfga.model.config import ConfigError
from wfga.ops.node_config import merge


def test_region_stacks_merged_equal_the_all_in_one_demo():
    demo = stack_plan("demo")
    merged = merge([("sg", stack_plan("sg").outputs), ("fra", stack_plan("fra").outputs)])
    assert merged == demo.outputs["node_config"]
    assert len(merged) == 6


def test_region_stack_links_to_the_core_stacks_ids():
    core = stack_plan("core").outputs["cen"]
    sg = stack_plan("sg")
    ref = [r for r in sg.resources if r.type == "pulumi:pulumi:StackReference"]
    assert [r.name for r in ref] == ["organization/wfga/core"]
    peer = next(r for r in sg.resources if r.name == "sg-peer")
    assert peer.inputs["cenId"] == core["cen_id"]
    assert peer.inputs["peerTransitRouterId"] == core["transit_router_id"]
    route = next(r for r in sg.resources if r.name.startswith("sg-route-from-cluster-"))
    assert route.inputs["nexthopId"] == core["vpc_attachment_id"]
    assoc = next(r for r in sg.resources if r.name == "sg-peer-core-assoc")
    assert assoc.inputs["transitRouterRouteTableId"] == core["route_table_id"]
    # the region stack owns none of the shared pieces
    assert not [r for r in sg.resources if r.type == "alicloud:cen/instance:Instance"]


def test_core_stack_owns_only_the_shared_pieces():
    core = stack_plan("core")
    types = sorted({r.type.rsplit(":", 1)[-1] for r in core.resources if r.custom})
    assert types == [
        "Instance",
        "TransitRouter",
        "TransitRouterRouteTable",
        "TransitRouterRouteTableAssociation",
        "TransitRouterRouteTablePropagation",
        "TransitRouterVpcAttachment",
        "alicloud",
    ]
    assert set(core.outputs) == {"cen"}


def test_resource_names_are_the_same_in_both_layouts():
    demo = {(r.type, r.name) for r in stack_plan("demo").resources if r.custom}
    split = {(r.type, r.name) for s in ("core", "sg", "fra") for r in stack_plan(s).resources if r.custom}
    stack_refs = {("pulumi:pulumi:StackReference", "organization/wfga/core")}
    assert split - stack_refs == demo


def test_node_config_command_merges_output_files(tmp_path, capsys):
    for stack in ("sg", "fra"):
        (tmp_path / f"{stack}.json").write_text(json.dumps(stack_plan(stack).outputs), encoding="utf-8")
    sources = [str(tmp_path / "sg.json"), str(tmp_path / "fra.json")]
    # Outputs of an offline plan hold documentation-range placeholders: refused, whatever the file.
    assert main(["node-config", *sources, "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()
    capsys.readouterr()
    assert main(["node-config", *sources, "--out", str(tmp_path / "out"), "--allow-placeholders"]) == 0
    demo = {
        node: "server.backup_address  " + ",".join(f"#PLACEHOLDER {e}" for e in value.split(","))
        for node, value in stack_plan("demo").outputs["backup_addresses"].items()
    }
    assert (tmp_path / "out" / "im-4.conf").read_text(encoding="utf-8") == demo["im-4"] + "\n"
    assert capsys.readouterr().out.splitlines()[0] == f"im-1: {demo['im-1']}"


def test_node_config_refuses_an_access_point_given_twice(tmp_path, capsys):
    (tmp_path / "sg.json").write_text(json.dumps(stack_plan("sg").outputs), encoding="utf-8")
    assert main(["node-config", str(tmp_path / "sg.json"), str(tmp_path / "sg.json")]) == 2
    assert "access point sg is also in" in capsys.readouterr().err


def test_stack_files_all_plan():
    names = sorted(p.name for p in (PROJECT / "stacks").glob("Pulumi.*.yaml"))
    assert {"Pulumi.demo.yaml", "Pulumi.core.yaml", "Pulumi.sg.yaml", "Pulumi.fra.yaml"} <= set(names)


def _with_primaries(stack: str) -> dict[str, object]:
    values = stack_values(stack)
    cluster = values["wfga:cluster"]
    cluster["web_primary"] = "fra"
    cluster["nodes"][0]["web_primary"] = "sg"
    return values


def test_region_stacks_honour_web_primary_like_the_all_in_one_stack():
    demo = plan_values(_with_primaries("demo"), "demo").outputs["node_config"]
    merged = merge([(s, plan_values(_with_primaries(s), s).outputs) for s in ("sg", "fra")])
    assert merged == demo
    # im-1 keeps sg first (its own setting); im-2 gets fra's two entries first
    plain = stack_plan("demo").outputs["node_config"]
    assert plain["im-1"] == demo["im-1"]
    entries = plain["im-2"].split()[1].split(",")
    assert demo["im-2"].split()[1].split(",") == entries[2:] + entries[:2]


def test_merge_refuses_a_web_primary_no_source_has_or_sources_disagree():
    sg = plan_values(_with_primaries("sg"), "sg").outputs
    with pytest.raises(ConfigError) as err:
        merge([("sg", sg)])
    assert "node im-2: web_primary fra is an access point of none of the sources; they have sg" in err.value.problems
    plain_fra = stack_plan("fra").outputs
    with pytest.raises(ConfigError) as err:
        merge([("sg", sg), ("fra", plain_fra)])
    assert "node im-2: the sources disagree on its web_primary ((none), fra); give every stack the same" in (
        err.value.problems
    )


def test_a_region_stack_whose_core_describes_another_cluster_is_refused(tmp_path, capsys):
    values = stack_values("sg")
    cluster = values["wfga:cluster"] | {"vpc_id": "vpc-bp1someotherclusterx1"}
    stack = tmp_path / "Pulumi.other.yaml"
    config = {
        "wfga:cluster": cluster,
        **{k: values[k] for k in ("wfga:layout", "wfga:core_stack", "wfga:access_points")},
    }
    stack.write_text(json.dumps({"config": config}), encoding="utf-8")
    assert main(["plan", str(stack), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "wfga:core_stack: stack core describes another cluster (vpc_id vpc-bp1democluster0000001; " in err
    assert "here vpc-bp1someotherclusterx1" in err and "Traceback" not in err
    # The same cluster (only its nodes differ: the core stack has none of them) plans.
    config["wfga:cluster"] = values["wfga:cluster"] | {"nodes": values["wfga:cluster"]["nodes"][:2]}
    stack.write_text(json.dumps({"config": config}), encoding="utf-8")
    assert main(["plan", str(stack), "--quiet"]) == 0


def test_node_config_can_leave_an_access_point_out_before_it_is_removed(tmp_path, capsys):
    for stack in ("sg", "fra"):
        (tmp_path / f"{stack}.json").write_text(json.dumps(stack_plan(stack).outputs), encoding="utf-8")
    both = [str(tmp_path / "sg.json"), str(tmp_path / "fra.json")]
    assert main(["node-config", *both, "--drop-access-point", "fra", "--json", "-", "--allow-placeholders"]) == 0
    without = json.loads(capsys.readouterr().out)
    assert main(["node-config", both[0], "--json", "-", "--allow-placeholders"]) == 0
    assert without == json.loads(capsys.readouterr().out)
    assert main(["node-config", *both, "--drop-access-point", "va"]) == 2
    assert "--drop-access-point: va is in none of the sources" in capsys.readouterr().err
