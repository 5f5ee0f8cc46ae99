"""The plan's tuned SDK runtime, piece by piece.

Whole plans under it against the SDK's own machinery: tests/test_determinism.py.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from typing import Any, cast

import pulumi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.output import UNKNOWN
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc

from wfga.offline import runtime
from wfga.offline.runtime import InlineLoop, LazyOutput, OfflineError, _lazy_properties


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    created = runtime.new_loop()
    asyncio.set_event_loop(created)
    yield created
    asyncio.set_event_loop(None)
    created.close()


class Owner:
    """Stands in for the resource a property belongs to: a LazyOutput only holds on to it."""


def owned() -> tuple[LazyOutput, pulumi.Resource]:
    owner = cast(pulumi.Resource, Owner())
    return LazyOutput(owner), owner


def settle(loop: asyncio.AbstractEventLoop, output: pulumi.Output[Any]) -> tuple[Any, set[Any], bool, bool]:
    async def read() -> tuple[Any, set[Any], bool, bool]:
        return (await output.future(), await output.resources(), await output.is_known(), await output.is_secret())

    return loop.run_until_complete(read())


def test_the_inline_loop_calls_at_once_on_its_own_thread(loop: asyncio.AbstractEventLoop) -> None:
    assert isinstance(loop, InlineLoop)
    threads: list[threading.Thread] = []

    def call(x: int) -> int:
        threads.append(threading.current_thread())
        return x * 2

    done = loop.run_in_executor(None, call, 21)
    assert done.done() and threads == [threading.current_thread()]
    assert loop.run_until_complete(done) == 42


def test_the_inline_loop_hands_a_failure_to_whoever_awaits(loop: asyncio.AbstractEventLoop) -> None:
    def fail() -> None:
        raise ValueError("monitor said no")

    done = loop.run_in_executor(None, fail)
    with pytest.raises(ValueError, match="monitor said no"):
        loop.run_until_complete(done)


def test_a_mock_answer_of_plain_values_serializes_without_a_loop() -> None:
    struct = runtime._answered(rpc.serialize_properties({"id": "x", "ports": [1, 2], "tags": {"a": "b"}}, {}))
    assert rpc.deserialize_properties(struct) == {"id": "x", "ports": [1, 2], "tags": {"a": "b"}}


def test_a_mock_answer_that_waits_stops_with_an_offline_error(loop: asyncio.AbstractEventLoop) -> None:
    pending: asyncio.Future[str] = loop.create_future()

    async def waits() -> str:
        return await pending

    with pytest.raises(OfflineError, match="plain values"):
        runtime._answered(waits())


def test_a_property_read_before_its_answer_settles_with_it(loop: asyncio.AbstractEventLoop) -> None:
    output, owner = owned()
    dependency = cast(pulumi.Resource, Owner())
    doubled = output.apply(lambda v: v * 2)  # reads it now, as a program passes it on
    output._resolve_lazily(21, True, False, {dependency}, None)
    assert settle(loop, output) == (21, {owner, dependency}, True, False)
    assert loop.run_until_complete(doubled.future()) == 42


def test_a_property_read_after_its_answer_is_settled_already(loop: asyncio.AbstractEventLoop) -> None:
    output, owner = owned()
    output._resolve_lazily("s3cr3t", True, True, None, None)
    assert output._made is None  # nothing made until read
    assert output._data.done()
    assert settle(loop, output) == ("s3cr3t", {owner}, True, True)


def test_an_unknown_or_failed_property_stays_so(loop: asyncio.AbstractEventLoop) -> None:
    unknown, _ = owned()
    unknown._resolve_lazily(None, False, False, None, None)
    assert loop.run_until_complete(unknown.is_known()) is False
    failed, _ = owned()
    failed._resolve_lazily(None, False, False, None, RuntimeError("registration failed"))
    with pytest.raises(RuntimeError, match="registration failed"):
        settle(loop, failed)


def test_a_property_nobody_reads_makes_no_future(loop: asyncio.AbstractEventLoop) -> None:
    output, _ = owned()
    output._resolve_lazily("value", True, False, None, None)
    assert output._made is None


def test_tuned_restores_the_sdk_and_the_collector() -> None:
    def current() -> tuple[Any, ...]:
        sync_await = pulumi_mocks._sync_await  # type: ignore[attr-defined]
        return (pulumi_resource._get_stack_trace, sync_await, rpc.transfer_properties)

    originals = current()
    assert gc.isenabled()
    with runtime.tuned():
        assert not gc.isenabled()
        assert rpc.transfer_properties is not originals[2]
    assert gc.isenabled()
    assert current() == originals


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.just(UNKNOWN),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(
    value=VALUES,
    is_known=st.booleans(),
    is_secret=st.booleans(),
    dependencies=st.integers(min_value=0, max_value=2),
    fails=st.booleans(),
    read_first=st.booleans(),
)
def test_a_lazy_property_settles_as_the_sdks_own(
    value: Any, is_known: bool, is_secret: bool, dependencies: int, fails: bool, read_first: bool
) -> None:
    """The same resolver call on the SDK's property and on a lazy one: the same Output state."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        owner = Owner()
        deps = {cast(pulumi.Resource, Owner()) for _ in range(dependencies)} or None
        failure = RuntimeError("registration failed") if fails else None
        sides = []
        for transfer in (rpc.transfer_properties, _lazy_properties):
            resolvers = transfer(cast(pulumi.Resource, owner), {"prop": None, "id": None, "urn": None}, True)
            assert set(resolvers) == {"prop"}  # id and urn are the SDK's to resolve
            output = owner.__dict__["prop"]
            if read_first:
                output._data  # noqa: B018 - a read before the answer, as a program passing it on
            resolvers["prop"](value, is_known, is_secret, deps, failure)
            sides.append(output)

        async def state(output: pulumi.Output[Any]) -> tuple[Any, ...]:
            try:
                data = await output._data
            except RuntimeError as err:
                return ("failed", err)
            return (data.value, data.is_known, data.is_secret, data.resources, await output.future())

        sdk, lazy = (loop.run_until_complete(state(output)) for output in sides)
        assert lazy == sdk
    finally:
        asyncio.set_event_loop(None)
        loop.close()
