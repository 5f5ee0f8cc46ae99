"""GlobalAccess: the program's one component, and the aliases that keep deployed stacks in place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT
from wfga.model.config import ConfigError, ServicePorts, parse_stack_config
from wfga.offline.engine import Plan, ResourceRecord, execute_program, run_program
from wfga.offline.stackfile import StackValues
from wfga.plan.portplan import plan_stack

# Each stack's merged config and its resources' URNs as deployed before GlobalAccess existed
# (every component was a child of the stack).  edge-demo's config is written in today's schema
# (service-domain roles, one shared bucket, no CORS) for the very same resources.
BEFORE: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "urns_before_global_access.json").read_text(encoding="utf-8")
)
_PLANS: dict[str, Plan] = {}
READ = "pulumi:pulumi:StackReference"
# Resource types the program gained after these URNs were recorded (VM config delivery, docs/vm-access-points.md).
ADDED_SINCE = {
    "alicloud:ecs/command:Command",
    "alicloud:ecs/ecsInvocation:EcsInvocation",
    "aws:iam/role:Role",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:ssm/document:Document",
    "aws:ssm/association:Association",
    # Cloudflare rules moved from page rules to the zone's rulesets (docs/edge.md).
    "cloudflare:index/ruleset:Ruleset",
}
# Resource types the program no longer creates: their former URNs are deleted, not kept.
REMOVED_SINCE = {"cloudflare:index/pageRule:PageRule"}


def _plan(stack: str) -> Plan:
    if stack not in _PLANS:
        entry = BEFORE[stack]
        values = StackValues(stack=stack, values=entry["values"], secret_keys=frozenset(entry["secret_keys"]))
        _PLANS[stack] = run_program(values, PROJECT, resolver=lambda _name: _plan("core").outputs)
    return _PLANS[stack]


@pytest.mark.parametrize("stack", sorted(BEFORE))
def test_every_former_urn_is_kept_or_named_by_exactly_one_alias(stack: str) -> None:
    plan = _plan(stack)
    current = {r.urn for r in plan.resources}
    claimed: dict[str, list[str]] = {}
    for record in plan.resources:
        for alias in record.aliases:
            claimed.setdefault(alias, []).append(record.urn)
    # A StackReference is read afresh on every update and holds nothing in the cloud; reads carry
    # no aliases (ReadResourceRequest has no such field), so its URN may change freely.
    former = {
        urn for urn in BEFORE[stack]["urns"] if READ not in urn and not any(f"${t}::" in urn for t in REMOVED_SINCE)
    }
    uncovered = [urn for urn in sorted(former) if urn not in current and len(claimed.get(urn, [])) != 1]
    assert uncovered == []
    # Nothing but the new parent itself is new: no resource would be created beside its old self.
    # (The VM config delivery came later: its resources are new by design.)
    new = [
        r.type
        for r in plan.resources
        if READ not in r.urn and r.urn not in former and not former & set(r.aliases) and r.type not in ADDED_SINCE
    ]
    assert new == ["wfga:global_access:GlobalAccess"]


def test_a_child_of_a_moved_component_inherits_its_alias() -> None:
    plan = _plan("sg")
    listener = next(r for r in plan.resources if r.type == "alicloud:nlb/listener:Listener")
    assert "wfga:global_access:GlobalAccess$wfga:alicloud_nlb_access_point:AlicloudNlbAccessPoint$" in listener.urn
    assert listener.aliases == [
        listener.urn.replace("wfga:global_access:GlobalAccess$", "", 1),
    ]


def test_everything_hangs_under_one_global_access() -> None:
    plan = _plan("demo")
    (root,) = plan.of_type("wfga:global_access:GlobalAccess")
    by_urn = plan.by_urn()

    def top(urn: str) -> str:
        while by_urn[urn].parent in by_urn:
            urn = by_urn[urn].parent
        return urn

    assert {top(r.urn) for r in plan.resources} == {root.urn}
    assert root.name == BEFORE["demo"]["values"]["wfga:cluster"]["name"]


def test_a_config_the_port_plan_refuses_registers_nothing() -> None:
    # The parser runs the port plan's checks with the others; a StackConfig put together without
    # the parser still cannot be planned, and GlobalAccess plans before it registers.
    values = json.loads(json.dumps(BEFORE["demo"]["values"]))
    good = parse_stack_config(values)
    values["wfga:access_points"][0]["port_base"] = {"short": 80, "long": 81, "ws": 8080}
    with pytest.raises(ConfigError, match="would serve both"):
        parse_stack_config(values)
    clash = good.access_points[0].model_copy(update={"port_base": ServicePorts(short=80, long=81, ws=8080)})
    with pytest.raises(ConfigError, match="would serve both"):
        plan_stack(good.model_copy(update={"access_points": [clash, *good.access_points[1:]]}))
    records: list[ResourceRecord] = []
    with pytest.raises(Exception, match="would serve both"):
        execute_program(StackValues(stack="demo", values=values), PROJECT, records=records)
    assert records == []
