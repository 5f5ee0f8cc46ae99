"""The README shows what the code does: its commands and the demo's diagram stay true."""

from __future__ import annotations

import argparse
import subprocess
import sys

from tests.conftest import ROOT, stack_plan
from wfga.cli import build_parser, reference_markdown
from wfga.ops import diagram
from wfga.ops.report import bill_of_materials, bom_table


def test_readme_diagram_is_the_demos_current_diagram():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme[readme.index("```mermaid") : readme.index("```", readme.index("```mermaid") + 3) + 3]
    rendered = diagram.render_markdown(stack_plan("demo").to_json())
    assert shown in rendered, "regenerate it: python -m wfga plan demo --diagram demo.md"


def test_readme_commands_are_the_ones_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in ("scripts/setup", "scripts/test"):
        assert command in readme and command in ci
    assert "scripts/plan-stacks" in ci
    assert ".venv/bin/python -m wfga plan demo" in readme


def test_readme_command_reference_is_what_help_says():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- commands: start (generated from wfga/cli.py) -->\n", "<!-- commands: end -->"
    shown = readme[readme.index(start) + len(start) : readme.index(end)]
    assert shown == reference_markdown(), (
        "regenerate: python -c \"from wfga.cli import reference_markdown; print(reference_markdown(), end='')\""
    )


def _words(text: str) -> str:
    return " ".join(text.split())


def test_top_level_help_describes_every_command_as_the_readme_does():
    proc = subprocess.run(
        [sys.executable, "-m", "wfga", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(sub._choices_actions) >= 7
    for choice in sub._choices_actions:
        # argparse wraps the help column; compare word by word.
        assert _words(f"{choice.dest} {choice.help}") in _words(proc.stdout), choice.dest
        assert f"| [`{choice.dest}`](#{choice.dest}) | {choice.help} |" in readme
        detail = subprocess.run(
            [sys.executable, "-m", "wfga", choice.dest, "--help"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        described = sub.choices[choice.dest].description
        assert described and _words(described) in _words(detail.stdout)
        assert f"### {choice.dest}\n\n{described}\n" in readme


def test_the_runbooks_bill_of_materials_is_the_demos():
    runbook = (ROOT / "docs" / "production.md").read_text(encoding="utf-8")
    shown = runbook.split("```text\n", 1)[1].split("```", 1)[0]
    assert (
        shown
        == "Bill of materials (created by this stack, per region)\n"
        + bom_table(bill_of_materials(stack_plan("demo")))
        + "\n"
    )
