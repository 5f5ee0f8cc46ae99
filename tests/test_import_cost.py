"""A plan loads pulumi_cloudflare (over a second and 100 MB per process) only for a stack that uses Cloudflare.

Each check runs in a fresh process: this suite's own process has long imported every SDK.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT, project_env

SDKS = ("pulumi_alicloud", "pulumi_aws", "pulumi_cloudflare")

# Runs the CLI in-process, then reports which SDKs that process imported.
PLAN = """
import json, sys
from wfga.cli import main
code = main(["plan", sys.argv[1], "--quiet", "--json", sys.argv[2]])
print(json.dumps({"code": code, "loaded": [m for m in sys.argv[3:] if m in sys.modules]}))
"""


def _python(code: str, *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=PROJECT, env=project_env(), capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize(("stack", "uses_cloudflare"), [("vm-demo", False), ("edge-demo", True)])
def test_a_plan_imports_pulumi_cloudflare_only_for_cloudflare_resources(
    tmp_path: Path, stack: str, uses_cloudflare: bool
) -> None:
    out = tmp_path / "plan.json"
    result = _python(PLAN, stack, str(out), *SDKS)
    assert result["code"] == 0
    types = {r["type"] for r in json.loads(out.read_text(encoding="utf-8"))["resources"]}
    # The premise, from the plan itself: the one stack has Cloudflare resources, the other none.
    assert any(t.startswith(("cloudflare:", "pulumi:providers:cloudflare")) for t in types) == uses_cloudflare
    assert ("pulumi_cloudflare" in result["loaded"]) == uses_cloudflare


def test_every_public_component_name_still_imports_and_only_the_zone_needs_cloudflare() -> None:
    result = _python(
        """
import json, sys
import components
bare = "pulumi_cloudflare" in sys.modules
from components import ServiceDomainZone
zone = "pulumi_cloudflare" in sys.modules
names = {}
exec("from components import *", names)
print(json.dumps({"bare": bare, "zone": zone, "missing": sorted(set(components.__all__) - set(names)),
                  "listed": "ServiceDomainZoneArgs" in dir(components), "module": ServiceDomainZone.__module__}))
"""
    )
    assert result == {
        "bare": False,
        "zone": True,
        "missing": [],
        "listed": True,
        "module": "components.service_domain_zone",
    }
