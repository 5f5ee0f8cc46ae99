"""VM access points on day 2, under mocks: a new config reaches the running VMs only by delivery.

Adding a node must leave every instance, EIP and EIP association alone (user data and image are
ignored after the first deploy) and change only the Cloud Assistant command and invocation
(Alibaba) and the Systems Manager document and association (AWS), whose content is the new config.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import plan_values, stack_plan, stack_values
from tests.vm_delivery import DELIVERED, delivery_for, instances, run_with_recorders, written_files
from wfga.model.config import parse_stack_config
from wfga.offline.engine import Plan
from wfga.ops import diff
from wfga.plan.cloudinit import APPLY_SCRIPT, STAGED_CONF, bootstrap_files
from wfga.plan.portplan import plan_stack

EIP_TYPES = {"alicloud:ecs/eipAddress:EipAddress", "aws:ec2/eip:Eip"}
EIP_ASSOCIATIONS = {"alicloud:ecs/eipAssociation:EipAssociation", "aws:ec2/eipAssociation:EipAssociation"}
DELIVERY = {
    "alicloud:ecs/command:Command",
    "alicloud:ecs/ecsInvocation:EcsInvocation",
    "aws:ssm/document:Document",
    "aws:ssm/association:Association",
}
# Security group rules cover the public port range, which grows by one port per service.
RULES = {
    "alicloud:ecs/securityGroupRule:SecurityGroupRule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
}
NEW_NODE = {"name": "im-7", "slot": 7, "private_ip": "172.16.0.17"}


def with_new_node(values: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(values)
    changed["wfga:cluster"]["nodes"].append(dict(NEW_NODE))
    return changed


@pytest.fixture(scope="module")
def grown() -> Plan:
    return plan_values(with_new_node(stack_values("vm-demo")), stack="vm-demo")


def carrier_files(values: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``<access point>-<vm>`` -> the files the renderer makes for that VM, straight from the port plan."""
    result = {}
    for ap_plan in plan_stack(parse_stack_config(values)):
        vm = ap_plan.config.vm
        assert vm is not None
        for carrier in ap_plan.load_balancers:
            files = bootstrap_files(list(carrier.mappings), distro=vm.distro, connections=vm.connections)
            result[f"{ap_plan.name}-{carrier.key}"] = {f.path: f.content for f in files}
    return result


def test_instances_ignore_user_data_and_image_after_the_first_deploy():
    plan = stack_plan("vm-demo")
    got = {r.name: r.ignore_changes for r in instances(plan)}
    # The key pair and, on AWS, the public address at launch also only matter when a VM is created.
    assert got == {
        "tyo-vm-1": ["userData", "imageId", "keyName"],
        "tyo-vm-2": ["userData", "imageId", "keyName"],
        "va-vm-1": ["userData", "userDataBase64", "ami", "associatePublicIpAddress", "keyName"],
    }


def test_adding_a_node_changes_only_the_delivery_whose_content_is_the_new_config(grown, tmp_path):
    base = stack_plan("vm-demo")
    result = diff.compare(base.to_json(), grown.to_json(), "base", "head")
    changed = {(r.type, r.name): r for r in result.resources}
    touched = {t for t, _ in changed}
    assert touched <= DELIVERY | RULES, touched
    assert not touched & (set(diff.VM_TYPES) | EIP_TYPES | EIP_ASSOCIATIONS)
    assert {(t, n) for t, n in changed if t in DELIVERY} == {
        ("alicloud:ecs/command:Command", "tyo-vm-1-nginx"),
        ("alicloud:ecs/command:Command", "tyo-vm-2-nginx"),
        ("alicloud:ecs/ecsInvocation:EcsInvocation", "tyo-vm-1-nginx"),
        ("alicloud:ecs/ecsInvocation:EcsInvocation", "tyo-vm-2-nginx"),
        ("aws:ssm/document:Document", "va-vm-1-nginx"),
        ("aws:ssm/association:Association", "va-vm-1-nginx"),
    }
    # A new config replaces the command and the document (ForceNew name) and so re-runs the delivery.
    assert all(r.action == "replace" for (t, _), r in changed.items() if t in DELIVERY)
    # The instances' own user data did change, and only ignore_changes keeps it off the VMs.
    for old, new in zip(instances(base), instances(grown), strict=True):
        assert old.name == new.name
        assert written_files(old) != written_files(new)
    expected = carrier_files(with_new_node(stack_values("vm-demo")))
    for i, instance in enumerate(instances(grown)):
        delivery = delivery_for(grown, instance.id)
        assert delivery.definition["inputs"]["name"].startswith(f"wfga-{instance.name}-nginx-")
        ran = run_with_recorders(delivery.script, tmp_path / str(i))
        assert ran.returncode == 0, ran.stderr
        assert {path: ran.file(path) for path in DELIVERED} == expected[instance.name]
        assert "proxy_pass 172.16.0.17:1883;" in ran.file(STAGED_CONF)
        assert ran.calls[-1] == "systemctl reload nginx"
    assert result.impact == "additive"


