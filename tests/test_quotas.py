"""wfga:quotas: the plan warns when the EIPs a stack creates in a region exceed the account's quota."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT, plan_values, stack_plan, stack_values
from wfga import cli
from wfga.model.base import ConfigError
from wfga.model.config import Quotas, parse_stack_config
from wfga.offline.engine import run_program
from wfga.offline.stackfile import StackValues
from wfga.ops.report import bill_of_materials, quota_warnings, render_plan


def test_aws_defaults_to_five_per_region_and_alibaba_to_no_judgement():
    quotas = Quotas()
    assert quotas.eips("aws", "eu-central-1") == 5
    assert quotas.eips("alicloud", "ap-southeast-1") is None
    raised = Quotas.model_validate({"aws": {"eips": 10, "regions": {"eu-central-1": {"eips": 20}}}})
    assert (raised.eips("aws", "eu-central-1"), raised.eips("aws", "ap-southeast-1")) == (20, 10)
    # The same region name on the other cloud is another account quota.
    assert raised.eips("alicloud", "eu-central-1") is None


def test_aws_demo_fits_the_default_and_a_lower_quota_warns_per_region():
    plan = stack_plan("aws-demo")  # 2 EIPs in ap-southeast-1, 3 in eu-central-1
    assert quota_warnings(plan, Quotas()) == []
    warnings = quota_warnings(plan, Quotas.model_validate({"aws": {"eips": 2}}))
    assert warnings == [
        "aws eu-central-1: this stack creates 3 EIPs, above the quota of 2 (wfga:quotas.aws.eips); the account's "
        "other EIPs there count too. Raise it (Service Quotas, Amazon EC2, 'EC2-VPC Elastic IPs') before "
        "`pulumi up`, then set wfga:quotas.aws.regions.eu-central-1.eips"
    ]


def test_turn_relays_eips_count_and_pinned_ones_do_not():
    # av-demo: sg (Alibaba) has 2 NLB zones + 2 TURN servers, va (AWS, us-east-1) 2 NLB zones + 1.
    plan = stack_plan("av-demo")
    assert quota_warnings(plan, Quotas()) == []
    low = Quotas.model_validate({"aws": {"eips": 2}, "alicloud": {"eips": 3}})
    sg, va = quota_warnings(plan, low)
    assert sg.startswith(
        "alicloud ap-southeast-1: this stack creates 4 EIPs, above the quota of 3 (wfga:quotas.alicloud"
    )
    assert va.startswith("aws us-east-1: this stack creates 3 EIPs, above the quota of 2 (wfga:quotas.aws.eips)")
    # A pinned TURN EIP already exists: the account holds it whether or not this stack runs.  Its
    # address is a public one (documentation ranges are refused like any non-public address).
    values = stack_values("av-demo")
    values["wfga:av"]["access_points"]["sg"]["pinned_eips"] = [
        {"server": 1, "allocation_id": "eip-pinned1", "address": "47.88.10.7"}
    ]
    values["wfga:av"]["access_points"]["va"]["pinned_eips"] = [
        {"server": 1, "allocation_id": "eipalloc-pinned1", "address": "54.85.10.8"}
    ]
    pinned = run_program(
        StackValues(stack="test", values=values, secret_keys=frozenset({"wfga:turn_password"})), PROJECT
    )
    assert {row["region"]: row["EIPs"] for row in bill_of_materials(pinned) if row["EIPs"]} == {
        "ap-southeast-1": 3,
        "us-east-1": 2,
    }
    assert quota_warnings(pinned, low) == []


def _forty_node_aws() -> dict[str, Any]:
    values = copy.deepcopy(stack_values("aws-demo"))
    cluster = values["wfga:cluster"]
    cluster["nodes"] = [
        {"name": f"im-{s}", "slot": s, "private_ip": f"10.0.{s // 100}.{10 + s % 100}"} for s in range(1, 41)
    ]
    return values


def test_forty_nodes_pass_aws_default_in_both_regions_and_a_raised_region_quota_silences_one():
    values = _forty_node_aws()
    plan = plan_values(values)  # 40 nodes at 16 per NLB: 3 NLBs, x 2 zones in sg, x 3 in fra
    sg, fra = quota_warnings(plan, Quotas())
    assert sg.startswith("aws ap-southeast-1: this stack creates 6 EIPs, above the quota of 5 (AWS's default")
    assert fra.startswith("aws eu-central-1: this stack creates 9 EIPs, above the quota of 5 (AWS's default")
    values["wfga:quotas"] = {"aws": {"regions": {"eu-central-1": {"eips": 10}}}}
    assert quota_warnings(plan, parse_stack_config(values).quotas) == [
        "aws ap-southeast-1: this stack creates 6 EIPs, above the quota of 5 (AWS's default, 5 per region); the "
        "account's other EIPs there count too. Raise it (Service Quotas, Amazon EC2, 'EC2-VPC Elastic IPs') "
        "before `pulumi up`, then set wfga:quotas.aws.regions.ap-southeast-1.eips"
    ]
    text = render_plan(plan, quotas=parse_stack_config(values).quotas)
    assert "Quota warnings\n  ! aws ap-southeast-1: this stack creates 6 EIPs" in text


def test_alibaba_is_judged_only_where_the_stack_gives_its_quota():
    plan = stack_plan("demo")
    assert quota_warnings(plan, Quotas()) == []
    (warning,) = quota_warnings(plan, Quotas.model_validate({"alicloud": {"regions": {"ap-southeast-1": {"eips": 1}}}}))
    assert warning.startswith("alicloud ap-southeast-1: this stack creates ")
    assert "(wfga:quotas.alicloud.regions.ap-southeast-1.eips)" in warning
    assert "Quota Center" in warning


def test_the_plan_prints_the_warning_and_still_exits_0(tmp_path, capsys):
    base = stack_values("aws-demo")
    path = tmp_path / "Pulumi.q.yaml"
    path.write_text(yaml.safe_dump({"config": {**base, "wfga:quotas": {"aws": {"eips": 2}}}}), encoding="utf-8")
    assert cli.main(["plan", "--config-file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Quota warnings\n  ! aws eu-central-1: this stack creates 3 EIPs, above the quota of 2" in out


@pytest.mark.parametrize(
    ("quotas", "expected"),
    [
        ({"aws": {"eips": 0}}, "wfga:quotas.aws.eips"),
        ({"gcp": {"eips": 5}}, "wfga:quotas.gcp"),
        ({"aws": {"regions": {"us-east-1": {}}}}, "wfga:quotas.aws.regions.us-east-1.eips"),
    ],
)
def test_a_bad_quota_names_its_key(quotas, expected):
    values = stack_values("aws-demo")
    values["wfga:quotas"] = quotas
    with pytest.raises(ConfigError) as err:
        parse_stack_config(values)
    assert any(p.startswith(expected) for p in err.value.problems), err.value.problems
