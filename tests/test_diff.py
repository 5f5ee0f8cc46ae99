"""`wfga diff`: per-node impact classification on crafted stack pairs, resource changes, git refs, CLI."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT, ROOT
from wfga.cli import main
from wfga.offline import engine
from wfga.offline.engine import plan_stack_file
from wfga.offline.stackfile import StackValues
from wfga.ops import diff

CLUSTER: dict[str, Any] = {
    "name": "tc",
    "cloud": "alicloud",
    "region": "cn-hangzhou",
    "vpc_id": "vpc-test",
    "cidr": "172.16.0.0/16",
    "route_table_ids": ["vtb-test"],
    "nodes": [
        {"name": "im-1", "slot": 1, "private_ip": "172.16.0.11"},
        {"name": "im-2", "slot": 2, "private_ip": "172.16.0.12"},
    ],
}
SG: dict[str, Any] = {
    "name": "sg",
    "cloud": "alicloud",
    "region": "ap-southeast-1",
    "link": "existing",
    "vpc_cidr": "10.21.0.0/16",
    "vpc_id": "vpc-sg",
    "route_table_id": "vtb-sg",
    "vswitches": {"ap-southeast-1a": "vsw-sg-a", "ap-southeast-1b": "vsw-sg-b"},
    "zones": ["ap-southeast-1a", "ap-southeast-1b"],
}
FRA: dict[str, Any] = {**SG, "name": "fra", "region": "eu-central-1", "vpc_cidr": "10.22.0.0/16"}
FRA.update(
    vpc_id="vpc-fra",
    route_table_id="vtb-fra",
    vswitches={"eu-central-1a": "vsw-fra-a", "eu-central-1b": "vsw-fra-b"},
    zones=["eu-central-1a", "eu-central-1b"],
)


def write_stack(directory: Path, cluster: dict[str, Any], access_points: list[dict[str, Any]]) -> Path:
    """A stack file that overrides the project's shared cluster with a small one."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "Pulumi.t.yaml"
    path.write_text(yaml.safe_dump({"config": {"wfga:cluster": cluster, "wfga:access_points": access_points}}))
    return path


def plan(tmp_path: Path, name: str, cluster: dict[str, Any], access_points: list[dict[str, Any]]) -> dict[str, Any]:
    return plan_stack_file(write_stack(tmp_path / name, cluster, access_points), PROJECT).to_json()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return plan(tmp_path_factory.mktemp("base"), "base", CLUSTER, [SG])


