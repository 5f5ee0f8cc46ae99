"""The shipped stacks describe what the clouds accept: each cloud rule that once failed on them, per stack."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import PROJECT, plan_values, project_env, stack_plan, stack_values
from wfga.offline import rules
from wfga.offline.engine import Plan


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


def test_plan_refuses_what_the_cloud_refuses_exit_2_listing_every_violation(tmp_path):
    # pulumi-aws issue 1317: fine as written, too long once Pulumi adds its auto-name suffix.
    stack = tmp_path / "Pulumi.long.yaml"
    stack.write_text(LONG_NAMED, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "wfga", "plan", "--config-file", str(stack)],
        cwd=PROJECT,
        env=project_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0] == "the plan breaks 18 cloud rule(s); a real `pulumi up` would fail:"
    items = [line for line in lines if line.startswith("  - ")]
    assert len(items) == 18  # one target group per node and service: 6 x 3
    assert all("[rule aws-target-group-name; source: botocore elbv2:CreateTargetGroupInput.Name;" in i for i in items)
    assert (
        "  - aws:lb/targetGroup:TargetGroup frankfurt-edge-im-1-short-tg: name (absent: Pulumi auto-names it "
        "frankfurt-edge-im-1-short-tg-<7 random characters>): 'frankfurt-edge-im-1-short-tg-xxxxxxx' has 36 "
        "characters, at most 32"
    ) in proc.stderr
    assert lines[-1] == "see docs/cloud-rules.md for each rule and its source"


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
