"""The floor for ``bench/plan_scale.py``: the bare Pulumi SDK registering a plan's resources again.

``python -m bench.plan_floor REPLAY.jsonl`` reads a replay written by ``plan_scale`` from a
``wfga plan --json`` file: one resource per line, parents, providers and dependencies before the
resources that name them.  It imports the same SDK modules the plan's type tokens come from, sets
the SDK's own mock runtime (its ``MockMonitor``, mocks that echo the inputs), and creates every
resource with the same type token, name, inputs, parent, provider, dependencies and protect flag,
then exports the same stack outputs.  No wfga code runs.  What is left is what any program that
creates these resources under the mock runtime pays.

Custom resources and providers are made with the SDK's own class for the type token (for
``alicloud:nlb/listener:Listener``, ``pulumi_alicloud.nlb.Listener``), given the recorded inputs as
its keyword arguments, as a program would: the class is what decides how many Outputs a resource
carries.  ``--generic`` uses ``pulumi.CustomResource`` with the inputs alone instead (lighter: only
the recorded inputs become Outputs).

Resources are streamed from the file one line at a time, so the floor holds no more than the SDK
itself does; its peak RSS is the SDK's, not a copy of the plan's.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from functools import cache
from typing import Any

import pulumi
from pulumi import _types as pulumi_types
from pulumi.runtime.stack import wait_for_rpcs

STACK_TYPE = "pulumi:pulumi:Stack"


class EchoMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        return (f"{args.name}-id" if args.custom else "", dict(args.inputs))

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return ({}, [])


@cache
def sdk_class(type_: str) -> tuple[type[pulumi.CustomResource], dict[str, str]] | None:
    """The SDK class of a type token and its inputs' names (wire name -> keyword), or None."""
    package, module, name = type_.split(":", 2)
    if package == "pulumi":
        if module != "providers":
            return None
        package, module, name = name, "index", "Provider"
    path = f"pulumi_{package}" if module == "index" else f"pulumi_{package}.{module.split('/', 1)[0]}"
    try:
        namespace = importlib.import_module(path)
        cls = getattr(namespace, name)
        args = getattr(namespace, f"{name}Args")
    except (ImportError, AttributeError):
        return None
    keywords = {wire: py for py, wire in pulumi_types.input_type_py_to_pulumi_names(args).items()}
    return cls, keywords


def create(item: dict[str, Any], opts: pulumi.ResourceOptions, generic: bool) -> pulumi.Resource:
    type_, name, inputs = item["type"], item["name"], item["inputs"]
    found = None if generic else sdk_class(type_)
    if found is not None:
        cls, keywords = found
        # Inputs the SDK adds itself (a provider's version) are not keyword arguments.
        kwargs = {keywords[k]: v for k, v in inputs.items() if k in keywords}
        return cls(name, opts=opts, **kwargs)
    if type_.startswith("pulumi:providers:"):
        return pulumi.ProviderResource(type_.rsplit(":", 1)[-1], name, inputs, opts)
    return pulumi.CustomResource(type_, name, inputs, opts)


def replay(lines: Any, generic: bool = False) -> int:
    objects: dict[str, pulumi.Resource] = {}
    count = 0
    for line in lines:
        item = json.loads(line)
        if "outputs" in item:
            for key, value in item["outputs"].items():
                pulumi.export(key, value)
            continue
        if "import" in item:
            importlib.import_module(item["import"])
            continue
        parent = objects.get(item["parent"])
        provider = item.get("provider") or ""
        opts = pulumi.ResourceOptions(
            parent=parent,
            provider=objects.get(provider.rsplit("::", 1)[0]) if provider else None,  # type: ignore[arg-type]
            depends_on=[objects[urn] for urn in item["dependencies"] if urn in objects] or None,
            protect=item["protect"] or None,
        )
        resource: pulumi.Resource
        if item["custom"]:
            resource = create(item, opts, generic)
        else:
            component = pulumi.ComponentResource(item["type"], item["name"], None, opts)
            component.register_outputs({})
            resource = component
        objects[item["urn"]] = resource
        count += 1
    return count


def main(argv: list[str]) -> int:
    generic = "--generic" in argv
    (path,) = [a for a in argv if a != "--generic"]
    with open(path, encoding="utf-8") as handle:
        first = json.loads(handle.readline())
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        pulumi.runtime.set_mocks(EchoMocks(), project=first["project"], stack=first["stack"], preview=False)
        count = replay(handle, generic)
        loop.run_until_complete(wait_for_rpcs())
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
