"""The README shows what the code does: its commands and the demo's diagram stay true."""

from __future__ import annotations

from tests.conftest import ROOT, stack_plan
from wfga.ops import diagram


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
    assert ".venv/bin/python -m wfga plan demo" in readme