def cluster_with(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {**CLUSTER, "nodes": list(nodes)}


def node(name: str, slot: int) -> dict[str, Any]:
    return {"name": name, "slot": slot, "private_ip": f"172.16.0.{10 + slot}"}


def impacts(result: diff.PlanDiff) -> dict[str, str]:
    return {n.node: n.impact for n in result.nodes}


def by_node(result: diff.PlanDiff) -> dict[str, diff.NodeChange]:
    return {n.node: n for n in result.nodes}


def test_same_plan_is_no_change(base):
    result = diff.compare(base, copy.deepcopy(base), "a", "b")
    assert (result.impact, result.exit_code, result.resources) == ("none", 0, [])


def test_adding_a_node_is_additive(base, tmp_path):
    head = plan(tmp_path, "head", cluster_with(*CLUSTER["nodes"], node("im-3", 3)), [SG])
    result = diff.compare(base, head, "base", "head")
    assert impacts(result) == {"im-1": "none", "im-2": "none", "im-3": "additive"}
    assert result.exit_code == 1
    assert by_node(result)["im-3"].added == by_node(result)["im-3"].after
    created = {r.name for r in result.resources if r.action == "create"}
    assert {"sg-im-3-short-listener", "sg-im-3-long-listener", "sg-im-3-ws-listener"} <= created
    assert not [r for r in result.resources if r.action != "create"]


def test_removing_a_node_is_disruptive(base, tmp_path):
    head = plan(tmp_path, "head", cluster_with(CLUSTER["nodes"][0]), [SG])
    result = diff.compare(base, head, "base", "head")
    assert impacts(result) == {"im-1": "none", "im-2": "disruptive"}
    assert result.exit_code == 3
    assert "node removed" in by_node(result)["im-2"].reasons[0]
    assert {r.name for r in result.resources if r.action == "delete"} >= {"sg-im-2-long-listener"}


def test_moving_a_slot_is_disruptive_for_that_node_only(base, tmp_path):
    head = plan(tmp_path, "head", cluster_with(CLUSTER["nodes"][0], node("im-2", 5)), [SG])
    result = diff.compare(base, head, "base", "head")
    assert impacts(result) == {"im-1": "none", "im-2": "disruptive"}
    moved = by_node(result)["im-2"]
    assert all(":82:1882:8082" in e for e in moved.removed)
    assert all(":85:1885:8085" in e for e in moved.added)
    # Alibaba changes an NLB listener's port only by replacing the listener (ForceNew in the provider).
    replaced = {r.name: r for r in result.resources if r.action == "replace"}
    assert replaced["sg-im-2-long-listener"].inputs == ["listenerPort"]
    assert replaced["sg-im-2-long-listener"].note == "replaced: listenerPort changes"
    assert set(replaced) == {f"sg-im-2-{s}-listener" for s in ("short", "long", "ws")}
    assert any(n.startswith("3 listener(s) replaced (listenerPort changes): sg-im-2-") for n in result.notes)


def test_a_slot_taken_over_by_another_node_names_the_wrong_forward(base, tmp_path):
    head = plan(tmp_path, "head", cluster_with(CLUSTER["nodes"][0], node("im-2", 5), node("im-3", 2)), [SG])
    result = diff.compare(base, head, "base", "head")
    assert impacts(result) == {"im-1": "none", "im-2": "disruptive", "im-3": "additive"}
    im2 = by_node(result)["im-2"]
    # One reason for the cause, with its count, instead of a line per public port.
    eips = "sg-nlb-1-eip-ap-southeast-1a, sg-nlb-1-eip-ap-southeast-1b"
    assert (
        f"6 public ports now forward to im-3, not im-2: 3 ports (82, 1882, 8082) on 2 addresses ({eips})" in im2.reasons
    )
    assert len(im2.moved) == 6
    assert {"address": "sg-nlb-1-eip-ap-southeast-1a:1882", "from": "im-2/long", "to": "im-3/long"} in im2.moved


def test_a_slot_shift_reads_as_one_line_per_node_and_cause(tmp_path):
    nodes = [node(f"im-{n}", n) for n in range(1, 7)]
    shifted = [node(f"im-{n}", n + 1 if n >= 3 else n) for n in range(1, 7)]
    before = plan(tmp_path, "before", cluster_with(*nodes), [SG, FRA])
    after = plan(tmp_path, "after", cluster_with(*shifted), [SG, FRA])
    result = diff.compare(before, after, "base", "head")
    text = diff.render_text(result)
    assert "urn:" not in text and "<wfga:" not in text
    for n in (4, 5, 6):
        [why] = [
            line
            for line in text.splitlines()
            if line.startswith(f"    why: 12 public ports now forward to im-{n - 1},")
        ]
        assert f"not im-{n}: 3 ports ({80 + n}, {1880 + n}, {8080 + n}) on 4 addresses" in why
    # 4 nodes x 3 services x 2 access points: one line for the resources, one cause in the notes.
    assert [line for line in text.splitlines() if "alicloud:nlb/listener:Listener" in line] == [
        "  -/+ 24 x alicloud:nlb/listener:Listener  "
        + ", ".join(
            f"{ap}-im-{n}-{s}-listener" for ap in ("fra", "sg") for n in range(3, 7) for s in ("long", "short", "ws")
        )
        + " (listenerPort)  [replaced: listenerPort changes]"
    ]
    notes = text.split("\nNotes\n", 1)[1].splitlines()
    assert notes[0].startswith("  - 24 listener(s) replaced (listenerPort changes): fra-im-3-long-listener, ")
    assert not notes[1].startswith("  - ")  # one note for the one cause
    assert len(text.splitlines()) < 50
    markdown = diff.render_markdown(result)
    assert "24 listener(s) replaced" in markdown and "urn:" not in markdown


def test_adding_an_access_point_appends_entries(base, tmp_path):
    head = plan(tmp_path, "head", CLUSTER, [SG, FRA])
    result = diff.compare(base, head, "base", "head")
    assert impacts(result) == {"im-1": "additive", "im-2": "additive"}
    change = by_node(result)["im-1"]
    assert change.after[: len(change.before)] == change.before
    assert len(change.added) == 2
    assert change.reasons == []
    assert {r.type for r in result.resources if r.action == "create"} >= {
        "alicloud:nlb/loadBalancer:LoadBalancer",
        "alicloud:ecs/eipAddress:EipAddress",
    }


def test_an_access_point_inserted_first_is_still_additive_but_says_so(base, tmp_path):
    result = diff.compare(base, plan(tmp_path, "head", CLUSTER, [FRA, SG]), "base", "head")
    assert set(impacts(result).values()) == {"additive"}
    assert "not all at the end" in by_node(result)["im-1"].reasons[0]


def test_removing_an_access_point_is_disruptive(tmp_path, base):
    two = plan(tmp_path, "two", CLUSTER, [SG, FRA])
    result = diff.compare(two, base, "two", "one")
    assert set(impacts(result).values()) == {"disruptive"}
    assert any("load balancer fra-nlb-1 is deleted" in n for n in result.notes)


def test_changing_the_idle_timeout_touches_listeners_not_nodes(base, tmp_path):
    head = plan(tmp_path, "head", CLUSTER, [{**SG, "idle_timeout_s": 700}])
    result = diff.compare(base, head, "base", "head")
    assert (result.impact, result.exit_code) == ("none", 0)
    assert {r.action for r in result.resources} == {"update"}
    assert len(result.resources) == 6
    assert all(r.inputs == ["idleTimeout"] for r in result.resources)


def test_pinning_an_eip_replaces_an_address_and_deletes_a_protected_eip(base, tmp_path):
    pinned = {"load_balancer": 1, "zone": "ap-southeast-1a", "allocation_id": "eip-mine", "address": "47.74.1.77"}
    head = plan(tmp_path, "head", CLUSTER, [{**SG, "pinned_eips": [pinned]}])
    result = diff.compare(base, head, "base", "head")
    assert set(impacts(result).values()) == {"disruptive"}
    assert by_node(result)["im-1"].added == ["47.74.1.77:81:1881:8081"]
    deleted = [r for r in result.resources if r.action == "delete"]
    assert [r.name for r in deleted] == ["sg-nlb-1-eip-ap-southeast-1a"]
    assert "protected" in deleted[0].note
    assert any(r.name == "sg-nlb-1" and r.inputs == ["zoneMappings"] for r in result.resources)


def _resource(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in plan["resources"] if r["name"] == name)


def test_a_replaced_eip_readdresses_the_entries_behind_it(base):
    head = copy.deepcopy(base)
    _resource(head, "sg-nlb-1-eip-ap-southeast-1a")["inputs"]["isp"] = "BGP_PRO"
    result = diff.compare(base, head, "base", "head")
    assert set(impacts(result).values()) == {"disruptive"}
    change = by_node(result)["im-1"]
    assert len(change.readdressed) == 1
    assert change.removed == []
    assert [(r.action, r.name) for r in result.resources] == [("replace", "sg-nlb-1-eip-ap-southeast-1a")]
    assert "isp" in result.resources[0].note


def test_a_replaced_load_balancer_is_disruptive_even_with_the_same_entries(base):
    head = copy.deepcopy(base)
    _resource(head, "sg-nlb-1")["inputs"]["vpcId"] = "vpc-other"
    result = diff.compare(base, head, "base", "head")
    assert set(impacts(result).values()) == {"none"}
    assert (result.impact, result.exit_code) == ("disruptive", 3)
    assert any("sg-nlb-1 is replaced" in n for n in result.notes)


def test_a_replaced_load_balancer_that_holds_eips_is_deleted_first_and_says_so(base):
    assert _resource(base, "sg-nlb-1")["delete_before_replace"] is True
    head = copy.deepcopy(base)
    _resource(head, "sg-nlb-1")["inputs"]["vpcId"] = "vpc-other"
    result = diff.compare(base, head, "base", "head")
    (change,) = result.resources
    assert change.note == "replaced: vpcId changes; the old one is deleted first"
    (note,) = result.notes
    assert note.startswith("load balancer sg-nlb-1 is replaced, the old one deleted first")
    assert "the EIPs are separate, protected resources and keep their addresses" in note


AWS_NLB: dict[str, Any] = {
    "type": "aws:lb/loadBalancer:LoadBalancer",
    "urn": "urn:pulumi:t::wfga::wfga:aws_nlb_access_point:AwsNlbAccessPoint$aws:lb/loadBalancer:LoadBalancer::va-nlb-1",
    "name": "va-nlb-1",
    "custom": True,
    "delete_before_replace": True,
    "inputs": {
        "loadBalancerType": "network",
        "securityGroups": ["sg-1"],
        "subnetMappings": [{"subnetId": "subnet-a", "allocationId": "eipalloc-a"}],
    },
}


def _aws_nlb_change(**inputs: Any) -> diff.PlanDiff:
    head = copy.deepcopy(AWS_NLB)
    head["inputs"].update(inputs)
    return diff.compare({"resources": [AWS_NLB], "outputs": {}}, {"resources": [head], "outputs": {}}, "a", "b")


def test_an_aws_nlb_takes_new_subnets_in_place_but_is_replaced_when_one_goes_or_its_groups_do():
    # terraform-provider-aws customizeDiffLoadBalancerNLB decides, not a ForceNew flag.
    zone_b = {"subnetId": "subnet-b", "allocationId": "eipalloc-b"}
    added = _aws_nlb_change(subnetMappings=[*AWS_NLB["inputs"]["subnetMappings"], zone_b])
    assert [(r.action, r.inputs) for r in added.resources] == [("update", ["subnetMappings"])]
    assert added.impact == "none"
    removed = _aws_nlb_change(subnetMappings=[zone_b])
    assert [(r.action, r.note) for r in removed.resources] == [
        ("replace", "replaced: subnetMappings changes; the old one is deleted first")
    ]
    assert removed.impact == "disruptive"
    ungrouped = _aws_nlb_change(securityGroups=[])
    assert [(r.action, r.note) for r in ungrouped.resources] == [
        ("replace", "replaced: securityGroups changes; the old one is deleted first")
    ]
    regrouped = _aws_nlb_change(securityGroups=["sg-2"])
    assert [r.action for r in regrouped.resources] == ["update"]


def test_placeholder_addresses_are_compared_by_the_eip_behind_them(base):
    # Another run may hand the same EIP a different placeholder; that is not a change.
    head = copy.deepcopy(base)
    ips = [_resource(head, f"sg-nlb-1-eip-ap-southeast-1{z}")["state"]["ipAddress"] for z in "ab"]
    text = json.dumps(head).replace(ips[0], "SWAP").replace(ips[1], ips[0]).replace("SWAP", ips[1])
    result = diff.compare(base, json.loads(text), "base", "head")
    assert set(impacts(result).values()) == {"none"}


def test_renderings_carry_the_verdict(base, tmp_path):
    head = plan(tmp_path, "head", cluster_with(CLUSTER["nodes"][0]), [SG])
    result = diff.compare(base, head, "base", "head")
    text = diff.render_text(result)
    assert "DISRUPTIVE" in text
    assert "im-2: disruptive" in text
    markdown = diff.render_markdown(result)
    assert "| im-2 | **disruptive** |" in markdown
    assert "<details>" in markdown
    assert "\\* placeholder" in markdown  # escaped: not a Markdown list item
    assert json.loads(diff.render([result], "json"))[0]["impact"] == "disruptive"


def test_cli_compares_two_stack_files(base, tmp_path, capsys):
    old = write_stack(tmp_path / "old", CLUSTER, [SG])
    new = write_stack(tmp_path / "new", CLUSTER, [SG, FRA])
    out = tmp_path / "diff.md"
    assert main(["diff", str(old), str(new), "--format", "markdown", "--out", str(out)]) == 1
    assert out.read_text().startswith("### wfga diff `t`: additive")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["diff", "demo"], "give BASE and HEAD"),
        (["diff", "--all"], "--all compares every stack with --base-ref"),
        (["diff", "--base-ref", "HEAD", "a", "b"], "exactly one stack name"),
        (["diff", "no-such-ref-xyz:demo", "demo"], "is not a commit here"),
        (["diff", "missing.json", "demo"], "missing.json: cannot read a plan"),
    ],
)
def test_cli_bad_input_exits_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _project_copy(tmp_path: Path) -> Path:
    """A git work tree holding this checkout's program and the suite's Pulumi.yaml, no stacks yet."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "__main__.py", repo / "__main__.py")
    project = yaml.safe_load((PROJECT / "Pulumi.yaml").read_text())
    del project["main"]  # the copied program sits beside it
    (repo / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    for package in ("wfga", "components"):
        shutil.copytree(ROOT / package, repo / package, ignore=shutil.ignore_patterns("__pycache__"))
    _git(repo, "init", "-q")
    return repo


def _commit(repo: Path) -> None:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")


def _label_vpcs_the_old_way(repo: Path) -> Callable[[], None]:
    """Code to commit that labels VPCs differently (only the ref's own code produces that); the
    returned function puts the current code back."""
    component = repo / "components" / "networks.py"
    current = component.read_text()
    component.write_text(current.replace('description="wfga access point"', 'description="wfga access point (old)"'))

    def restore() -> None:
        component.write_text(current)

    return restore


def _linked_by_cen() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The cluster, sg and fra with VPCs wfga creates (link cen), so a changed VPC description shows."""
    cluster = {**CLUSTER, "attach_vswitches": {"cn-hangzhou-h": "vsw-h", "cn-hangzhou-i": "vsw-i"}}
    sg = {k: v for k, v in SG.items() if k not in ("vpc_id", "route_table_id", "vswitches")} | {"link": "cen"}
    fra = {k: v for k, v in FRA.items() if k not in ("vpc_id", "route_table_id", "vswitches")} | {"link": "cen"}
    return cluster, sg, fra


def test_a_git_ref_is_planned_with_its_own_code(tmp_path, monkeypatch, capsys):
    repo = _project_copy(tmp_path)
    restore = _label_vpcs_the_old_way(repo)
    cluster, sg, fra = _linked_by_cen()
    write_stack(repo / "stacks", cluster, [sg])
    _commit(repo)
    _git(repo, "branch", "release/base")
    restore()
    write_stack(repo / "stacks", cluster, [sg, fra])
    (repo / "stacks" / "Pulumi.n.yaml").write_text((repo / "stacks" / "Pulumi.t.yaml").read_text())

    results = {d.stack: d for d in diff.run(repo, [], "HEAD", all_stacks=True)}
    assert set(results) == {"n", "t"}
    assert "absent: new stack" in results["n"].base
    assert results["n"].impact == "additive"
    t = results["t"]
    assert (t.impact, t.base) == ("additive", "HEAD:t")
    vpc = [r for r in t.resources if r.name == "sg-vpc"]
    assert [(r.action, r.inputs) for r in vpc] == [("update", ["description"])]
    assert diff.worst_exit(list(results.values())) == 1
    # A ref with a slash, one stack: the same verdict.
    [single] = diff.run(repo, ["t"], "release/base", all_stacks=False)
    assert (single.base, single.head, single.impact) == ("release/base:t", "t", "additive")
    # The command line takes the stack as a name, a qualified name or its file, the same way.
    monkeypatch.chdir(repo)
    for stack in ("stacks/Pulumi.t.yaml", "organization/wfga/t"):
        assert main(["diff", "--base-ref", "release/base", stack, "--format", "json"]) == 1, stack
        [result] = json.loads(capsys.readouterr().out)
        assert (result["base"], result["impact"]) == ("release/base:t", "additive"), stack


def test_a_project_in_a_subdirectory_is_diffed_against_its_own_files_and_code_at_the_ref(tmp_path, monkeypatch):
    # The program at the top of the repository, the project (Pulumi.yaml, stacks/) in ops/ with
    # `main: ..`, as the suite's own fixture project is laid out.
    repo = _project_copy(tmp_path)
    project = repo / "ops"
    project.mkdir()
    (repo / "Pulumi.yaml").rename(project / "Pulumi.yaml")
    with (project / "Pulumi.yaml").open("a") as f:
        f.write("main: ..\n")
    restore = _label_vpcs_the_old_way(repo)
    cluster, sg, fra = _linked_by_cen()
    write_stack(project / "stacks", cluster, [sg])
    _commit(repo)
    restore()
    write_stack(project / "stacks", cluster, [sg, fra])
    monkeypatch.chdir(project)
    [result] = diff.run(project, ["t"], "HEAD", all_stacks=False)
    # The stack existed at HEAD (not "absent: new stack"), planned with HEAD's code from above ops/.
    assert (result.base, result.impact) == ("HEAD:t", "additive")
    vpc = [r for r in result.resources if r.name == "sg-vpc"]
    assert [(r.action, r.inputs) for r in vpc] == [("update", ["description"])]


def test_a_ref_with_this_code_is_planned_here_and_an_unchanged_stack_once(tmp_path, monkeypatch):
    repo = _project_copy(tmp_path)
    write_stack(repo / "stacks", CLUSTER, [SG])
    (repo / "stacks" / "Pulumi.u.yaml").write_text((repo / "stacks" / "Pulumi.t.yaml").read_text())
    _commit(repo)
    write_stack(repo / "stacks", CLUSTER, [SG, FRA])
    planned: list[str] = []
    real = engine.run_program

    def counting(stack: StackValues, root: Path, resolver: Any = None) -> engine.Plan:
        planned.append(stack.stack)
        return real(stack, root, resolver)

    monkeypatch.setattr(engine, "run_program", counting)
    results = {d.stack: d for d in diff.run(repo, [], "HEAD", all_stacks=True)}
    # Both sides of t in this process (a child process would plan the ref's side unseen), u once.
    assert sorted(planned) == ["t", "t", "u"]
    assert (results["t"].impact, results["u"].impact) == ("additive", "none")
    assert results["u"].resources == []


def test_a_stack_the_ref_cannot_plan_is_named_with_the_ref(tmp_path):
    repo = _project_copy(tmp_path)
    write_stack(repo / "stacks", CLUSTER, [{**SG, "zones": ["ap-southeast-1a"]}])  # an NLB needs two
    _commit(repo)
    write_stack(repo / "stacks", CLUSTER, [SG])
    with pytest.raises(diff.DiffInputError, match=r"(?s)planning stack t at HEAD failed:\n.*zones: kind nlb"):
        diff.run(repo, [], "HEAD", all_stacks=True)


def test_switching_web_clients_off_and_on_is_named_and_moved_nodes_are_disruptive(tmp_path):
    nodes = [node(f"im-{s}", s) for s in range(1, 19)]
    web = plan(tmp_path, "web", cluster_with(*nodes), [SG])
    native = plan(tmp_path, "native", {**cluster_with(*nodes), "web_clients": False}, [SG])
    off = diff.compare(web, native, "a", "b")
    assert off.notes[0].startswith("web_clients switched off: every ws listener is deleted")
    got = impacts(off)
    # 16 nodes per NLB with ws listeners, 25 without: slots 17 and 18 move from nlb-2 to nlb-1.
    assert {n for n, i in got.items() if i == "disruptive"} == {"im-17", "im-18"}
    assert {i for n, i in got.items() if n not in ("im-17", "im-18")} == {"none"}
    assert off.impact == "disruptive"
    deleted = [r for r in off.resources if r.action == "delete" and r.type == "alicloud:nlb/listener:Listener"]
    assert sorted(r.name for r in deleted) == sorted(f"sg-im-{s}-ws-listener" for s in range(1, 19))
    moved = [r for r in off.resources if r.type == "alicloud:nlb/listener:Listener" and r.action != "delete"]
    assert sorted(r.name for r in moved) == [f"sg-im-{s}-{x}-listener" for s in (17, 18) for x in ("long", "short")]
    assert all("loadBalancerId" in r.inputs for r in moved)
    assert "load balancer sg-nlb-2 is deleted" in off.notes
    on = diff.compare(native, web, "b", "a")
    assert on.notes[0].startswith("web_clients switched on: ws listeners are created")
    assert {n for n, i in impacts(on).items() if i == "disruptive"} == {"im-17", "im-18"}


def test_switching_web_clients_off_with_few_nodes_moves_nobody(tmp_path, base):
    native = plan(tmp_path, "native", {**CLUSTER, "web_clients": False}, [SG])
    result = diff.compare(base, native, "a", "b")
    assert result.impact == "none"
    assert result.notes[0].startswith("web_clients switched off")
    assert diff.web_switch_note(base, base) is None


def test_notes_alike_but_for_the_resource_are_said_once_with_the_names():
    eip = "alicloud:ecs/eipAddress:EipAddress"
    protected = "protected: `pulumi up` refuses to delete it until it is unprotected"
    names = ["fra-nlb-1-eip-eu-central-1a", "fra-nlb-1-eip-eu-central-1b"]
    resources = [diff.ResourceChange("delete", eip, n, f"k::{n}", note=protected) for n in names]
    notes = [f"EIP {n} is deleted ({protected})" for n in names] + ["something else entirely"]
    text = diff.render_text(diff.PlanDiff("t", "a", "b", [], resources, notes))
    assert f"    - 2 x {eip}  {', '.join(names)}  [{protected}]" in text
    tail = text.split("\nNotes\n", 1)[1].splitlines()
    assert tail == [
        f"  - 2 x: EIP NAME is deleted ({protected})",
        f"      NAME: {', '.join(names)}",
        "  - something else entirely",
    ]
