"""``python -m wfga`` (or ``wfga``): plan stacks offline, hand out node lines, review and check changes.

Every command that reads a stack takes it the same way: a stack name (``stacks/Pulumi.<STACK>.yaml``
of the project around the working directory, as the Pulumi CLI finds it), or a path to a stack file
(positional, or ``--config-file PATH``), whose project is the nearest ``Pulumi.yaml`` above it.
Commands that only need a plan's outputs also take a ``.json`` file: ``wfga plan --json`` or
``pulumi stack output --json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfga.model.config import ConfigError, parse_stack_config
from wfga.offline.engine import Plan, run_program
from wfga.offline.stackfile import StackValues, load_stack, project_of, project_root, stack_name_of, stack_path
from wfga.ops import diagram, diff, init, node_tool, probe, wfconf
from wfga.ops.node_config import PlaceholderError, merge_lists, safe_lines
from wfga.ops.report import as_written, port_map_csv, render_plan
from wfga.plan.cloudinit import nginx_conf
from wfga.plan.portplan import AccessPointPlan, plan_stack

EXIT_BAD_INPUT = 2
STACK_HELP = "a stack name (the file stacks/Pulumi.STACK.yaml) or a stack file's path"


def is_stack_file(spec: str) -> bool:
    # Not "contains a slash": a fully qualified stack name (org/project/stack) has two.  A stack
    # name never starts with "/" or ".", so those are paths, whatever they name.
    return spec.endswith((".yaml", ".yml")) or spec.startswith(("/", ".")) or Path(spec).is_file()


def stack_file(spec: str) -> tuple[Path, Path]:
    """A stack name or a stack file's path: the file and its project."""
    if is_stack_file(spec):
        path = Path(spec).resolve()
        return path, project_of(path)
    root = project_root()
    # `organization/wfga/prod`, as Pulumi names stacks, is the file of stack `prod`.
    return stack_path(root, spec.rsplit("/", 1)[-1]), root


def load_spec(spec: str) -> tuple[StackValues, Path]:
    path, root = stack_file(spec)
    return load_stack(path, root), root


def plan_spec(spec: str) -> Plan:
    values, root = load_spec(spec)
    return run_program(values, root)


def _one_stack(args: argparse.Namespace) -> str:
    """The single stack of a command taking STACK or --config-file PATH."""
    given = [s for s in (args.stack, args.config_file) if s]
    if len(given) != 1:
        raise ConfigError([f"give one stack: {STACK_HELP}, or --config-file PATH"])
    return str(given[0])


@dataclass(frozen=True)
class Outputs:
    """A source of node entries: its label, its outputs, and the addresses in it that are placeholders."""

    label: str
    outputs: dict[str, Any]
    placeholders: frozenset[str]
    planned: bool


