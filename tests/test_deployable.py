"""The shipped stacks describe what the clouds accept: each cloud rule that once failed on them, per stack."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys

import pytest

from components import aws_nlb_access_point
from tests.conftest import PROJECT, one, plan_values, project_env, stack_plan, stack_values
from wfga import cli
from wfga.offline import rules
from wfga.offline.engine import Plan, run_program
from wfga.offline.stackfile import StackValues


def broken(plan: Plan, rule: str) -> list[str]:
    return [str(v) for v in rules.check(plan.resources) if v.rule == rule]


@pytest.mark.parametrize("stack", ["demo", "mixed-demo", "sg", "fra"])
def test_alicloud_nlb_descriptions_have_no_spaces(stack):
    plan = stack_plan(stack)
    assert broken(plan, "alicloud-nlb-description") == []
    listeners = plan.of_type(rules.ALI_NLB_LISTENER)
    attachments = plan.of_type(rules.ALI_NLB_ATTACHMENT)
    assert listeners and attachments
    for listener in listeners:
        assert re.fullmatch(r"wfga/[a-z0-9-]+/im-\d/(short|long|ws)", listener.inputs["listenerDescription"])
    for attachment in attachments:
        assert re.fullmatch(r"wfga/im-\d/(short|long|ws)", attachment.inputs["description"])


@pytest.mark.parametrize("stack", ["aws-demo", "mixed-demo"])
def test_aws_health_check_timeout_is_below_the_interval(stack):
    plan = stack_plan(stack)
    assert broken(plan, "aws-target-group-timeout-below-interval") == []
    groups = plan.of_type(rules.AWS_TARGET_GROUP)
    assert groups
    for group in groups:
        check = group.inputs["healthCheck"]
        assert check["timeout"] < check["interval"]


def aws_vm_demo() -> Plan:
    # An AWS VM access point in a VPC wfga creates (the shipped VM one uses the operator's VPC).
    values = stack_values("aws-demo")
    values["wfga:access_points"][0].update(kind="vm", vm={"instance_type": "c7i.large", "distro": "amazon-linux"})
    return plan_values(values)


@pytest.mark.parametrize("stack", ["aws-demo", "aws-vm"])
def test_aws_public_addresses_wait_for_the_internet_gateway(stack):
    plan = aws_vm_demo() if stack == "aws-vm" else stack_plan(stack)
    assert broken(plan, "aws-nlb-internet-gateway") == []
    assert broken(plan, "aws-eip-association-internet-gateway") == []
    gateways = {g.parent: g.urn for g in plan.of_type(rules.AWS_INTERNET_GATEWAY)}
    waiting = plan.of_type(rules.AWS_LB) + plan.of_type(rules.AWS_EIP_ASSOCIATION)
    assert waiting
    for resource in waiting:
        assert gateways[resource.parent] in resource.dependencies, resource.name


@pytest.mark.parametrize("stack", ["aws-demo", "mixed-demo", "vm-demo"])
def test_aws_security_groups_have_names_ec2_accepts(stack):
    # aws-demo has an access point called "sg": auto-named, its groups began with "sg-".
    plan = stack_plan(stack)
    assert broken(plan, "aws-security-group-text") == []
    groups = plan.of_type(rules.AWS_SECURITY_GROUP)
    assert groups
    assert all(g.inputs["name"].startswith("wfga-") for g in groups)
    assert len({(g.inputs["vpcId"], g.inputs["name"]) for g in groups}) == len(groups)


LONG_NAMED = """\
config:
  wfga:access_points:
    - name: frankfurt-edge
      cloud: aws
      region: eu-central-1
      link: existing
      vpc_cidr: 10.41.0.0/16
      vpc_id: vpc-0e1a5a7c3d9b24f61
      route_table_id: rtb-0e1a5a7c3d9b24f62
      subnets: {eu-central-1a: subnet-0e1a5a7c3d9b24f6a, eu-central-1b: subnet-0e1a5a7c3d9b24f6b}
      zones: [eu-central-1a, eu-central-1b]
