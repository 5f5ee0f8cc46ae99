"""The shipped stacks describe what the clouds accept: each cloud rule that once failed on them, per stack."""

from __future__ import annotations

import re

import pytest

from tests.conftest import stack_plan
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


@pytest.mark.parametrize("stack", ["aws-demo", "mixed-demo", "vm-demo"])
def test_aws_public_addresses_wait_for_the_internet_gateway(stack):
    plan = stack_plan(stack)
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