def test_the_delivery_carries_exactly_what_the_user_data_bootstraps(tmp_path):
    plan = stack_plan("vm-demo")
    for i, instance in enumerate(instances(plan)):
        ran = run_with_recorders(delivery_for(plan, instance.id).script, tmp_path / str(i))
        assert ran.returncode == 0, ran.stderr
        assert {path: ran.file(path) for path in DELIVERED} == written_files(instance)


def test_a_new_config_gets_a_new_name_and_an_unchanged_one_keeps_it(grown):
    base = stack_plan("vm-demo")
    again = plan_values(stack_values("vm-demo"), stack="vm-demo")
    for old, same, new in zip(instances(base), instances(again), instances(grown), strict=True):
        before = delivery_for(base, old.id).definition["inputs"]["name"]
        assert delivery_for(again, same.id).definition["inputs"]["name"] == before
        assert delivery_for(grown, new.id).definition["inputs"]["name"] != before


def test_an_image_change_upstream_changes_nothing():
    base = stack_plan("vm-demo").to_json()
    head = copy.deepcopy(base)
    for res in head["resources"]:
        if res["type"] in diff.VM_TYPES:
            attr = "ami" if res["type"].startswith("aws:") else "imageId"
            res["inputs"][attr] = res["inputs"][attr] + "-newer"
    result = diff.compare(base, head, "base", "head")
    assert (result.resources, result.impact) == ([], "none")
    # Without ignore_changes the same look-up would replace (EC2) or re-image (ECS) every VM.
    for res in head["resources"]:
        res["ignore_changes"] = []
    unguarded = diff.compare(base, head, "base", "head")
    assert unguarded.impact == "disruptive"
    assert {(r.action, r.name) for r in unguarded.resources} == {
        ("replace", "va-vm-1"),
        ("update", "tyo-vm-1"),
        ("update", "tyo-vm-2"),
    }
    assert "VM va-vm-1 is replaced (ami): every link through it drops" in unguarded.notes


def test_an_image_id_in_the_stack_keeps_running_vms(grown):
    values = stack_values("vm-demo")
    values["wfga:access_points"][1]["vm"]["image_id"] = "ami-0123456789abcdef0"
    result = diff.compare(stack_plan("vm-demo").to_json(), plan_values(values).to_json(), "base", "head")
    assert result.resources == []


def test_diff_names_the_delivery_that_makes_a_new_nodes_entries_work(grown):
    result = diff.compare(stack_plan("vm-demo").to_json(), grown.to_json(), "base", "head")
    change = next(n for n in result.nodes if n.node == "im-7")
    assert change.impact == "additive"
    commands = {
        r.name: delivery_for(grown, r.id).definition["inputs"]["name"]
        for r in instances(grown)
        if r.type in diff.VM_TYPES
    }
    assert sorted(n for n in result.notes if " runs on VM " in n) == sorted(
        [
            f"Cloud Assistant command {commands['tyo-vm-1']} runs on VM tyo-vm-1",
            f"Cloud Assistant command {commands['tyo-vm-2']} runs on VM tyo-vm-2",
            f"Systems Manager document {commands['va-vm-1']} runs on VM va-vm-1",
        ]
    )
    assert len([r for r in change.reasons if "forwards once" in r]) == 3


