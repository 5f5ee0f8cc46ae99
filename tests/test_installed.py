"""The installed package: ``pip install .`` gives ``wfga`` with ``wfga.components``, and the
``examples/`` programs run against that installed copy under the offline mocks.

The build copies only what the distribution is made of into a temporary folder (so the checkout
gets no build/ or egg-info) and installs it without dependencies into a target folder; Python then
runs from a folder outside the repository with only that target added to its path, so nothing can
come from the checkout.  The dependencies are the running virtualenv's.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

BUILD_TIMEOUT_S = 300
RUN_TIMEOUT_S = 300
# What pyproject.toml builds the distribution from.
SOURCES = ("pyproject.toml", "README.md", "wfga", "components")

RUN_EXAMPLE = """
import json
import sys
from pathlib import Path

from wfga.offline.engine import execute_program
from wfga.offline.stackfile import StackValues

plan = execute_program(StackValues(stack="example", values={}), Path(sys.argv[1]))
json.dump(plan.to_json(), sys.stdout)
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    target = tmp_path_factory.mktemp("site")
    # No build isolation: setuptools comes from the virtualenv (requirements-dev.txt), so the
    # build needs no network.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", target, source],
        check=True,
        timeout=BUILD_TIMEOUT_S,
        capture_output=True,
    )
    return target


def _python(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(installed)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )


def test_wfga_components_global_access_imports_from_outside_the_repository(installed: Path, tmp_path: Path) -> None:
    probe = (
        "import wfga, wfga.components as c; from wfga.components import GlobalAccess; "
        "print(wfga.__file__); print(c.GlobalAccess.__module__); print(sorted(c.__all__)[:3])"
    )
    result = _python(installed, tmp_path, "-c", probe)
    assert result.returncode == 0, result.stderr
    wfga_file, module, first = result.stdout.splitlines()
    assert Path(wfga_file).is_relative_to(installed)
    assert module == "wfga.components.global_access"
    assert first == "['AlicloudNlbAccessPoint', 'AlicloudNlbAccessPointArgs', 'AlicloudVmAccessPoint']"


def test_the_installed_copy_has_every_module_of_the_checkout(installed: Path) -> None:
    checkout = {p.relative_to(ROOT / "wfga").with_suffix("") for p in (ROOT / "wfga").rglob("*.py")}
    checkout |= {
        Path("components") / p.relative_to(ROOT / "components").with_suffix("")
        for p in (ROOT / "components").glob("*.py")
    }
    copy = {p.relative_to(installed / "wfga").with_suffix("") for p in (installed / "wfga").rglob("*.py")}
    assert checkout == copy


def _example(installed: Path, tmp_path: Path, name: str) -> dict[str, Any]:
    script = tmp_path / "run_example.py"
    script.write_text(RUN_EXAMPLE, encoding="utf-8")
    result = _python(installed, tmp_path, str(script), str(ROOT / "examples" / name))
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def _count(plan: dict[str, Any]) -> collections.Counter[str]:
    return collections.Counter(r["type"] for r in plan["resources"])


def _eip(plan: dict[str, Any], name: str) -> str:
    (record,) = [
        r for r in plan["resources"] if r["type"] == "alicloud:ecs/eipAddress:EipAddress" and r["name"] == name
    ]
    return str(record["state"]["ipAddress"])


def test_the_global_access_example_builds_both_access_points_from_models(installed: Path, tmp_path: Path) -> None:
    plan = _example(installed, tmp_path, "global-access")
    count = _count(plan)
    assert count["wfga:global_access:GlobalAccess"] == 1
    assert count["alicloud:nlb/listener:Listener"] == 3 * 3  # sg: nodes x services
    assert count["alicloud:ecs/instance:Instance"] == 2  # fra: two VMs
    assert count["wfga:cen_core:CenCore"] == 1
    assert count["wfga:cen_link:CenLink"] == 2
    assert count["alicloud:ecs/securityGroupRule:SecurityGroupRule"] == 2 * 3 + 3  # ingress + fra's VM rules
    # im-3 (slot 3): sg's NLB in both zones, then each of fra's VMs, all on port_base + 3.
    ips = [_eip(plan, f"sg-nlb-1-eip-{zone}") for zone in ("ap-southeast-1a", "ap-southeast-1b")]
    ips += [_eip(plan, f"fra-vm-{n}-eip") for n in (1, 2)]
    entries = [f"{ip}:83:1883:8083" for ip in ips]
    assert plan["outputs"]["node_config"]["im-3"] == "server.backup_address  " + ",".join(entries)
    assert [e["access_point"] for e in plan["outputs"]["backup_entries"]["im-3"]] == ["sg", "sg", "fra", "fra"]


def test_the_compose_example_adds_an_access_point_and_its_link_to_an_existing_cen(
    installed: Path, tmp_path: Path
) -> None:
    plan = _example(installed, tmp_path, "compose-access-point")
    count = _count(plan)
    assert count["wfga:alicloud_nlb_access_point:AlicloudNlbAccessPoint"] == 1
    assert count["alicloud:nlb/listener:Listener"] == 3 * 3
    assert count["wfga:cen_link:CenLink"] == 1
    assert count["wfga:cen_core:CenCore"] == 0  # the program's own CEN is used
    assert count["wfga:cluster_ingress:ClusterIngress"] == 1
    (router,) = [r for r in plan["resources"] if r["type"] == "alicloud:cen/transitRouter:TransitRouter"]
    assert router["inputs"]["cenId"] == "cen-exampleexisting0001"
    providers = {r["name"]: r["urn"] for r in plan["resources"] if r["type"] == "pulumi:providers:alicloud"}
    assert router["provider"].startswith(providers["singapore"] + "::")
    # im-1 (slot 1) joined to both EIPs of the NLB that carries it, on port_base + 1.
    ips = [_eip(plan, f"sg-nlb-1-eip-{zone}") for zone in ("ap-southeast-1a", "ap-southeast-1b")]
    expected = ",".join(f"{ip}:81:1881:8081" for ip in ips)
    assert plan["outputs"]["node_config"]["im-1"] == f"server.backup_address  {expected}"
