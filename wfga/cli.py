"""``python -m wfga``: the offline plan and the node-config merge."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from wfga.config import ConfigError
from wfga.node_config import merge
from wfga.offline import Plan, plan_stack_file
from wfga.report import port_map_csv, render_plan
from wfga.stackfile import project_root, stack_name_of, stack_path

EXIT_BAD_INPUT = 2


def _stack_file(args: argparse.Namespace, root: Path) -> Path:
    if args.config_file:
        return Path(args.config_file).resolve()
    if not args.stack:
        raise ConfigError(["give a stack name (a file stacks/Pulumi.<stack>.yaml) or --config-file PATH"])
    return stack_path(root, args.stack)


def _write_json(target: str, data: Any) -> None:
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    if target == "-":
        sys.stdout.write(text)
    else:
        Path(target).write_text(text, encoding="utf-8")


def _write_node_files(out: Path, node_config: dict[str, str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for node, line in node_config.items():
        (out / f"{node}.conf").write_text(line + "\n", encoding="utf-8")


def cmd_plan(args: argparse.Namespace) -> int:
    root = project_root()
    plan: Plan = plan_stack_file(_stack_file(args, root), root)
    if args.json:
        _write_json(args.json, plan.to_json())
    if args.out:
        out = Path(args.out)
        _write_node_files(out, plan.outputs.get("node_config", {}))
        (out / "port-map.csv").write_text(port_map_csv(plan.outputs.get("port_map", [])), encoding="utf-8")
    if not args.quiet and args.json != "-":
        print(render_plan(plan))
    return 0


def cmd_node_config(args: argparse.Namespace) -> int:
    root = project_root()
    sources: list[tuple[str, dict[str, Any]]] = []
    for item in args.sources:
        path = Path(item)
        if path.suffix == ".json":
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise ConfigError([f"{item}: cannot read stack outputs ({err})"]) from None
            # Accept `pulumi stack output --json` as well as `wfga plan --json`.
            sources.append((item, data.get("outputs", data) if "resources" in data else data))
        else:
            plan = plan_stack_file(stack_path(root, item), root)
            sources.append((stack_name_of(stack_path(root, item)), plan.outputs))
    lines = merge(sources)
    if args.json:
        _write_json(args.json, lines)
    if args.out:
        _write_node_files(Path(args.out), lines)
    if args.json != "-":
        for node, line in lines.items():
            print(f"{node}: {line}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wfga", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    plan = sub.add_parser("plan", help="run the Pulumi program offline under mocks and show the result")
    plan.add_argument("stack", nargs="?", help="stack name: a file stacks/Pulumi.<stack>.yaml")
    plan.add_argument("--config-file", help="a stack file anywhere, instead of a stack name")
    plan.add_argument("--json", metavar="PATH|-", help="write resources and outputs as JSON")
    plan.add_argument("--out", metavar="DIR", help="write <node>.conf per node and port-map.csv")
    plan.add_argument("--quiet", action="store_true", help="print nothing but errors")
    plan.set_defaults(func=cmd_plan)

    node = sub.add_parser(
        "node-config",
        help="merge stacks' backup entries into each node's full server.backup_address line",
    )
    node.add_argument(
        "sources",
        nargs="+",
        metavar="STACK|OUTPUTS.json",
        help="in order: stack names (planned offline) or `pulumi stack output --json` files",
    )
    node.add_argument("--json", metavar="PATH|-", help="write {node: line} as JSON")
    node.add_argument("--out", metavar="DIR", help="write <node>.conf per node")
    node.set_defaults(func=cmd_node_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as err:
        print(str(err), file=sys.stderr)
        return EXIT_BAD_INPUT
    return code