def test_diff_without_delivery_calls_a_new_vm_entry_disruptive(grown):
    """A program that still changes user data (no delivery, nothing ignored): reboot, and dead entries."""

    def without_delivery(plan: Plan) -> dict[str, Any]:
        data = plan.to_json()
        data["resources"] = [r for r in data["resources"] if r["type"] not in DELIVERY]
        for res in data["resources"]:
            res["ignore_changes"] = []
        return data

    result = diff.compare(without_delivery(stack_plan("vm-demo")), without_delivery(grown), "base", "head")
    assert result.impact == "disruptive"
    change = next(n for n in result.nodes if n.node == "im-7")
    assert change.impact == "disruptive"
    assert any("VM tyo-vm-1 gets no new nginx config" in r for r in change.reasons)
    assert any(n.startswith("VM tyo-vm-1 is rebooted (userData)") for n in result.notes)
    assert any(n.startswith("VM va-vm-1 is rebooted (userDataBase64)") for n in result.notes)


def test_a_failing_delivery_exits_non_zero_and_keeps_the_live_config(tmp_path):
    plan = stack_plan("vm-demo")
    instance = instances(plan)[0]
    ran = run_with_recorders(delivery_for(plan, instance.id).script, tmp_path, config_ok=False)
    assert ran.returncode != 0
    assert "the running config stays in place" in ran.stderr
    assert not (ran.root / "etc/nginx/nginx.conf").exists()
    assert not any(c.startswith(("systemctl reload", "systemctl start", "systemctl restart nginx")) for c in ran.calls)


def test_a_fresh_vm_waits_for_cloud_init_then_starts_nginx(tmp_path):
    plan = stack_plan("vm-demo")
    ran = run_with_recorders(delivery_for(plan, instances(plan)[0].id).script, tmp_path, active=False)
    assert ran.returncode == 0, ran.stderr
    assert ran.calls[0] == "cloud-init status --wait"
    assert ran.calls[-1] == "systemctl start nginx"
    assert (ran.root / APPLY_SCRIPT.lstrip("/")).stat().st_mode & 0o777 == 0o755
    assert Path(ran.root / "etc/nginx/nginx.conf").read_text() == ran.file(STAGED_CONF)


def test_aws_gets_the_ssm_agent_role_through_an_instance_profile():
    plan = stack_plan("vm-demo")
    (instance,) = [r for r in plan.resources if r.type == "aws:ec2/instance:Instance"]
    (profile,) = plan.of_type("aws:iam/instanceProfile:InstanceProfile")
    (role,) = plan.of_type("aws:iam/role:Role")
    (attachment,) = plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert instance.inputs["iamInstanceProfile"] == profile.state["name"]
    assert profile.inputs["role"] == role.state["name"] == attachment.inputs["role"]
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    assert '"Service": "ec2.amazonaws.com"' in role.inputs["assumeRolePolicy"]
    assert attachment.urn in instance.dependencies
    (association,) = plan.of_type("aws:ssm/association:Association")
    assert association.inputs["maxErrors"] == "0"
    assert association.inputs["waitForSuccessTimeoutSeconds"] > 1200


def test_alibaba_invocation_waits_long_enough_for_a_fresh_vm():
    plan = stack_plan("vm-demo")
    commands = plan.of_type("alicloud:ecs/command:Command")
    assert {c.inputs["timeout"] for c in commands} == {1200}
    invocations = plan.of_type("alicloud:ecs/ecsInvocation:EcsInvocation")
    assert {r.inputs["repeatMode"] for r in invocations} == {"Once"}
    # The provider waits 1 minute by default; a fresh VM's bootstrap takes longer.
    assert [r.custom_timeouts for r in invocations] == [{"create": "25m"}] * 2
