"""The node tool: check-node-config in one file that a bare python3 runs on an IM node."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, stack_plan
from wfga.cli import main
from wfga.ops import node_tool
from wfga.plan import nodeline

# A node's file as im-server ships it (abridged), with a stale backup line.
SAMPLE = """\
##The mqtt port
port 1883

##The http port for short link
http_port 80
http.admin.port 18080

##Backup addresses: IP:SHORT:LONG:WS, comma separated
server.backup_address  100.64.7.7:81:1881:8081

websocket_port 8083
"""


def _outputs(tmp_path: Path) -> tuple[list[Path], dict[str, str]]:
    """Two region stacks' `pulumi stack output --json`, with stand-in addresses (never contacted)."""
    files, lines = [], {}
    for n, stack in enumerate(("sg", "fra"), start=1):
        plan = stack_plan(stack)
        text = json.dumps(plan.outputs)
        for i, ip in enumerate(sorted(p for p in plan.placeholders if p.count(".") == 3 and ":" not in p)):
            text = text.replace(f'"{ip}"', f'"100.64.{n}.{i + 1}"').replace(f'"{ip}:', f'"100.64.{n}.{i + 1}:')
        path = tmp_path / f"{stack}.json"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    merged, problems = nodeline.merge_entries([(str(f), json.loads(f.read_text())) for f in files])
    assert problems == []
    lines = {node: nodeline.backup_address(items) for node, items in merged.items()}
    return files, lines


@pytest.fixture(scope="module")
def zipapp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("tool") / "wfga-node.pyz"
    assert main(["build-node-tool", str(target)]) == 0
    return target


def bare_python() -> str:
    """The system's python3 outside any virtualenv: what an IM node has."""
    for candidate in ("/usr/bin/python3", shutil.which("python3")):
        if candidate and Path(candidate).is_file() and not Path(candidate).resolve().is_relative_to(ROOT):
            return candidate
    pytest.skip("no system python3")


def run_tool(zipapp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # -I: no environment, no user site, no working directory on the path; -S: no site-packages at
    # all, so a third-party import cannot succeed by accident.
    return subprocess.run(
        [bare_python(), "-I", "-S", str(zipapp), *args], capture_output=True, text=True, check=False, cwd="/"
    )


def test_a_bare_python3_checks_and_fixes_a_node_file(tmp_path, zipapp):
    files, lines = _outputs(tmp_path)
    conf = tmp_path / "wildfirechat.conf"
    conf.write_text(SAMPLE, encoding="utf-8")
    args = ["--node", "im-2", "--outputs", str(files[0]), "--outputs", str(files[1]), str(conf)]
    proc = run_tool(zipapp, *args)
    assert proc.returncode == 1, proc.stderr
    assert "DRIFT: run with --fix" in proc.stdout
    assert "unexpected: 100.64.7.7:81:1881:8081" in proc.stdout
    proc = run_tool(zipapp, *args, "--fix")
    assert proc.returncode == 0, proc.stderr
    assert "run with --fix" not in proc.stdout
    assert "fixed: server.backup_address rewritten on line 9" in proc.stdout
    assert conf.read_text(encoding="utf-8") == SAMPLE.replace("100.64.7.7:81:1881:8081", lines["im-2"])
    proc = run_tool(zipapp, *args)
    assert (proc.returncode, proc.stdout.rstrip().splitlines()[-1]) == (0, "in sync")


def test_the_tool_refuses_an_offline_plan_and_bad_input_with_exit_2(tmp_path, zipapp):
    conf = tmp_path / "wildfirechat.conf"
    conf.write_text(SAMPLE, encoding="utf-8")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(stack_plan("sg").to_json()), encoding="utf-8")
    proc = run_tool(zipapp, "--node", "im-1", "--outputs", str(plan), str(conf))
    assert proc.returncode == 2
    assert "not `pulumi stack output --json` of a deployed stack" in proc.stderr
    proc = run_tool(zipapp, "--node", "im-1", str(conf))
    assert proc.returncode == 2 and "--outputs" in proc.stderr
    assert "Traceback" not in proc.stderr


def _imports(source: bytes) -> list[str]:
    """Every module a file imports; ``from package import name`` counts as package.name."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def test_the_tool_carries_only_standard_library_imports(zipapp):
    with zipfile.ZipFile(zipapp) as archive:
        names = sorted(archive.namelist())
        packed = {n.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for n in names}
        modules = {n.removesuffix(".py").replace("/", ".") for n in names if not n.endswith("__init__.py")}
        for name in names:
            for module in _imports(archive.read(name)):
                top = module.split(".")[0]
                # A packed module, or a name taken from one (not from a package: that may be unpacked).
                inside = module in packed or module.rsplit(".", 1)[0] in modules
                assert top in sys.stdlib_module_names or (top == "wfga" and inside), f"{name} imports {module}"
    assert names == sorted(["__main__.py", *node_tool.PACKED])


def test_the_build_is_reproducible(tmp_path, zipapp):
    again = tmp_path / "again.pyz"
    assert main(["build-node-tool", str(again)]) == 0
    assert again.read_bytes() == zipapp.read_bytes()
    assert again.read_bytes().startswith(b"#!/usr/bin/env python3\n")


def test_the_port_plan_orders_entries_with_the_tools_helper():
    # One implementation of the entry order: the port plan imports the one the tool carries.
    source = (ROOT / "wfga" / "plan" / "portplan.py").read_text(encoding="utf-8")
    assert "from wfga.plan.nodeline import web_first" in source
    assert "def web_first" not in source
    assert nodeline.node_config_line(["a", "b"]) == "server.backup_address  a,b"
