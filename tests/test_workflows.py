"""The GitHub Actions workflows: actionlint (with shellcheck) clean, and the safety properties they promise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def tool(name: str) -> str:
    """The pinned binary from the virtualenv (requirements-dev.txt), else one on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        message = f"{name} is not installed (pip install -r requirements-dev.txt)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must lint the workflows")
        pytest.skip(message)
    return found


def actionlint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck"), *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def load(name: str) -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    return {("on" if key is True else key): value for key, value in data.items()}


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(action)]


def test_workflows_are_actionlint_clean():
    files = sorted(str(p.relative_to(ROOT)) for p in WORKFLOWS.glob("*.yml"))
    assert files
    result = actionlint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow():
    broken = "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secrets }\n"
    result = actionlint("-", stdin=broken)
    assert result.returncode == 1
    assert "<stdin>" in result.stdout


def test_pull_requests_test_diff_and_preview():
    flow = load("pull-request.yml")
    assert "pull_request" in flow["on"]
    jobs = flow["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/test.yml"
    diff_run = "\n".join(s.get("run", "") for s in jobs["diff"]["steps"])
    assert "-m wfga diff --base-ref" in diff_run
    assert "--all --format markdown" in diff_run
    assert steps_using(jobs["diff"], "actions/github-script")
    assert jobs["diff"]["permissions"]["pull-requests"] == "write"
    preview = jobs["preview"]
    assert {"test", "diff"} <= set(preview["needs"])
    [pulumi] = steps_using(preview, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["diff"] is True
    assert pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["if"] == "steps.creds.outputs.enabled == 'true'"
    assert "::notice" in preview["steps"][0]["run"]


def test_main_deploys_in_a_protected_environment_and_is_never_cancelled():
    flow = load("deploy.yml")
    assert flow["on"] == {"push": {"branches": ["main"]}}
    assert flow["concurrency"]["cancel-in-progress"] is False
    up = flow["jobs"]["up"]
    assert up["environment"] == "production"
    assert up["concurrency"]["cancel-in-progress"] is False
    assert up["strategy"]["max-parallel"] == 1
    assert "timeout-minutes" not in up  # a timeout would cancel a running `pulumi up`
    assert set(up["needs"]) == {"test", "stacks"}
    [pulumi] = steps_using(up, "pulumi/actions")
    assert pulumi["with"]["command"] == "up"


def test_the_shared_test_job_runs_the_project_checks():
    steps = load("test.yml")["jobs"]["test"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "scripts/setup" in runs
    assert "scripts/test" in runs


def test_a_missing_linter_fails_under_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must lint the workflows"):
        tool("actionlint")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        tool("actionlint")
