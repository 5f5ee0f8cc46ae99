"""``check-node-config`` on an IM node: its ``wildfirechat.conf`` against the deployed outputs; ``--fix``.

Standard library only, and of wfga only :mod:`wfga.ops.wfconf` and :mod:`wfga.plan.nodeline` (both
standard library only too): ``wfga build-node-tool OUT.pyz`` packs these three modules into one
file that runs on a node with a bare ``python3`` (3.11 or later), no repository, no virtualenv::

    python3 wfga-node.pyz --node im-1 --outputs sg.json --outputs fra.json [--fix] wildfirechat.conf

``wfga check-node-config`` (the full command line) uses the same :func:`check`, and can also take
the expected entries from an offline plan of the stacks.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from wfga.ops import wfconf
from wfga.plan import nodeline

EXIT_BAD_INPUT = 2
PROG = "wfga-node.pyz"


class NodeToolError(Exception):
    """Bad input: printed as is, exit 2."""


@dataclass(frozen=True)
class Expected:
    """What the node's line should hold, where that comes from, and which addresses are unknown."""

    entries: list[str]
    source: str
    # Placeholder addresses of an offline plan: only their ports can be compared.
    wildcards: frozenset[str] = field(default_factory=frozenset)
    # The offline plan differs from the deployed outputs: a `pulumi up` is pending for this node.
    pending: bool = False


def read_outputs(path: str) -> dict[str, Any]:
    """``pulumi stack output --json`` of a deployed stack; an offline plan is refused."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise NodeToolError(f"{path}: cannot read stack outputs ({err})") from None
    if not isinstance(data, dict) or ("resources" in data and "placeholders" in data):
        raise NodeToolError(f"{path}: not `pulumi stack output --json` of a deployed stack")
    return data


def node_entries(sources: Sequence[tuple[str, Any]], node: str, what: str) -> list[str]:
    """The node's entries merged over ``sources`` (in order), or NodeToolError."""
    merged, problems = nodeline.merge_entries(sources)
    if problems:
        raise NodeToolError("; ".join(problems))
    if node not in merged:
        raise NodeToolError(f"node {node} is not in {what}; nodes there: {', '.join(merged) or 'none'}")
    return merged[node]


def from_outputs(paths: Sequence[str], node: str) -> Expected:
    entries = node_entries([(p, read_outputs(p)) for p in paths], node, "the deployed outputs")
    return Expected(entries, f"deployed outputs {', '.join(paths)}")


def _marked_lines(conf: wfconf.ConfFile) -> list[wfconf.ConfLine]:
    """Lines wfga wrote with placeholder addresses (--allow-placeholders): the server refuses them."""
    return [
        line
        for line in conf.lines
        if line.fatal and nodeline.is_marked(line.text) and line.text.strip().startswith(nodeline.KEY)
    ]


def check(path: Path, node: str, expected: Expected, *, fix: bool, out: TextIO | None = None) -> int:
    """Report on one node's file; with ``fix``, rewrite its backup_address line.  Returns the exit code.

    0: in sync (or fixed); 1: drift, or a file the server refuses; NodeToolError: bad input.
    """
    out = out or sys.stdout
    try:
        text = wfconf.read_text(path.read_bytes())
    except OSError as err:
        raise NodeToolError(f"{path}: cannot read ({err.strerror})") from None
    conf = wfconf.parse(text)
    line = conf.find(nodeline.KEY)
    actual = wfconf.entries(line.value or "") if line else []
    drift = wfconf.compare_entries(actual, expected.entries, expected.wildcards)
    marked = _marked_lines(conf)
    print(f"node {node}: {path}", file=out)
    print(wfconf.describe(conf, drift, expected.source, expected.wildcards), file=out)
    for bad in marked:
        print(
            f"  line {bad.number}: {nodeline.PLACEHOLDER_TAG} entries, written from an offline plan: "
            "not deployed addresses",
            file=out,
        )
    if expected.pending:
        print("note: the plan differs from the deployed outputs; a `pulumi up` is pending for this node", file=out)
    # Only the backup_address line is ours to rewrite; another line the server refuses stays refused.
    others_rejected = sorted(set(conf.rejected) - {bad.number for bad in marked})
    if drift.in_sync and not marked:
        print("in sync", file=out)
        return 1 if others_rejected else 0
    if not fix:
        print("DRIFT: run with --fix to rewrite only that line", file=out)
        return 1
    unknown = nodeline.placeholders_in(expected.entries, expected.wildcards)
    if unknown:
        raise NodeToolError(
            f"not rewriting {path}: the expected entries hold placeholder addresses ({', '.join(unknown)}); "
            "give --outputs of the deployed stacks, or pin the EIPs"
        )
    value = nodeline.backup_address(expected.entries)
    for bad in marked:
        indent = bad.text[: len(bad.text) - len(bad.text.lstrip())]
        text = wfconf.replace_line(text, bad.number, f"{indent}{nodeline.node_config_line(expected.entries)}")
    text = wfconf.set_value(text, nodeline.KEY, value)
    wfconf.write_atomically(path, text)
    where = (
        f"line {', '.join(str(b.number) for b in marked)}"
        if marked
        else (f"line {line.number}" if line else "a new last line")
    )
    print(f"fixed: {nodeline.KEY} rewritten on {where}; restart the IM server to apply it", file=out)
    if others_rejected:
        print(f"still REJECTED over line {', '.join(map(str, others_rejected))}: fix that by hand", file=out)
        return 1
    return 0


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Compare this IM node's wildfirechat.conf with the deployed stacks' outputs; --fix rewrites only "
            "its server.backup_address line. Exit 0: in sync (or fixed); 1: drift or a file the server "
            "refuses; 2: bad input."
        ),
    )
    parser.add_argument("path", metavar="PATH", help="the node's wildfirechat.conf")
    parser.add_argument("--node", required=True, help="the node this file belongs to")
    parser.add_argument(
        "--outputs",
        action="append",
        required=True,
        metavar="FILE",
        help="`pulumi stack output --json` of each stack, in node-config order (repeat)",
    )
    parser.add_argument("--fix", action="store_true", help="rewrite only the server.backup_address line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return check(Path(args.path), args.node, from_outputs(args.outputs, args.node), fix=args.fix)
    except NodeToolError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


# --- the zipapp ------------------------------------------------------------------------------------

# Every module the tool imports, and the packages around them: standard library beyond these.
PACKED = (
    "wfga/__init__.py",
    "wfga/plan/__init__.py",
    "wfga/plan/nodeline.py",
    "wfga/ops/__init__.py",
    "wfga/ops/wfconf.py",
    "wfga/ops/node_tool.py",
)
ENTRY = "import sys\n\nfrom wfga.ops.node_tool import main\n\nsys.exit(main())\n"
SHEBANG = b"#!/usr/bin/env python3\n"


def build_zipapp(target: Path, packed: Collection[str] = PACKED) -> None:
    """Write the node tool as one executable file; the same sources give the same bytes."""
    source = Path(__file__).resolve().parents[2]
    buffer = io.BytesIO()
    buffer.write(SHEBANG)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in [("__main__.py", ENTRY.encode()), *((p, (source / p).read_bytes()) for p in packed)]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    target.write_bytes(buffer.getvalue())
    target.chmod(0o755)
