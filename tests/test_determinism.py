"""A plan is a pure function of its stack file: the same bytes on every run, whatever the threads do.

The property holds for any stack: these tests plan every stack of the suite's own project (a copy
of the shipped stacks; the operator's stacks/ are theirs to edit, and .ci/run plans them) as well as
synthetic registrations; no assertion depends on what those stacks contain.  One of the two runs
uses the SDK's own event loop and machinery (worker threads, an Output per property) instead of
the plan's tuned runtime (wfga/offline/runtime.py): the bytes show the tuning changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pulumi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import PROJECT, project_env, stack_plan
from wfga.offline import engine, runtime
from wfga.offline.engine import StackPlanner, WfgaMocks
from wfga.offline.runtime import OfflineError
from wfga.offline.stackfile import stack_name_of, stack_path
from wfga.ops.report import as_written, render_plan
from wfga.plan.nodeline import PLACEHOLDER_NETWORKS

EIP = "alicloud:ecs/eipAddress:EipAddress"
STACKS = sorted(stack_name_of(p) for p in (PROJECT / "stacks").glob("Pulumi.*.yaml"))


def _no_reference(name: str) -> dict[str, Any]:
    raise AssertionError(f"unexpected StackReference {name}")


def assign(names: list[str], reserved: frozenset[str] = frozenset()) -> dict[str, str]:
    """Register EIPs in this order; each name's final placeholder address."""
    mocks = WfgaMocks(_no_reference, reserved)
    provisional = {}
    for name in names:
        _, state = mocks.new_resource(pulumi.runtime.MockResourceArgs(EIP, name, {}, custom=True))
        provisional[name] = state["ipAddress"]
    final = mocks.final_addresses()
    return {name: final[address] for name, address in provisional.items()}


# 300 EIPs in the 762 placeholder addresses: collisions are certain, so probing order matters.
MANY = [f"ap{i % 7}-nlb-{i}-eip-zone-{i % 3}" for i in range(300)]


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_placeholder_addresses_do_not_depend_on_registration_order(rnd: random.Random) -> None:
    shuffled = list(MANY)
    rnd.shuffle(shuffled)
    assert assign(shuffled) == assign(MANY)


def test_placeholder_addresses_are_unique_documentation_addresses_and_skip_the_configs_own() -> None:
    first = assign(MANY)
    assert len(set(first.values())) == len(MANY)
    assert all(any(ipaddress.IPv4Address(ip) in net for net in PLACEHOLDER_NETWORKS) for ip in first.values())
    # An address the stack file spells out (an origin host, a pinned EIP) is never a placeholder.
    taken = first[MANY[0]]
    again = assign(MANY, frozenset({taken}))
    assert taken not in again.values()
    assert len(set(again.values())) == len(MANY)


def test_without_a_collision_an_address_depends_on_type_and_name_alone() -> None:
    # The demo and per-region stacks name an EIP alike, so they agree on its placeholder.
    name = "sg-nlb-1-eip-ap-southeast-1a"
    others = ["fra-nlb-1-eip-eu-central-1a", "fra-nlb-1-eip-eu-central-1b"]
    together = assign([*others, name])
    assert len(set(together.values())) == 3
    assert together[name] == assign([name])[name]


def test_two_eips_of_one_type_and_name_fail_loudly() -> None:
    mocks = WfgaMocks(_no_reference)
    args = pulumi.runtime.MockResourceArgs(EIP, "twice", {}, custom=True)
    mocks.new_resource(args)
    with pytest.raises(OfflineError, match=r"two .* resources are named twice"):
        mocks.new_resource(args)


class JitteryMocks(WfgaMocks):
    """Answers each resource after a random pause, so the SDK's worker threads finish in another order."""

    seed = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._random = random.Random(JitteryMocks.seed)
        self._random_lock = threading.Lock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        with self._random_lock:
            pause = self._random.random() * 0.002
        time.sleep(pause)
        return super().new_resource(args)


def _plan_both_ways(planner: StackPlanner, stack: str) -> tuple[str, str]:
    """A stack's plan as `wfga plan --json` writes it and as `wfga plan` prints it."""
    plan = planner.plan_file(stack_path(PROJECT, stack))
    return as_written(plan).json_text(), render_plan(plan)


@pytest.fixture(scope="module")
def twice() -> dict[str, list[tuple[str, str]]]:
    """Every shipped stack planned twice in this process: as `wfga plan` runs it, and with the
    SDK's own loop and machinery, whose worker threads the mocks' pauses reorder."""
    runs = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "WfgaMocks", JitteryMocks)
        for seed, sdk_as_shipped in ((1, False), (2, True)):
            JitteryMocks.seed = seed
            if sdk_as_shipped:
                patch.setattr(runtime, "new_loop", asyncio.new_event_loop)
                patch.setattr(runtime, "tuned", contextlib.nullcontext)
            # A fresh planner per run: nothing is reused between the two runs.
            planner = StackPlanner(PROJECT)
            runs.append({stack: _plan_both_ways(planner, stack) for stack in STACKS})
    return {stack: [run[stack] for run in runs] for stack in STACKS}


def test_every_shipped_stack_is_planned() -> None:
    # The parametrized tests below run per file in stacks/; an empty glob would make them vacuous.
    assert STACKS
    assert set(STACKS) == {p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (PROJECT / "stacks").iterdir()}


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_plans_to_the_same_json_bytes_twice(twice: dict[str, list[tuple[str, str]]], stack: str) -> None:
    (first, _), (second, _) = twice[stack]
    assert first == second


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_plans_to_the_same_text_twice(twice: dict[str, list[tuple[str, str]]], stack: str) -> None:
    (_, first), (_, second) = twice[stack]
    assert first == second


def test_a_plan_in_a_fresh_process_has_the_same_bytes(twice: dict[str, list[tuple[str, str]]], tmp_path: Path) -> None:
    # Another process: another hash seed, other thread timing, and the region stack's reference to
    # the core stack resolved by planning it in a child process of its own.
    out = tmp_path / "fra.json"
    env = dict(project_env(), PYTHONHASHSEED="12345")
    proc = subprocess.run(
        [sys.executable, "-m", "wfga", "plan", "fra", "--json", str(out)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    json_text, text = twice["fra"][0]
    assert out.read_text(encoding="utf-8") == json_text
    assert proc.stdout == text + "\n"


def test_the_json_text_is_the_whole_plan() -> None:
    plan = stack_plan("demo")
    assert json.loads(plan.json_text()) == plan.to_json()
    first = plan.json_text().splitlines()[3]
    assert first.startswith('    {"urn": ') and first.endswith("},")  # one resource per line
