"""An operator's own cluster in Pulumi.yaml and stacks/ breaks no test: the suite plans its fixtures.

The repository is copied, its Pulumi.yaml and stacks/ replaced by another cluster, and a
representative part of the suite (the tests that plan stacks through every entry point: in-process,
the command line, the README's diagram) runs green in the copy.  The rest of the suite reads stacks
through the same conftest helpers, so the subset keeps the cost bounded without missing a path; and
every test of the whole suite runs under conftest's audit hook, which fails a test that opens or
lists the operator's Pulumi.yaml or stacks/ in the test process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests import conftest
from tests.conftest import PROJECT, ROOT

OWN_PROJECT = """\
name: wfga
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: .venv
stackConfigDir: stacks
config:
  wfga:cluster:
    value:
      name: sh
      cloud: alicloud
      region: cn-shanghai
      vpc_id: vpc-uf6owncluster000000001
      cidr: 10.8.0.0/16
      route_table_ids: [vtb-uf6owncluster00000001]
      attach_vswitches: {cn-shanghai-e: vsw-uf6ownclustere0000001, cn-shanghai-f: vsw-uf6ownclusterf0000001}
      nodes:
"""
OWN_STACK = {
    "config": {
        "wfga:access_points": [
            {
                "name": "va",
                "cloud": "alicloud",
                "region": "us-east-1",
                "vpc_cidr": "10.60.0.0/16",
                "zones": ["us-east-1a", "us-east-1b"],
            }
        ]
    }
}
SUBSET = [
    "tests/test_program.py::test_every_backup_entry_forwards_to_its_own_node",
    "tests/test_program.py::test_eips_are_protected_and_pinned_eips_are_not_created",
    "tests/test_program.py::test_cen_pieces_are_wired_to_the_right_ids",
    "tests/test_readme.py",
    "tests/test_layouts.py::test_region_stack_links_to_the_core_stacks_ids",
    "tests/test_cli.py::test_plan_prints_summary_bom_port_map_and_node_entries",
    "tests/test_check_node_config.py::test_plan_alone_compares_ports_of_placeholder_addresses",
]
SKIP_ANYWHERE = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".*_cache", "node_modules")


def skip(directory: str, names: list[str]) -> set[str]:
    """What not to copy: caches, and the operator's own Pulumi.yaml and stacks/ (replaced, never read)."""
    mine = {"Pulumi.yaml", "stacks"} if Path(directory) == ROOT else set()
    return set(SKIP_ANYWHERE(directory, names)) | (mine & set(names))


def test_the_suite_passes_with_another_cluster_in_pulumi_yaml_and_stacks(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=skip)
    nodes = "".join(f"        - {{name: node{n}, slot: {n}, private_ip: 10.8.1.{10 + n}}}\n" for n in range(1, 10))
    (copy / "Pulumi.yaml").write_text(OWN_PROJECT + nodes, encoding="utf-8")
    (copy / "stacks").mkdir()
    (copy / "stacks" / "Pulumi.prod.yaml").write_text(yaml.safe_dump(OWN_STACK), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    # What .ci/run does with the operator's stacks: they plan.
    own = subprocess.run(
        [sys.executable, "-m", "wfga", "plan", "prod"], cwd=copy, env=env, capture_output=True, text=True, check=False
    )
    assert own.returncode == 0, own.stderr
    assert "\n  node9: " in own.stdout and "Bill of materials" in own.stdout
    # And the shipped demo is really gone from the copy: whatever passes below uses the fixtures.
    demo = subprocess.run(
        [sys.executable, "-m", "wfga", "plan", "demo"], cwd=copy, env=env, capture_output=True, text=True, check=False
    )
    assert demo.returncode == 2 and "no such stack file" in demo.stderr

    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-x", "-p", "no:cacheprovider", *SUBSET],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
    summary = suite.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary and "deselected" not in summary, summary


def test_a_test_reading_the_operators_files_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every test runs under conftest's audit hook; here it is shown to catch each way of reading.
    with (ROOT / "Pulumi.yaml").open("rb"):
        pass
    monkeypatch.chdir(ROOT)
    with pytest.raises(OSError):
        open("stacks/Pulumi.no-such-stack.yaml", "rb")  # noqa: SIM115 (refused or not, it was tried)
    list(Path("stacks").glob("Pulumi.*.yaml"))
    monkeypatch.chdir(PROJECT)
    (PROJECT / "Pulumi.yaml").read_bytes()
    list((PROJECT / "stacks").glob("*.yaml"))
    caught = list(conftest._operator_reads)
    conftest._operator_reads.clear()
    assert caught == [
        str(ROOT / "Pulumi.yaml"),
        str(ROOT / "stacks" / "Pulumi.no-such-stack.yaml"),
        str(ROOT / "stacks"),
    ]
