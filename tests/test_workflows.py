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


def commands(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The pulumi/actions steps that run a command (without one, the action only installs the CLI)."""
    return [s for s in steps_using(job, "pulumi/actions") if "command" in s.get("with", {})]


def cloud_jobs() -> dict[str, dict[str, Any]]:
    return {"preview": load("pull-request.yml")["jobs"]["preview"], "up": load("deploy.yml")["jobs"]["up"]}


CLOUD_SECRETS = {
    "ALICLOUD_ACCESS_KEY",
    "ALICLOUD_SECRET_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "CLOUDFLARE_API_TOKEN",
}


def test_cloud_jobs_pass_every_clouds_credentials():
    for name, job in cloud_jobs().items():
        env = job["env"]
        for secret in CLOUD_SECRETS | {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"}:
            assert env[secret] == f"${{{{ secrets.{secret} }}}}", (name, secret)
        [pulumi] = commands(job)
        assert pulumi["with"]["stack-name"] == "${{ env.STACK_NAME }}"


def _check_credentials(job: dict[str, Any], tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    [step] = [s for s in job["steps"] if s.get("id") == "creds"]
    output = tmp_path / "github_output"
    output.write_text("")
    base = {"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output), "STACK": "sg"}
    proc = subprocess.run(
        ["bash", "-e", "-c", step["run"]], env=base | env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


@pytest.mark.parametrize(
    ("env", "enabled", "cloudflare"),
    [
        ({}, "false", "false"),
        ({"ALICLOUD_ACCESS_KEY": "a", "ALICLOUD_SECRET_KEY": "b"}, "false", "false"),  # no backend
        ({"PULUMI_ACCESS_TOKEN": "t"}, "false", "false"),  # no cloud
        ({"PULUMI_ACCESS_TOKEN": "t", "ALICLOUD_ACCESS_KEY": "a"}, "false", "false"),  # half a pair
        ({"PULUMI_ACCESS_TOKEN": "t", "ALICLOUD_ACCESS_KEY": "a", "ALICLOUD_SECRET_KEY": "b"}, "true", "false"),
        ({"PULUMI_BACKEND_URL": "s3://b", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}, "true", "false"),
        ({"PULUMI_ACCESS_TOKEN": "t", "CLOUDFLARE_API_TOKEN": "c"}, "true", "true"),
    ],
)
def test_each_cloud_is_optional_and_any_one_with_a_backend_enables_the_job(tmp_path, env, enabled, cloudflare):
    for job in cloud_jobs().values():
        assert _check_credentials(job, tmp_path, env) == {"enabled": enabled, "cloudflare": cloudflare}


def test_a_cloudflare_secret_is_written_into_the_stack_config_before_the_command():
    for job in cloud_jobs().values():
        steps = job["steps"]
        [token] = [s for s in steps if "wfga:cloudflare_api_token" in s.get("run", "")]
        [command] = commands(job)
        assert steps.index(token) < steps.index(command)
        assert token["if"] == "steps.creds.outputs.enabled == 'true' && steps.creds.outputs.cloudflare == 'true'"
        # From stdin, not the command line, where other processes could read it.
        assert '"$CLOUDFLARE_API_TOKEN" | pulumi config set --secret --stack "$STACK_NAME"' in token["run"]
        [install] = [s for s in steps_using(job, "pulumi/actions") if s not in commands(job)]
        assert steps.index(install) < steps.index(token) and install["if"] == token["if"]


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
    [pulumi] = commands(preview)
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
    [pulumi] = commands(up)
    assert pulumi["with"]["command"] == "up"


def test_the_shared_test_job_runs_the_project_checks():
    steps = load("test.yml")["jobs"]["test"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "scripts/setup" in runs
    assert "scripts/plan-stacks" in runs
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