def read_json(spec: str) -> Outputs:
    """A ``wfga plan --json`` file or ``pulumi stack output --json``."""
    try:
        data = json.loads(Path(spec).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError([f"{spec}: cannot read stack outputs ({err})"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{spec}: expected a JSON object (wfga plan --json, or pulumi stack output --json)"])
    if "resources" in data and "outputs" in data:
        return Outputs(spec, dict(data["outputs"]), frozenset(data.get("placeholders", [])), planned=True)
    return Outputs(spec, data, frozenset(), planned=False)


def outputs_of(spec: str) -> Outputs:
    """STACK, a stack file (planned offline) or a JSON file."""
    if spec.endswith(".json"):
        return read_json(spec)
    plan = plan_spec(spec)
    return Outputs(plan.stack, plan.outputs, frozenset(plan.placeholders), planned=True)


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


def _line_entries(outputs: dict[str, Any]) -> dict[str, list[str]]:
    return {node: wfconf.entries(value) for node, value in outputs.get("backup_addresses", {}).items()}


def cmd_plan(args: argparse.Namespace) -> int:
    values, root = load_spec(_one_stack(args))
    plan: Plan = run_program(values, root)
    # Refuse before writing anything: a placeholder must not leave as if it were real.
    lines = (
        safe_lines(
            _line_entries(plan.outputs),
            plan.placeholders,
            allow_placeholders=args.allow_placeholders,
        )
        if args.out
        else {}
    )
    if args.json:
        if args.json == "-":
            as_written(plan).write_json(sys.stdout)
        else:
            with Path(args.json).open("w", encoding="utf-8") as handle:
                as_written(plan).write_json(handle)
    if args.out:
        out = Path(args.out)
        _write_node_files(out, lines)
        (out / "port-map.csv").write_text(port_map_csv(plan.outputs.get("port_map", [])), encoding="utf-8")
        _write_nginx_files(out, plan_stack(parse_stack_config(values.values, values.secret_keys)))
    if args.diagram:
        _write_diagram(Path(args.diagram), plan.to_json())
    if not args.quiet and args.json != "-":
        quotas = parse_stack_config(values.values, values.secret_keys).quotas
        print(render_plan(plan, allow_placeholders=args.allow_placeholders, quotas=quotas))
    return 0


def without_access_points(outputs: dict[str, Any], dropped: set[str]) -> dict[str, Any]:
    """The outputs as if the dropped access points were gone: the lines to set before removing them."""
    if not dropped or "backup_entries" not in outputs:
        return outputs
    entries = {
        node: [item for item in items if item["access_point"] not in dropped]
        for node, items in outputs["backup_entries"].items()
    }
    # A node whose web primary is dropped falls back to the plain order.
    for items in entries.values():
        for i, item in enumerate(items):
            if item.get("web_primary") in dropped:
                items[i] = {**item, "web_primary": ""}
    return {**outputs, "backup_entries": entries}


def cmd_node_config(args: argparse.Namespace) -> int:
    specs = [*args.sources, *(args.config_file or [])]
    if not specs:
        raise ConfigError([f"give the stacks in line order: each {STACK_HELP}, or an outputs .json"])
    sources = [outputs_of(spec) for spec in specs]
    dropped = set(args.drop_access_point or [])
    unknown = dropped - {
        item["access_point"]
        for s in sources
        for items in s.outputs.get("backup_entries", {}).values()
        for item in items
    }
    if unknown:
        raise ConfigError([f"--drop-access-point: {', '.join(sorted(unknown))} is in none of the sources"])
    entries = merge_lists([(s.label, without_access_points(s.outputs, dropped)) for s in sources])
    known = {ip for s in sources for ip in s.placeholders}
    lines = safe_lines(entries, known, allow_placeholders=args.allow_placeholders)
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


def stack_name(spec: str) -> str:
    """A stack's short name from its name, its qualified name (org/project/stack) or its file's path."""
    if spec.endswith((".yaml", ".yml")):
        return stack_name_of(Path(spec))
    return spec.rsplit("/", 1)[-1]


def diff_side(spec: str) -> str:
    """A diff side as the diff reads it: files as given, stack names (also after REF:) made short."""
    if spec.endswith(".json") or is_stack_file(spec):
        return spec
    if ":" in spec:
        ref, _, stack = spec.rpartition(":")
        return f"{ref}:{stack_name(stack)}"
    return stack_name(spec)


def cmd_diff(args: argparse.Namespace) -> int:
    given = [*args.sides, *(args.config_file or [])]
    sides, base_ref = [diff_side(s) for s in given], args.base_ref
    if base_ref is not None and not args.all and len(given) == 1:
        # STACK at the ref against STACK here, however STACK was written (a file keeps its own path).
        sides, base_ref = [f"{base_ref}:{stack_name(given[0])}", sides[0]], None
    try:
        diffs = diff.run(project_root(), sides, base_ref, args.all)
    except diff.DiffInputError as err:
        return _fail("diff", str(err))
    text = diff.render(diffs, args.format)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return diff.worst_exit(diffs)


def cmd_check_node_config(args: argparse.Namespace) -> int:
    specs = [*(args.stack or []), *(args.config_file or [])]
    if not specs and not args.outputs:
        raise ConfigError(["give --outputs FILE (the deployed stacks), or --stack STACK to compare with the plan"])
    try:
        deployed = node_tool.from_outputs(args.outputs, args.node) if args.outputs else None
        planned = None
        if specs:
            sources = [outputs_of(spec) for spec in specs]
            wildcards = frozenset(ip for s in sources for ip in s.placeholders)
            entries = node_tool.node_entries([(s.label, s.outputs) for s in sources], args.node, "the plan")
            planned = node_tool.Expected(entries, f"plan of {', '.join(s.label for s in sources)}", wildcards)
        if deployed is not None and planned is not None:
            pending = wfconf.compare_entries(deployed.entries, planned.entries, planned.wildcards)
            deployed = node_tool.Expected(deployed.entries, deployed.source, pending=not pending.in_sync)
        expected = deployed or planned
        assert expected is not None
        return node_tool.check(Path(args.path), args.node, expected, fix=args.fix)
    except node_tool.NodeToolError as err:
        return _fail("check-node-config", str(err))


def cmd_init(args: argparse.Namespace) -> int:
    answers = init.Answers(
        cluster_name=args.cluster_name or "",
        cloud=args.cloud or "",
        region=args.region or "",
        vpc_id=args.vpc_id or "",
        cidr=args.cidr or "",
        route_tables=args.route_table or [],
        attach_vswitches=args.attach_vswitch or [],
        security_group=args.security_group or "",
        nodes=args.node or [],
        access_points=args.access_point or [],
        layout=args.layout,
        stack=args.stack,
        org=args.org,
    )
    if sys.stdin.isatty() and not args.no_input:
        init.prompt(answers, input)
    root = Path(args.dir).resolve() if args.dir else project_root()
    try:
        written = init.run(root, answers, force=args.force, remove_demos=args.remove_demos)
    except init.InitError as err:
        print("wfga init: nothing written:", file=sys.stderr)
        print("\n".join(f"  - {p}" for p in err.problems), file=sys.stderr)
        return EXIT_BAD_INPUT
    for path in written.files:
        print(f"wrote {path.relative_to(root)}")
    for path in written.removed:
        print(f"removed the demo {path.relative_to(root)}")
    if written.others:
        print(
            f"not written by init, now planned against your cluster: {', '.join(written.others)}; "
            "check them with `wfga plan`, or delete them"
        )
    print("every stack written plans cleanly offline; next: docs/production.md (backend, secrets, credentials)")
    return 0


def cmd_build_node_tool(args: argparse.Namespace) -> int:
    target = Path(args.target)
    node_tool.build_zipapp(target)
    print(f"wrote {target}: run it on an IM node with python3 {target.name} --node NODE --outputs FILE PATH")
    return 0


def _probe_targets(args: argparse.Namespace) -> list[probe.Target]:
    given = [s for s in (args.source, args.config_file, args.outputs) if s]
    if len(given) != 1:
        raise probe.ProbeInputError(
            "give one port map: --outputs FILE (`pulumi stack output --json`), or with --address "
            "STACK, --config-file PATH or a plan .json"
        )
    spec = str(given[0])
    if args.address is None:
        if args.config_file or spec.endswith((".yaml", ".yml")) or not Path(spec).exists():
            raise probe.ProbeInputError(
                f"{spec}: a stack is planned offline, with placeholder addresses: nothing deployed to probe; "
                "give --outputs FILE (`pulumi stack output --json`), or --address IP for a local dry run"
            )
        return probe.read_targets(Path(spec))
    # A dry run: every public port of the port map, at one address of yours (e.g. 127.0.0.1).
    try:
        data = outputs_of(spec)
    except ConfigError as err:
        raise probe.ProbeInputError(str(err)) from None
    return probe.targets_from_rows(data.outputs, allow_placeholders=True)


def _turn_password(args: argparse.Namespace) -> str | None:
    """From --turn-password-file, else the environment variable --turn-password-env names."""
    if args.turn_password_file:
        try:
            return Path(args.turn_password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as err:
            raise probe.ProbeInputError(f"--turn-password-file: cannot read it ({err.strerror})") from None
    return os.environ.get(args.turn_password_env) or None


def _probe_turn(args: argparse.Namespace) -> list[probe.TurnResult]:
    """The TURN servers of the outputs (of the chosen access points), when a password is at hand."""
    if args.no_turn or args.address is not None or not args.outputs:
        return []
    targets = [
        t
        for t in probe.read_turn_targets(Path(args.outputs), args.turn_user)
        if not args.access_point or t.access_point in args.access_point
    ]
    if not targets:
        return []
    password = _turn_password(args)
    if password is None:
        print(
            f"probe: TURN servers not probed: no password in ${args.turn_password_env} (e.g. "
            f"export {args.turn_password_env}=$(pulumi config get turn_password)) nor --turn-password-file",
            file=sys.stderr,
        )
        return []
    return probe.probe_turn(targets, password, args.concurrency, args.timeout, args.turn_ca)


def cmd_probe(args: argparse.Namespace) -> int:
    try:
        targets = [
            t
            for t in _probe_targets(args)
            if (not args.access_point or t.access_point in args.access_point) and (not args.node or t.node in args.node)
        ]
        if not targets:
            return _fail("probe", "no address left to probe after --access-point / --node")
        if args.address is not None:
            targets = probe.at_address(targets, args.address)
        results = probe.probe(targets, args.concurrency, args.timeout)
        turn = _probe_turn(args)
    except probe.ProbeInputError as err:
        return _fail("probe", str(err))
    if args.json:
        _write_json(args.json, probe.to_json(results) + probe.turn_to_json(turn))
    if args.json != "-":
        print(probe.render(results))
        if turn:
            print("\n" + probe.render_turn(turn))
    return 0 if all(r.ok for r in results) and all(r.ok for r in turn) else 1


ACCESS_POINT_INGRESS_POLICY = "wfga-access-point-ingress"
UDP_POLICY = "wfga-udp-only-for-turn"


def cmd_policy_config(args: argparse.Namespace) -> int:
    values, _ = load_spec(_one_stack(args))
    cfg = parse_stack_config(values.values, values.secret_keys)
    cidrs = [str(ap.vpc_cidr) for ap in cfg.access_points]
    config: dict[str, Any] = {ACCESS_POINT_INGRESS_POLICY: {"access_point_cidrs": cidrs}}
    av = cfg.audio_video
    if av is not None:
        relay, rtp = av.turn.relay_ports, av.janus.rtp_ports
        config[UDP_POLICY] = {
            "turn_relay_ports": {"min": relay.min, "max": relay.max},
            "janus_rtp_ports": {"min": rtp.min, "max": rtp.max},
        }
    _write_json(args.json, config)
    return 0


def _stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("stack", nargs="?", metavar="STACK", help=STACK_HELP)
    parser.add_argument("--config-file", metavar="PATH", help="a stack file anywhere, instead of STACK")


def _add_plan_commands(sub: Any) -> None:
    plan = sub.add_parser(
        "plan",
        help="run the Pulumi program offline under mocks: resources, port map, bill of materials, node entries",
        description=(
            "Run __main__.py under Pulumi's mock runtime (no CLI, no cloud) and show the result. "
            "Exit 0; 2: bad input or a config error."
        ),
    )
    _stack_arguments(plan)
    plan.add_argument(
        "--json",
        metavar="PATH|-",
        help="write resources and outputs as JSON (placeholder entries in node_config marked #PLACEHOLDER)",
    )
    plan.add_argument("--out", metavar="DIR", help="write NODE.conf per node, port-map.csv and each VM's nginx.conf")
    plan.add_argument("--quiet", action="store_true", help="print nothing but errors")
    plan.add_argument("--diagram", metavar="PATH", help="write a Mermaid graph (.md: fenced, for GitHub)")
    plan.add_argument(
        "--allow-placeholders",
        action="store_true",
        help="print and write node lines holding placeholder addresses, each marked #PLACEHOLDER",
    )
    plan.set_defaults(func=cmd_plan)

    node = sub.add_parser(
        "node-config",
        help="merge stacks' backup entries into each node's full server.backup_address line",
        description=(
            "One line per node over every stack, in the order given. Placeholder addresses are refused "
            "unless --allow-placeholders. Exit 0; 2: bad input."
        ),
    )
    node.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="in line order: STACK or a stack file (planned offline), or an outputs .json "
        "(`pulumi stack output --json` or `wfga plan --json`)",
    )
    node.add_argument("--config-file", action="append", metavar="PATH", help="a stack file, after SOURCEs (repeat)")
    node.add_argument(
        "--drop-access-point",
        action="append",
        metavar="NAME",
        help="leave this access point's entries out: the lines to set before removing it (repeat)",
    )
    node.add_argument("--json", metavar="PATH|-", help="write {node: line} as JSON")
    node.add_argument("--out", metavar="DIR", help="write NODE.conf per node")
    node.add_argument(
        "--allow-placeholders",
        action="store_true",
        help="write lines holding placeholder addresses, each marked #PLACEHOLDER (the IM server refuses them)",
    )
    node.set_defaults(func=cmd_node_config)

    policy = sub.add_parser(
        "policy-config",
        help="policy-pack config for a stack: its access points' CIDRs, its TURN relay and Janus RTP ranges",
        description="The --policy-pack-config file for `pulumi preview/up --policy-pack policy`. Exit 0; 2: bad input.",
    )
    _stack_arguments(policy)
    policy.add_argument("--json", metavar="PATH|-", default="-", help="where to write it (default stdout)")
    policy.set_defaults(func=cmd_policy_config)


def _add_init_command(sub: Any) -> None:
    start = sub.add_parser(
        "init",
        help="write Pulumi.yaml and stack files for your own cluster and access points, checked by planning them",
        description=(
            "Put your cluster in Pulumi.yaml and write the stacks of one layout; on a terminal, asks for what "
            "the flags leave out. Writes nothing unless every stack plans cleanly offline. Exit 0; 2: bad "
            "input or a stack that does not plan."
        ),
    )
    start.add_argument("--cluster-name", metavar="NAME", help="short name used in resource names, e.g. hz")
    start.add_argument("--cloud", choices=("alicloud", "aws"), help="the cluster's cloud")
    start.add_argument("--region", metavar="REGION", help="the cluster's region, e.g. cn-hangzhou")
    start.add_argument("--vpc-id", metavar="ID", help="the cluster's VPC")
    start.add_argument("--cidr", metavar="CIDR", help="the cluster VPC's CIDR")
    start.add_argument("--route-table", action="append", metavar="ID", help="a cluster route table (repeat)")
    start.add_argument(
        "--attach-vswitch", action="append", metavar="ZONE=ID", help="Alibaba: vSwitch for the CEN attachment (repeat)"
    )
    start.add_argument("--security-group", metavar="ID", help="cluster security group to open to access points")
    start.add_argument("--node", action="append", metavar="NAME=IP[@SLOT]", help="an IM node (repeat, in slot order)")
    start.add_argument(
        "--access-point",
        action="append",
        metavar="SPEC",
        help="name=..,region=..,cidr=..,zones=A+B[,cloud=..,link=..,kind=..,instance_type=..] (repeat)",
    )
    start.add_argument(
        "--layout",
        choices=("all-in-one", "region"),
        default="all-in-one",
        help="one stack, or a core stack and one per access point",
    )
    start.add_argument("--stack", default="prod", metavar="NAME", help="the all-in-one stack's name (default prod)")
    start.add_argument(
        "--org", default="organization", metavar="ORG", help="Pulumi organization in core_stack (default organization)"
    )
    start.add_argument("--dir", metavar="DIR", help="the project directory (default: the current project)")
    start.add_argument("--force", action="store_true", help="replace stack files that exist")
    start.add_argument("--remove-demos", action="store_true", help="delete the shipped demo stacks")
    start.add_argument("--no-input", action="store_true", help="never prompt, even on a terminal")
    start.set_defaults(func=cmd_init)


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
        help="each STACK, a stack file, a plan .json, or REF:STACK (that git ref's tree, its own code)",
    )
    change.add_argument(
        "--config-file", action="append", metavar="PATH", help="a stack file, as a side after the others (repeat)"
    )
    change.add_argument(
        "--base-ref",
        metavar="REF",
        help="BASE is STACK at this git ref; give only STACK (its name or its file, or --config-file)",
    )
    change.add_argument("--all", action="store_true", help="with --base-ref: every stack here or at REF")
    change.add_argument("--format", choices=("text", "markdown", "json"), default="text", help="report format")
    change.add_argument("--out", metavar="PATH", help="write the report here instead of stdout")
    change.set_defaults(func=cmd_diff)

    check = sub.add_parser(
        "check-node-config",
        help="compare a node's wildfirechat.conf with the deployed outputs or the plan; --fix rewrites one line",
        description=(
            "Exit 0: in sync (or fixed); 1: drift or a file the server refuses; 2: bad input. "
            "On an IM node without this repository, use the file `build-node-tool` writes."
        ),
    )
    check.add_argument("path", metavar="PATH", help="the node's wildfirechat.conf")
    check.add_argument("--node", required=True, help="the node this file belongs to")
    check.add_argument(
        "--outputs",
        action="append",
        metavar="FILE",
        help="`pulumi stack output --json` of each stack, in node-config order (repeat)",
    )
    check.add_argument(
        "--stack",
        action="append",
        metavar="STACK",
        help="compare with the offline plan instead (or note a pending `pulumi up`): STACK, a stack file "
        "or a plan .json (repeat, in node-config order)",
    )
    check.add_argument("--config-file", action="append", metavar="PATH", help="a stack file, as --stack (repeat)")
    check.add_argument("--fix", action="store_true", help="rewrite only the server.backup_address line")
    check.set_defaults(func=cmd_check_node_config)

    tool = sub.add_parser(
        "build-node-tool",
        help="write check-node-config as one file for IM nodes: python3 and nothing else needed",
        description="A zipapp of check-node-config taking --outputs; runs with python3 >= 3.11. Exit 0.",
    )
    tool.add_argument("target", metavar="OUT.pyz", help="where to write it")
    tool.set_defaults(func=cmd_build_node_tool)

    prober = sub.add_parser(
        "probe",
        help=(
            "TCP-connect to every public ip:port of a port map (deployed, or at --address for a local dry run); "
            "allocate a relay on every TURN server"
        ),
        description=(
            "TURN servers (the outputs' turn_servers) are probed when a TURN password is given: one allocation per "
            "URL, its round trip and the address coturn relays from. "
            "Exit 0: every address answered and every allocation succeeded; 1: some failed; 2: bad input."
        ),
    )
    prober.add_argument(
        "source",
        nargs="?",
        metavar="SOURCE",
        help="with --address: STACK, a stack file or a plan/outputs .json; else use --outputs",
    )
    prober.add_argument("--config-file", metavar="PATH", help="with --address: a stack file, instead of SOURCE")
    prober.add_argument("--outputs", metavar="FILE", help="`pulumi stack output --json` of a deployed stack")
    prober.add_argument(
        "--address",
        metavar="IP",
        help="probe every public port at this address instead (a local dry run, e.g. 127.0.0.1)",
    )
    prober.add_argument("--access-point", action="append", help="only this access point (repeatable)")
    prober.add_argument("--node", action="append", help="only this node (repeatable)")
    prober.add_argument(
        "--concurrency", type=int, default=probe.DEFAULT_CONCURRENCY, help="connections at a time (default 32)"
    )
    prober.add_argument("--timeout", type=float, default=probe.DEFAULT_TIMEOUT_S, help="seconds per connect (3)")
    prober.add_argument("--json", metavar="PATH|-", help="write every result as JSON")
    prober.add_argument(
        "--turn-password-env",
        metavar="NAME",
        default="WFGA_TURN_PASSWORD",
        help="environment variable holding the TURN password (default WFGA_TURN_PASSWORD)",
    )
    prober.add_argument("--turn-password-file", metavar="PATH", help="read the TURN password from this file instead")
    prober.add_argument("--turn-user", metavar="USER", help="TURN user name (default: the outputs' turn_servers user)")
    prober.add_argument("--turn-ca", metavar="FILE", help="CA certificates for turns: URLs (default: the system's)")
    prober.add_argument("--no-turn", action="store_true", help="skip the TURN servers")
    prober.set_defaults(func=cmd_probe)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wfga",
        description="WildFire IM global access, as code: the operator's commands around the Pulumi program.",
        epilog=(
            "STACK is stacks/Pulumi.<STACK>.yaml of the project around the working directory, or a stack "
            "file's path. Exit 2 always means bad input. `python -m wfga COMMAND --help` for each command."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_init_command(sub)
    _add_plan_commands(sub)
    _add_safe_change_commands(sub)
    return parser


def _argument(action: argparse.Action) -> str:
    if not action.option_strings:
        return str(action.metavar or action.dest)
    name = action.option_strings[-1]
    if action.nargs == 0:
        return name
    if action.choices:
        return f"{name} {{{','.join(map(str, action.choices))}}}"
    return f"{name} {action.metavar or action.dest.upper()}"


def reference_markdown(parser: argparse.ArgumentParser | None = None) -> str:
    """The README's command reference, made from the parser itself: what `--help` says, as Markdown."""
    parser = parser or build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: str(choice.help) for choice in sub._choices_actions}
    out = ["| command | what it does |", "| --- | --- |"]
    out += [f"| [`{name}`](#{name}) | {helps[name]} |" for name in sub.choices]
    for name, command in sub.choices.items():
        out += ["", f"### {name}", "", f"{command.description}", ""]
        out += ["| argument | meaning |", "| --- | --- |"]
        out += [
            f"| `{_argument(a)}` | {a.help} |".replace("|-`", "\\|-`")
            for a in command._actions
            if not isinstance(a, argparse._HelpAction)
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as err:
        print(str(err), file=sys.stderr)
        return EXIT_BAD_INPUT
    except PlaceholderError as err:
        return _fail(args.command, str(err))
    return code
