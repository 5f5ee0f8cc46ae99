"""What the offline engine saves the SDK from doing, and that it gives the SDK back unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime import resource as pulumi_resource

from tests.conftest import PROJECT, stack_values
from wfga.offline import engine
from wfga.offline.engine import run_program
from wfga.offline.stackfile import StackValues


def test_resources_register_without_a_stack_trace_and_the_sdk_gets_its_own_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames: list[int] = []

    class Counting(engine.RecordingMonitor):
        def RegisterResource(self, request: Any) -> Any:
            frames.append(len(request.stackTrace.frames))
            return super().RegisterResource(request)

    monkeypatch.setattr(engine, "RecordingMonitor", Counting)
    original = pulumi_resource._get_stack_trace
    plan = run_program(StackValues(stack="demo", values=stack_values("demo")), PROJECT)
    assert len(frames) == len(plan.resources) + 1  # and the stack itself
    assert set(frames) == {0}
    assert pulumi_resource._get_stack_trace is original