"""


def test_a_long_access_point_name_plans_with_explicit_names_that_fit(tmp_path):
    # pulumi-aws issue 1317: auto-named, frankfurt-edge-im-1-short-tg-<7> had 36 characters.
    stack = tmp_path / "Pulumi.long.yaml"
    stack.write_text(LONG_NAMED, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "wfga", "plan", "--config-file", str(stack), "--json", str(tmp_path / "plan.json")],
        cwd=PROJECT,
        env=project_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    plan = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    named = [r for r in plan["resources"] if r["type"] in (rules.AWS_LB, rules.AWS_TARGET_GROUP)]
    assert len(named) == 1 + 18  # one NLB, a target group per node and service
    assert all(len(r["inputs"]["name"]) <= 32 for r in named)
    group = next(r for r in named if r["name"] == "frankfurt-edge-im-1-short-tg")
    # The readable head is cut to fit; the tags keep what it loses.
    assert re.fullmatch(r"wfga-frankfurt-edge-im-[0-9a-f]{8}", group["inputs"]["name"])
    assert group["inputs"]["tags"]["wfga:node"] == "im-1"
    assert group["inputs"]["tags"]["wfga:service"] == "short"


def test_plan_refuses_what_the_cloud_refuses_exit_2_listing_every_violation(tmp_path, monkeypatch, capsys):
    # Reintroduce the defect: target groups left to Pulumi's auto-naming again.
    monkeypatch.setattr(aws_nlb_access_point, "target_group_name", lambda *args, **kwargs: None)
    stack = tmp_path / "Pulumi.long.yaml"
    stack.write_text(LONG_NAMED, encoding="utf-8")
    assert cli.main(["plan", "--config-file", str(stack)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines[0] == "the plan breaks 18 cloud rule(s); a real `pulumi up` would fail:"
    items = [line for line in lines if line.startswith("  - ")]
    assert len(items) == 18  # one target group per node and service: 6 x 3
    assert all("[rule aws-target-group-name; source: botocore elbv2:CreateTargetGroupInput.Name;" in i for i in items)
    assert (
        "  - aws:lb/targetGroup:TargetGroup frankfurt-edge-im-1-short-tg: name (absent: Pulumi auto-names it "
        "frankfurt-edge-im-1-short-tg-<7 random characters>): 'frankfurt-edge-im-1-short-tg-xxxxxxx' has 36 "
        "characters, at most 32"
    ) in err
    assert lines[-1] == "see docs/cloud-rules.md for each rule and its source"


@pytest.mark.parametrize("stack", ["aws-demo", "mixed-demo"])
def test_aws_load_balancers_and_target_groups_have_explicit_names_unique_in_their_region(stack):
    plan = stack_plan(stack)
    for rule in ("aws-lb-name", "aws-target-group-name", "aws-elbv2-name-unique"):
        assert broken(plan, rule) == []
    for type_ in (rules.AWS_LB, rules.AWS_TARGET_GROUP):
        named = plan.of_type(type_)
        assert named
        assert all(re.fullmatch(r"wfga-[a-z0-9-]*[a-z0-9]-[0-9a-f]{8}", r.inputs["name"]) for r in named)
        assert len({(r.inputs["region"], r.inputs["name"]) for r in named}) == len(named)
    for lb in plan.of_type(rules.AWS_LB):
        assert lb.inputs["tags"]["wfga:access-point"] in lb.name


def test_two_stacks_with_the_same_access_point_name_in_one_region_never_share_a_name():
    values = stack_values("aws-demo")
    names = []
    for stack in ("prod", "staging"):
        plan = plan_values(copy.deepcopy(values), stack=stack)
        names.append({r.inputs["name"] for t in (rules.AWS_LB, rules.AWS_TARGET_GROUP) for r in plan.of_type(t)})
    assert len(names[0]) == len(names[1]) > 0
    assert names[0].isdisjoint(names[1])


@pytest.mark.parametrize("stack", ["demo", "mixed-demo", "aws-demo", "sg", "fra"])
def test_load_balancers_holding_eips_are_deleted_before_their_replacement(stack):
    plan = stack_plan(stack)
    assert broken(plan, "nlb-eips-delete-before-replace") == []
    nlbs = plan.of_type(rules.AWS_LB) + plan.of_type(rules.ALI_NLB)
    assert nlbs
    assert all(n.delete_before_replace for n in nlbs)
    # Only the load balancers: a listener or target group replaced create-first keeps serving meanwhile.
    others = [r for r in plan.resources if r.delete_before_replace and r.type not in (rules.AWS_LB, rules.ALI_NLB)]
    assert others == []


def test_cloudflare_rules_live_in_one_ruleset_per_zone_and_phase_not_in_page_rules():
    # Page Rules are deprecated and the Free plan allows 3 per zone.
    plan = stack_plan("edge-demo")
    assert plan.of_type("cloudflare:index/pageRule:PageRule") == []
    for rule in ("cloudflare-ruleset-one-per-zone-phase", "cloudflare-ruleset-phase-action"):
        assert broken(plan, rule) == []
    rulesets = plan.of_type(rules.CF_RULESET)
    assert sorted((r.inputs["zoneId"], r.inputs["phase"]) for r in rulesets) == [
        ("023e105f4ecef8ad9ca31a8372d0c353", "http_config_settings"),
        ("023e105f4ecef8ad9ca31a8372d0c353", "http_request_cache_settings"),
    ]


def aws_turn_demo() -> Plan:
    # AWS TURN relays in VPCs wfga creates (the shipped av-demo relays sit in the operator's VPC).
    values = stack_values("aws-demo")
    values["wfga:av"] = {
        "janus": {"private_ips": ["10.0.1.50"], "rtp_ports": {"min": 20000, "max": 40000}},
        "turn": {"realm": "turn.example.com", "user": "wfchat"},
        "access_points": {"sg": {"instance_type": "c7i.large", "distro": "ubuntu"}},
    }
    values["wfga:turn_password"] = "offline-placeholder"
    return run_program(StackValues(stack="t", values=values, secret_keys=frozenset({"wfga:turn_password"})), PROJECT)


@pytest.mark.parametrize("stack", ["aws-vm", "aws-turn"])
def test_aws_vms_reach_the_package_mirrors_at_their_first_boot(stack):
    # cloud-init installs nginx (coturn) at the first boot; the EIP is only associated afterwards.
    plan = aws_vm_demo() if stack == "aws-vm" else aws_turn_demo()
    instances = plan.of_type(rules.AWS_INSTANCE)
    assert instances
    by_urn = plan.by_urn()
    subnets = {s.id: s for s in plan.of_type(rules.AWS_SUBNET)}
    for instance in instances:
        assert instance.inputs["associatePublicIpAddress"] is True, instance.name
        subnet = subnets[instance.inputs["subnetId"]]
        deps = [by_urn[d] for d in instance.dependencies if d in by_urn]
        gateway = one([d for d in deps if d.type == rules.AWS_INTERNET_GATEWAY], "gateway")
        assert gateway.inputs["vpcId"] == subnet.inputs["vpcId"]
        route = one([d for d in deps if d.type == "aws:ec2/route:Route"], "default route")
        assert (route.inputs["destinationCidrBlock"], route.inputs["gatewayId"]) == ("0.0.0.0/0", gateway.id)
        association = one([d for d in deps if d.type == "aws:ec2/routeTableAssociation:RouteTableAssociation"], "rt")
        assert association.inputs["subnetId"] == subnet.id
        assert association.inputs["routeTableId"] == route.inputs["routeTableId"]
