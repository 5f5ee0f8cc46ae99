"""The SDK's mock runtime, without the machinery a plan pays for and never uses.

The program runs unchanged under ``pulumi.runtime.set_mocks``; what the SDK does per resource for
a real engine (a gRPC call on a worker thread, a stack trace for diagnostics, an Output with a task
and four futures for every property of the type, read or not) made most of a large plan's time and
memory (docs/benchmarks.md).  While ``tuned()`` is in effect:

- no cyclic garbage collection;
- no stack traces;
- the mock monitor's answers are serialized without an event loop of their own, which lets
  ``InlineLoop`` run every monitor call on the program's own thread instead of a thread pool;
- a resource's properties are ``LazyOutput``: an Output made when the program first reads it.

Each keeps the plan's bytes: tests/test_determinism.py plans every stack of the suite's project
once this way and once with the SDK's own loop and machinery, and compares.  Written against the
SDK pinned in requirements.txt (an Output is one ``_data`` future of ``_OutputData``); that test
is where an SDK upgrade that changes it shows.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, TypeVarTuple, Unpack

import pulumi
from pulumi.output import _OutputData
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc
from pulumi.runtime.proto import source_pb2

if TYPE_CHECKING:
    from pulumi.runtime.rpc import Resolver

T = TypeVar("T")
Args = TypeVarTuple("Args")


class OfflineError(Exception):
    """The program asked the mocks for something they do not model; a bug in wfga, not the user's."""


class InlineLoop(asyncio.SelectorEventLoop):
    """Runs what the SDK hands to an executor (its calls to the monitor) at once, on this thread.

    Under the mocks the monitor is Python in this process: a worker thread only adds two thread
    switches and a wake-up of this loop per call, all under the GIL.
    """

    def run_in_executor(
        self, executor: Executor | None, func: Callable[[Unpack[Args]], T], *args: *Args
    ) -> asyncio.Future[T]:
        done = self.create_future()
        try:
            done.set_result(func(*args))
        except Exception as err:  # the caller awaits it, as it would a worker's
            done.set_exception(err)
        return done


def _answered(coroutine: Coroutine[Any, Any, T]) -> T:
    """The mock monitor's ``_sync_await``, for ``InlineLoop``: this thread's loop is busy running
    the program, and the mocks' answers (plain values) serialize without waiting on anything."""
    try:
        coroutine.send(None)
    except StopIteration as finished:
        result: T = finished.value
        return result
    coroutine.close()
    raise OfflineError("a mock answer waits on an Output or a resource; the mocks answer with plain values only")


class LazyOutput(pulumi.Output[Any]):
    """A property of a resource as the SDK's resource classes expose it, made when first read.

    The SDK makes an Output, a task and four futures for every property of a type (over 30 for
    some), though a program reads a few.  This one keeps the resource and the monitor's answer,
    and makes the one future an Output consists of only when something reads it, already settled
    if the answer came.  Like the SDK's, its resources are the answer's dependencies plus the
    resource itself.
    """

    _made: asyncio.Future[_OutputData[Any]] | None = None
    _answer: tuple[Any, bool, bool, set[pulumi.Resource] | None, Exception | None] | None = None

    def __init__(self, resource: pulumi.Resource) -> None:
        # Not Output.__init__: that starts the task this class exists to avoid.
        self._resource = resource

    @property
    def _data(self) -> asyncio.Future[_OutputData[Any]]:
        if self._made is None:
            self._made = asyncio.get_event_loop().create_future()
            if self._answer is not None:
                self._settle()
        return self._made

    @_data.setter
    def _data(self, value: asyncio.Future[_OutputData[Any]]) -> None:
        self._made = value

    def _resolve_lazily(
        self, value: Any, is_known: bool, is_secret: bool, deps: set[pulumi.Resource] | None, failed: Exception | None
    ) -> None:
        self._answer = (value, is_known, is_secret, deps, failed)
        if self._made is not None:
            self._settle()

    def _settle(self) -> None:
        assert self._made is not None and self._answer is not None
        value, is_known, is_secret, deps, failed = self._answer
        if failed is not None:
            self._made.set_exception(failed)
            return
        resources = set(deps) if deps else set()
        resources.add(self._resource)
        self._made.set_result(_OutputData(resources=resources, value=value, is_known=is_known, is_secret=is_secret))


def _lazy_properties(res: pulumi.Resource, props: Any, custom: bool) -> dict[str, Resolver]:
    """``rpc.transfer_properties`` with a ``LazyOutput`` per property."""
    resolvers: dict[str, Resolver] = {}
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue  # the SDK resolves these two itself, as it does with its own properties
        output = LazyOutput(res)
        res.__dict__[name] = output
        resolvers[name] = output._resolve_lazily
    return resolvers


def new_loop() -> asyncio.AbstractEventLoop:
    return InlineLoop()


@contextmanager
def _replaced(module: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)


@contextmanager
def tuned() -> Iterator[None]:
    """The SDK as a plan runs it, for the duration of one program (see the module's docstring).

    No cyclic garbage collection: the program allocates objects that live until the plan is
    written, and each full collection walked all of them and the SDKs (it made plans superlinear
    in their resources).  No stack traces: the engine shows them in diagnostics, the mocks never
    read them, and building one walks every frame of the program's stack.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        with (
            _replaced(pulumi_resource, "_get_stack_trace", source_pb2.StackTrace),
            _replaced(pulumi_mocks, "_sync_await", _answered),
            _replaced(rpc, "transfer_properties", _lazy_properties),
        ):
            yield
    finally:
        if enabled:
            gc.enable()
