"""The config check's list of resource names is exactly what the components register."""

from __future__ import annotations

import pytest

from tests.conftest import stack_plan, stack_values
from wfga.model.config import parse_stack_config
from wfga.model.names import CEN_LINK, CLUSTER_INGRESS, COMPONENT, VPC_PEERING, registrations
from wfga.offline.engine import Plan

PARENTS = set(COMPONENT.values()) | {CEN_LINK, VPC_PEERING, CLUSTER_INGRESS}
STACKS = ["demo", "sg", "fra", "aws-demo", "mixed-demo", "vm-demo"]


def registered(plan: Plan) -> set[tuple[str, str, str]]:
    by_urn = plan.by_urn()
    found = set()
    for record in plan.resources:
        parent = by_urn.get(record.parent)
        if parent is not None and parent.type in PARENTS:
            found.add((parent.type, record.type, record.name))
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_the_listed_names_are_the_registered_ones(stack):
    values = stack_values(stack)
    cfg = parse_stack_config(values, frozenset(k for k, v in values.items() if v == "[secret]"))
    listed = set().union(*(registrations(cfg.cluster, ap) for ap in cfg.access_points))
    assert listed == registered(stack_plan(stack))
