"""``python -m wfga``: the offline plan and the node-config merge."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from wfga.model.config import ConfigError, parse_stack_config
from wfga.offline.engine import Plan, plan_stack_file, run_program
from wfga.offline.stackfile import load_stack, project_of, project_root, stack_name_of, stack_path
from wfga.ops import diagram, diff, probe, wfconf
from wfga.ops.node_config import merge
from wfga.ops.report import port_map_csv, render_plan
from wfga.plan.cloudinit import nginx_conf
from wfga.plan.portplan import AccessPointPlan, plan_stack

EXIT_BAD_INPUT = 2


def _stack_file(args: argparse.Namespace) -> tuple[Path, Path]:
    """The stack file and its project (the nearest Pulumi.yaml above the file)."""
    if args.config_file:
        path = Path(args.config_file).resolve()
        return path, project_of(path)
    if not args.stack:
        raise ConfigError(["give a stack name (a file stacks/Pulumi.<stack>.yaml) or --config-file PATH"])
    root = project_root()
    return stack_path(root, args.stack), root


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


def _write_nginx_files(out: Path, plans: list[AccessPointPlan]) -> None:
    """The exact nginx.conf each VM's user data installs, for review next to the port map."""
    for ap_plan in plans:
        vm = ap_plan.config.vm
        if vm is None:
            continue
        for carrier in ap_plan.load_balancers:
            conf = nginx_conf(carrier.mappings, distro=vm.distro, connections=vm.connections)
            (out / f"{ap_plan.name}-{carrier.key}.nginx.conf").write_text(conf, encoding="utf-8")


def cmd_plan(args: argparse.Namespace) -> int:
    path, root = _stack_file(args)
    values = load_stack(path, root)
    plan: Plan = run_program(values, root)
    if args.json:
        _write_json(args.json, plan.to_json())
    if args.out:
        out = Path(args.out)
        _write_node_files(out, plan.outputs.get("node_config", {}))
        (out / "port-map.csv").write_text(port_map_csv(plan.outputs.get("port_map", [])), encoding="utf-8")
        _write_nginx_files(out, plan_stack(parse_stack_config(values.values)))
    if args.diagram:
        _write_diagram(Path(args.diagram), plan.to_json())
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


def _write_diagram(path: Path, plan: dict[str, Any]) -> None:
    # GitHub renders Mermaid inside Markdown; any other name gets the bare graph.
    text = diagram.render_markdown(plan) if path.suffix == ".md" else diagram.render(plan)
    path.write_text(text, encoding="utf-8")


