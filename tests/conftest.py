from __future__ import annotations

import copy
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wfga.offline.engine import Plan, ResourceRecord, plan_stack_file, run_program
from wfga.offline.stackfile import StackValues, load_stack, stack_path

ROOT = Path(__file__).resolve().parent.parent
# The suite's own project (Pulumi.yaml and stacks/, a copy of the shipped demo): the repository's
# Pulumi.yaml and stacks/ belong to the operator, and editing them must not break a test.
PROJECT = ROOT / "tests" / "fixtures" / "project"

_CACHE: dict[str, Plan] = {}


def one(records: list[ResourceRecord], what: str) -> ResourceRecord:
    assert len(records) == 1, f"expected exactly one {what}, found {len(records)}"
    return records[0]


def stack_plan(name: str) -> Plan:
    """Plans of the shipped stacks are read-only in tests; plan each once per session."""
    if name not in _CACHE:
        _CACHE[name] = plan_stack_file(stack_path(PROJECT, name), PROJECT)
    return _CACHE[name]


def stack_values(name: str) -> dict[str, Any]:
    """A deep copy of a shipped stack's merged config, for tests to modify."""
    return copy.deepcopy(load_stack(stack_path(PROJECT, name), PROJECT).values)


def plan_values(values: dict[str, Any], stack: str = "test") -> Plan:
    return run_program(StackValues(stack=stack, values=values), PROJECT)


# The operator's files: no test may read them, so that editing them cannot break the suite.
OPERATOR_FILES = (str(ROOT / "Pulumi.yaml"), str(ROOT / "stacks"))
_IN_OPERATOR_STACKS = str(ROOT / "stacks") + os.sep
_READ_EVENTS = frozenset({"open", "os.listdir", "os.scandir"})
_operator_reads: list[str] = []


def _watch_operator_files(event: str, args: tuple[Any, ...]) -> None:
    # An audit hook sees every open and directory listing of this process, however it is made
    # (pathlib, yaml, glob, the offline engine); child processes run in PROJECT instead.
    if event not in _READ_EVENTS or not args or not isinstance(args[0], str | bytes | os.PathLike):
        return
    path = os.path.normpath(os.path.join(os.getcwd(), os.fsdecode(args[0])))
    if path in OPERATOR_FILES or path.startswith(_IN_OPERATOR_STACKS):
        _operator_reads.append(path)


sys.addaudithook(_watch_operator_files)


@pytest.fixture(autouse=True)
def _in_the_fixture_project(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Commands find their project from the working directory, as Pulumi does: run every test in
    # the suite's own project so a stack name never reaches the operator's stacks/.
    monkeypatch.chdir(PROJECT)
    _operator_reads.clear()
    yield
    if _operator_reads:
        pytest.fail(
            f"read the operator's files {sorted(set(_operator_reads))}: plan the suite's own project "
            "(tests/fixtures/project) instead"
        )


def project_env() -> dict[str, str]:
    """The environment for `python -m wfga` run in PROJECT: this checkout's wfga on the path."""
    return dict(os.environ, PYTHONPATH=str(ROOT))


@pytest.fixture
def demo_values() -> dict[str, Any]:
    return stack_values("demo")


@pytest.fixture
def plan_of() -> Callable[[dict[str, Any]], Plan]:
    return plan_values
