from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wfga.offline.engine import Plan, ResourceRecord, plan_stack_file, run_program
from wfga.offline.stackfile import StackValues, load_stack, stack_path

ROOT = Path(__file__).resolve().parent.parent

_CACHE: dict[str, Plan] = {}


def one(records: list[ResourceRecord], what: str) -> ResourceRecord:
    assert len(records) == 1, f"expected exactly one {what}, found {len(records)}"
    return records[0]


def stack_plan(name: str) -> Plan:
    """Plans of the shipped stacks are read-only in tests; plan each once per session."""
    if name not in _CACHE:
        _CACHE[name] = plan_stack_file(stack_path(ROOT, name), ROOT)
    return _CACHE[name]


def stack_values(name: str) -> dict[str, Any]:
    """A deep copy of a shipped stack's merged config, for tests to modify."""
    return copy.deepcopy(load_stack(stack_path(ROOT, name), ROOT).values)


def plan_values(values: dict[str, Any], stack: str = "test") -> Plan:
    return run_program(StackValues(stack=stack, values=values), ROOT)


@pytest.fixture
def demo_values() -> dict[str, Any]:
    return stack_values("demo")


@pytest.fixture
def plan_of() -> Callable[[dict[str, Any]], Plan]:
    return plan_values