def _fail(command: str, message: str) -> int:
    print(f"wfga {command}: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_diff(args: argparse.Namespace) -> int:
    try:
        diffs = diff.run(project_root(), args.sides, args.base_ref, args.all)
    except diff.DiffInputError as err:
        return _fail("diff", str(err))
    text = diff.render(diffs, args.format)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return diff.worst_exit(diffs)


def _deployed_outputs(item: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(item).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError([f"{item}: cannot read stack outputs ({err})"]) from None
    if not isinstance(data, dict) or ("resources" in data and "placeholders" in data):
        raise ConfigError([f"{item}: not `pulumi stack output --json` of a deployed stack"])
    return data


def _backup_address(sources: list[tuple[str, dict[str, Any]]], node: str, what: str) -> str:
    lines = merge(sources)
    if node not in lines:
        raise ConfigError([f"node {node} is not in {what}; nodes there: {', '.join(lines) or 'none'}"])
    value = wfconf.parse(lines[node]).get(wfconf.BACKUP_ADDRESS_KEY)
    return value or ""


def cmd_check_node_config(args: argparse.Namespace) -> int:
    root = project_root()
    path = Path(args.path)
    try:
        text = wfconf.read_text(path.read_bytes())
    except OSError as err:
        return _fail("check-node-config", f"{path}: cannot read ({err.strerror})")
    plans = [plan_stack_file(stack_path(root, stack), root) for stack in args.stack]
    placeholders = {p for plan in plans for p in plan.placeholders}
    planned = _backup_address([(plan.stack, plan.outputs) for plan in plans], args.node, "the plan")
    deployed = None
    if args.outputs:
        deployed = _backup_address(
            [(item, _deployed_outputs(item)) for item in args.outputs], args.node, "the deployed outputs"
        )
    expected, source, wildcards = (
        (deployed, f"deployed outputs {', '.join(args.outputs)}", set[str]())
        if deployed is not None
        else (planned, f"plan of {', '.join(args.stack)}", placeholders)
    )
    conf = wfconf.parse(text)
    line = conf.find(wfconf.BACKUP_ADDRESS_KEY)
    actual = wfconf.entries(line.value or "") if line else []
    drift = wfconf.compare_entries(actual, wfconf.entries(expected), wildcards)
    print(f"node {args.node}: {path}")
    print(wfconf.describe(conf, drift, source, wildcards))
    if deployed is not None:
        pending = wfconf.compare_entries(wfconf.entries(deployed), wfconf.entries(planned), placeholders)
        if not pending.in_sync:
            print("note: the plan differs from the deployed outputs; a `pulumi up` is pending for this node")
    # A file the server refuses is as bad as drift, even if its entries are right.
    broken = 1 if conf.rejected else 0
    if drift.in_sync:
        return broken
    if not args.fix:
        return 1
    unknown = sorted({e.partition(":")[0] for e in wfconf.entries(expected)} & wildcards)
    if unknown:
        return _fail(
            "check-node-config",
            f"not rewriting {path}: the plan only has placeholder addresses ({', '.join(unknown)}); "
            "give --outputs of the deployed stack, or pin the EIPs",
        )
    wfconf.write_atomically(path, wfconf.set_value(text, wfconf.BACKUP_ADDRESS_KEY, expected))
    where = f"line {line.number}" if line else "a new last line"
    print(f"fixed: {wfconf.BACKUP_ADDRESS_KEY} rewritten on {where}; restart the IM server to apply it")
    return broken


def cmd_probe(args: argparse.Namespace) -> int:
    try:
        targets = [
            t
            for t in probe.read_targets(Path(args.outputs))
            if (not args.access_point or t.access_point in args.access_point) and (not args.node or t.node in args.node)
        ]
        if not targets:
            return _fail("probe", "no address left to probe after --access-point / --node")
        results = probe.probe(targets, args.concurrency, args.timeout)
    except probe.ProbeInputError as err:
        return _fail("probe", str(err))
    if args.json:
        _write_json(args.json, probe.to_json(results))
    if args.json != "-":
        print(probe.render(results))
    return 0 if all(r.ok for r in results) else 1


ACCESS_POINT_INGRESS_POLICY = "wfga-access-point-ingress"


def cmd_policy_config(args: argparse.Namespace) -> int:
    path, root = _stack_file(args)
    cfg = parse_stack_config(load_stack(path, root).values)
    cidrs = [str(ap.vpc_cidr) for ap in cfg.access_points]
    _write_json(args.json, {ACCESS_POINT_INGRESS_POLICY: {"access_point_cidrs": cidrs}})
    return 0


def _add_safe_change_commands(sub: Any) -> None:
    change = sub.add_parser(
        "diff",
        help="compare two offline plans: per-node backup_address impact and resource changes",
        description="Exit 0: no node affected; 1: additive only; 3: disruptive; 2: bad input.",
    )
    change.add_argument(
        "sides",
        nargs="*",
        metavar="BASE HEAD",
        help="each a stack name, a stack file, a plan .json, or REF:STACK (that git ref's tree, its own code)",
    )
    change.add_argument("--base-ref", metavar="REF", help="BASE is STACK at this git ref; give only STACK")
    change.add_argument("--all", action="store_true", help="with --base-ref: every stack here or at REF")
    change.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    change.add_argument("--out", metavar="PATH", help="write the report here instead of stdout")
    change.set_defaults(func=cmd_diff)

    check = sub.add_parser(
        "check-node-config",
        help="compare a node's wildfirechat.conf with the plan or deployed outputs; --fix rewrites one line",
        description="Exit 0: in sync (or fixed); 1: drift; 2: bad input.",
    )
    check.add_argument("path", metavar="PATH", help="the node's wildfirechat.conf")
    check.add_argument("--stack", action="append", required=True, help="stack to plan; repeat, in node-config order")
    check.add_argument("--node", required=True, help="the node this file belongs to")
    check.add_argument(
        "--outputs", action="append", metavar="FILE", help="`pulumi stack output --json` of each stack, same order"
    )
    check.add_argument("--fix", action="store_true", help="rewrite only the server.backup_address line")
    check.set_defaults(func=cmd_check_node_config)

    prober = sub.add_parser(
        "probe",
        help="TCP-connect to every public ip:port of a deployed port map",
        description="Exit 0: every address answered; 1: some failed; 2: bad input.",
    )
    prober.add_argument("--outputs", required=True, metavar="FILE", help="`pulumi stack output --json` file")
    prober.add_argument("--access-point", action="append", help="only this access point (repeatable)")
    prober.add_argument("--node", action="append", help="only this node (repeatable)")
    prober.add_argument("--concurrency", type=int, default=probe.DEFAULT_CONCURRENCY)
    prober.add_argument("--timeout", type=float, default=probe.DEFAULT_TIMEOUT_S, help="seconds per connect")
    prober.add_argument("--json", metavar="PATH|-", help="write every result as JSON")
    prober.set_defaults(func=cmd_probe)

    policy = sub.add_parser("policy-config", help="policy-pack config for a stack: its access points' CIDRs")
    policy.add_argument("stack", nargs="?", help="stack name: a file stacks/Pulumi.<stack>.yaml")
    policy.add_argument("--config-file", help="a stack file anywhere, instead of a stack name")
    policy.add_argument("--json", metavar="PATH|-", default="-", help="where to write it (default stdout)")
    policy.set_defaults(func=cmd_policy_config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wfga", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    plan = sub.add_parser("plan", help="run the Pulumi program offline under mocks and show the result")
    plan.add_argument("stack", nargs="?", help="stack name: a file stacks/Pulumi.<stack>.yaml")
    plan.add_argument("--config-file", help="a stack file anywhere, instead of a stack name")
    plan.add_argument("--json", metavar="PATH|-", help="write resources and outputs as JSON")
    plan.add_argument("--out", metavar="DIR", help="write <node>.conf per node and port-map.csv")
    plan.add_argument("--quiet", action="store_true", help="print nothing but errors")
    plan.add_argument("--diagram", metavar="PATH", help="write a Mermaid graph (.md: fenced, for GitHub)")
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
    _add_safe_change_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as err:
        print(str(err), file=sys.stderr)
        return EXIT_BAD_INPUT
    return code
