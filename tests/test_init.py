"""`wfga init`: the operator's own cluster and stacks, written only when they plan cleanly."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT, ROOT, project_env
from wfga.cli import main

CLUSTER = [
    "--cluster-name",
    "sh",
    "--cloud",
    "alicloud",
    "--region",
    "cn-shanghai",
    "--vpc-id",
    "vpc-uf6own000000000000001",
    "--cidr",
    "10.8.0.0/16",
    "--route-table",
    "vtb-uf6own00000000000001",
    "--attach-vswitch",
    "cn-shanghai-e=vsw-uf6owne000000000001",
    "--attach-vswitch",
    "cn-shanghai-f=vsw-uf6ownf000000000001",
    "--node",
    "im-1=10.8.1.11",
    "--node",
    "im-2=10.8.1.12",
    "--node",
    "im-9=10.8.1.19@9",
]
SGP = "name=sgp,region=ap-southeast-1,cidr=10.21.0.0/16,zones=ap-southeast-1a+ap-southeast-1b"
FRA = "name=fra,region=eu-central-1,cidr=10.22.0.0/16,zones=eu-central-1a+eu-central-1b"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the demo project, as a clone has it, running this checkout's program."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT / "stacks", root / "stacks")
    data = yaml.safe_load((PROJECT / "Pulumi.yaml").read_text(encoding="utf-8"))
    data["main"] = str(ROOT)
    (root / "Pulumi.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def plan(root: Path, stack: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfga", "plan", stack],
        cwd=root,
        env=project_env(),
        capture_output=True,
        text=True,
        check=False,
    )


def test_init_writes_a_region_layout_that_plans(project, capsys):
    args = ["init", "--no-input", *CLUSTER, "--access-point", SGP, "--access-point", FRA, "--layout", "region"]
    # The demo ships a core stack of its own: replacing it takes --force (or --remove-demos).
    assert main(args) == 2
    assert "stacks/Pulumi.core.yaml, stacks/Pulumi.fra.yaml: already there; give --force" in capsys.readouterr().err
    code = main([*args, "--force"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "wrote stacks/Pulumi.sgp.yaml" in out and "wrote stacks/Pulumi.core.yaml" in out
    # The demos were kept (no --remove-demos) and are named as now planned against this cluster.
    assert "Pulumi.demo.yaml" in out.split("not written by init", 1)[1]
    written = yaml.safe_load((project / "Pulumi.yaml").read_text(encoding="utf-8"))
    before = yaml.safe_load((PROJECT / "Pulumi.yaml").read_text(encoding="utf-8"))
    # The project's own keys stay; only the cluster is the operator's now.
    assert {k: v for k, v in written.items() if k not in ("config", "main")} == {
        k: v for k, v in before.items() if k not in ("config", "main")
    }
    cluster = written["config"]["wfga:cluster"]
    assert cluster["value"]["vpc_id"] == "vpc-uf6own000000000000001"
    assert [n["slot"] for n in cluster["value"]["nodes"]] == [1, 2, 9]
    sgp = yaml.safe_load((project / "stacks" / "Pulumi.sgp.yaml").read_text(encoding="utf-8"))["config"]
    assert sgp["wfga:core_stack"] == "organization/wfga/core"
    assert sgp["wfga:access_points"][0]["link"] == "cen"
    # What init promised: each stack it wrote plans in a separate process, as .ci/run does.
    proc = plan(project, "sgp")
    assert proc.returncode == 0, proc.stderr
    assert ":89:1889:8089" in proc.stdout.split("\n  im-9: ", 1)[1].splitlines()[0]


def test_init_all_in_one_replaces_the_demos_on_request(project, capsys):
    code = main(["init", "--no-input", *CLUSTER, "--access-point", SGP, "--access-point", FRA, "--remove-demos"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert sorted(p.name for p in (project / "stacks").iterdir()) == ["Pulumi.prod.yaml"]
    assert "removed the demo stacks/Pulumi.sg.yaml" in out
    proc = plan(project, "prod")
    assert proc.returncode == 0, proc.stderr
    assert "Bill of materials" in proc.stdout


def test_init_writes_nothing_when_a_stack_would_not_plan(project, capsys):
    before = (project / "Pulumi.yaml").read_bytes()
    overlapping = SGP.replace("10.21.0.0/16", "10.8.0.0/16")  # the cluster's own CIDR
    code = main(["init", "--no-input", *CLUSTER, "--access-point", overlapping, "--stack", "mine"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("wfga init: nothing written:")
    assert "stack mine: " in err and "10.8.0.0/16" in err
    assert (project / "Pulumi.yaml").read_bytes() == before
    assert not (project / "stacks" / "Pulumi.mine.yaml").exists()


def test_init_names_a_main_without_the_program_once(project, capsys):
    data = yaml.safe_load((project / "Pulumi.yaml").read_text(encoding="utf-8"))
    data["main"] = "elsewhere/"
    (project / "elsewhere").mkdir()
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    before = (project / "Pulumi.yaml").read_bytes()
    argv = ["init", "--no-input", *CLUSTER, "--access-point", SGP, "--access-point", FRA, "--layout", "region"]
    code = main([*argv, "--force"])  # three stacks, two of them over shipped files
    err = capsys.readouterr().err
    assert code == 2
    # The project's own file, once: not the scratch copy init plans in, not once per stack.
    assert err.count("holds no __main__.py") == 1
    assert f"{project / 'Pulumi.yaml'}: main: {project / 'elsewhere'} holds no __main__.py" in err
    assert (project / "Pulumi.yaml").read_bytes() == before
    shipped = sorted(p.name for p in (PROJECT / "stacks").iterdir())
    assert sorted(p.name for p in (project / "stacks").iterdir()) == shipped


def test_init_lists_every_bad_flag_at_once(project, capsys):
    code = main(
        ["init", "--no-input", "--cloud", "alicloud", "--node", "im-1", "--access-point", "name=x,region=y,color=red"]
    )
    err = capsys.readouterr().err
    assert code == 2
    for expected in (
        "--cluster-name: required",
        "--vpc-id: required",
        "--route-table: give",
        "--node im-1: expected NAME=IP",
    ):
        assert expected in err


def test_init_never_overwrites_a_stack_without_force(project, capsys):
    args = ["init", "--no-input", *CLUSTER, "--access-point", SGP, "--stack", "demo"]
    assert main(args) == 2
    assert "stacks/Pulumi.demo.yaml: already there; give --force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


def test_init_asks_on_a_terminal(project, monkeypatch, capsys):
    answers = iter(
        [
            "sh",
            "alicloud",
            "cn-shanghai",
            "vpc-uf6own000000000000001",
            "10.8.0.0/16",
            "vtb-uf6own00000000000001",
            "cn-shanghai-e=vsw-uf6owne000000000001",
            "cn-shanghai-f=vsw-uf6ownf000000000001",
            "",
            "",  # no security group
            "im-1=10.8.1.11",
            "im-2=10.8.1.12",
            "",
            SGP,
            "",
        ]
    )
    asked: list[str] = []

    def ask(question: str) -> str:
        asked.append(question)
        return next(answers)

    tty = io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stdin", tty)
    monkeypatch.setattr("builtins.input", ask)
    assert main(["init", "--stack", "asked"]) == 0, capsys.readouterr().err
    assert asked[0].startswith("Cluster name")
    assert next(answers, None) is None  # every answer used, no question left over
    stack = yaml.safe_load((project / "stacks" / "Pulumi.asked.yaml").read_text(encoding="utf-8"))
    assert stack["config"]["wfga:access_points"][0]["name"] == "sgp"
    assert plan(project, "asked").returncode == 0
