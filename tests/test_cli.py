"""The command line as an operator uses it: real processes, exit codes, files written."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

from tests.conftest import PROJECT, project_env


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfga", *args],
        cwd=PROJECT,
        env=project_env(),
        capture_output=True,
        text=True,
        check=False,
    )


def test_plan_prints_summary_port_map_and_node_lines(tmp_path):
    proc = run("plan", "demo", "--json", str(tmp_path / "plan.json"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "AlicloudNlbAccessPoint sg: 60 resources" in out
    assert "im-6: server.backup_address  " in out
    assert "* placeholder" in out
    data = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert set(data) == {"stack", "resources", "outputs", "placeholders"}
    first = data["resources"][0]
    assert set(first) >= {"urn", "type", "name", "parent", "dependencies", "protect", "id", "inputs", "state"}
    listener = next(r for r in data["resources"] if r["type"] == "alicloud:nlb/listener:Listener")
    assert "listenerPort" in listener["inputs"]  # exactly as sent to the engine: camelCase
    conf = (tmp_path / "out" / "im-2.conf").read_text(encoding="utf-8")
    assert conf == data["outputs"]["node_config"]["im-2"] + "\n"
    with (tmp_path / "out" / "port-map.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(data["outputs"]["port_map"]) == 72
    assert rows[0]["public_port"] == "81"


def test_plan_of_a_missing_stack_names_the_known_ones():
    proc = run("plan", "nosuch")
    assert proc.returncode == 2
    assert "no such stack file" in proc.stderr and "demo" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_config_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  wfga:access_points:\n    - name: sg\n      cloud: alicloud\n", encoding="utf-8")
    proc = run("plan", "--config-file", str(bad))
    assert proc.returncode == 2
    assert "wfga:access_points[0] (sg).region: required key is missing" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_plan_out_writes_each_vms_nginx_conf(tmp_path):
    proc = run("plan", "vm-demo", "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.glob("*.nginx.conf")) == [
        "tyo-vm-1.nginx.conf",
        "tyo-vm-2.nginx.conf",
        "va-vm-1.nginx.conf",
    ]
    conf = (tmp_path / "tyo-vm-2.nginx.conf").read_text(encoding="utf-8")
    assert conf.count("server {") == 18
    assert "listen 1886 " in conf and "proxy_pass 172.16.0.16:1883;" in conf
