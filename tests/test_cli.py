"""The command line as an operator uses it: real processes, exit codes, files written."""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import PROJECT, project_env
from wfga.cli import build_parser, main
from wfga.offline.engine import Plan
from wfga.ops import wfconf
from wfga.ops.report import as_written


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfga", *args],
        cwd=PROJECT,
        env=project_env(),
        capture_output=True,
        text=True,
        check=False,
    )


def test_plan_prints_summary_bom_port_map_and_node_entries(tmp_path):
    proc = run("plan", "demo", "--json", str(tmp_path / "plan.json"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "AlicloudNlbAccessPoint sg: 60 resources" in out
    # Placeholders only: entries to review, no line to paste.
    assert "server.backup_address" not in out
    entries = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))["outputs"]["backup_addresses"]
    first = entries["im-6"].split(",")[0]
    assert f"  im-6: {first.replace(':', '*:', 1)}," in out
    assert "* placeholder" in out
    data = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert set(data) == {"stack", "resources", "outputs", "placeholders"}
    first_resource = data["resources"][0]
    assert set(first_resource) >= {"urn", "type", "name", "parent", "dependencies", "protect", "id", "inputs", "state"}
    listener = next(r for r in data["resources"] if r["type"] == "alicloud:nlb/listener:Listener")
    assert "listenerPort" in listener["inputs"]  # exactly as sent to the engine: camelCase


def test_plan_prints_the_bill_of_materials_per_region():
    proc = run("plan", "demo")
    assert proc.returncode == 0, proc.stderr
    bom = proc.stdout.split("Bill of materials", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    rows = {line.split()[0]: line.split()[1:] for line in bom[2:]}
    assert bom[0].split() == [
        "region",
        "NLBs",
        "listeners",
        "EIPs",
        "transit",
        "routers",
        "TR",
        "VPC",
        "attachments",
        "TR",
        "peer",
        "attachments",
        "CEN",
        "instances",
    ]
    # Per access point region: 1 NLB, 6 nodes x 3 listeners, one EIP per zone (2), its own TR,
    # attached to its VPC and peered with the cluster's; the cluster region has the core TR; CEN is global.
    assert rows["ap-southeast-1"] == ["1", "18", "2", "1", "1", "1", "-"]
    assert rows["eu-central-1"] == ["1", "18", "2", "1", "1", "1", "-"]
    assert rows["cn-hangzhou"] == ["-", "-", "-", "1", "1", "-", "-"]
    assert rows["(global)"] == ["-", "-", "-", "-", "-", "-", "1"]


def test_plan_out_refuses_placeholder_addresses_and_writes_nothing(tmp_path):
    proc = run("plan", "demo", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("wfga plan: 4 placeholder address(es)")
    assert "--allow-placeholders" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_allowed_placeholders_are_marked_so_the_server_refuses_the_line(tmp_path):
    proc = run(
        "plan", "demo", "--json", str(tmp_path / "plan.json"), "--out", str(tmp_path / "out"), "--allow-placeholders"
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    conf = (tmp_path / "out" / "im-2.conf").read_text(encoding="utf-8")
    entries = data["outputs"]["backup_addresses"]["im-2"].split(",")
    assert conf == "server.backup_address  " + ",".join(f"#PLACEHOLDER {e}" for e in entries) + "\n"
    assert f"  im-2: {conf.strip()}" in proc.stdout
    # Both im-server parsers refuse the file, however the line is spaced; check-node-config says so.
    for text in (conf, conf.replace("  ", " ", 1)):
        parsed = wfconf.parse(text)
        assert parsed.rejected == [1]
        assert parsed.older  # the pre-debd4f1a parser refuses any '#' after column 0
    with (tmp_path / "out" / "port-map.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(data["outputs"]["port_map"]) == 72
    assert rows[0]["public_port"] == "81"


def test_node_config_refuses_placeholders_of_stacks_and_plans_but_takes_deployed_outputs(tmp_path):
    plan_json = tmp_path / "sg-plan.json"
    assert run("plan", "sg", "--json", str(plan_json), "--quiet").returncode == 0
    for source in ("sg", "stacks/Pulumi.sg.yaml", str(plan_json)):
        proc = run("node-config", source, "fra")
        assert proc.returncode == 2, source
        assert proc.stderr.startswith("wfga node-config: 4 placeholder address(es)")
        assert proc.stdout == ""
    # `pulumi stack output --json` of deployed stacks: stand-in addresses (never contacted).
    outputs = json.loads(plan_json.read_text(encoding="utf-8"))["outputs"]
    text = json.dumps(outputs)
    for n, ip in enumerate(json.loads(plan_json.read_text(encoding="utf-8"))["placeholders"]):
        if ip.count(".") == 3:
            text = text.replace(f"{ip}:", f"100.64.0.{n % 250 + 1}:")
    (tmp_path / "sg.json").write_text(text, encoding="utf-8")
    proc = run("node-config", str(tmp_path / "sg.json"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "im-1.conf").read_text(encoding="utf-8").startswith("server.backup_address  100.64.0.")


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
    proc = run("plan", "vm-demo", "--out", str(tmp_path), "--quiet", "--allow-placeholders")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.glob("*.nginx.conf")) == [
        "tyo-vm-1.nginx.conf",
        "tyo-vm-2.nginx.conf",
        "va-vm-1.nginx.conf",
    ]
    conf = (tmp_path / "tyo-vm-2.nginx.conf").read_text(encoding="utf-8")
    assert conf.count("server {") == 18
    assert "listen 1886 " in conf and "proxy_pass 172.16.0.16:1883;" in conf


# Every command that reads a stack: how it is given the stack file instead of STACK.
PROBE = ["--address", "127.0.0.1", "--node", "im-1", "--timeout", "0.2", "--no-turn", "--json", "-"]
STACK_FORMS = {
    "plan": (["sg"], ["--config-file", "stacks/Pulumi.sg.yaml"]),
    "policy-config": (["sg"], ["--config-file", "stacks/Pulumi.sg.yaml"]),
    "node-config": (["sg", "--allow-placeholders"], ["--config-file", "stacks/Pulumi.sg.yaml", "--allow-placeholders"]),
    "probe": (["sg", *PROBE], ["--config-file", "stacks/Pulumi.sg.yaml", *PROBE]),
    "diff": (["sg", "sg", "--format", "json"], ["sg", "--config-file", "stacks/Pulumi.sg.yaml", "--format", "json"]),
}


def test_every_command_reading_a_stack_takes_config_file():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    reading = {name for name in sub.choices if name not in ("init", "build-node-tool")}
    assert reading == {*STACK_FORMS, "check-node-config"}
    for name in reading:
        options = {o for a in sub.choices[name]._actions for o in a.option_strings}
        assert "--config-file" in options, name


def _comparable(command: str, out: str) -> str:
    if command == "probe":
        # Whether 127.0.0.1 answers is the machine's business; which addresses were tried is ours.
        return json.dumps([{k: r[k] for k in ("access_point", "zone", "ip", "port", "node")} for r in json.loads(out)])
    if command == "diff":
        [result] = json.loads(out)
        assert result["head"] in ("sg", "stacks/Pulumi.sg.yaml")
        return json.dumps({k: v for k, v in result.items() if k != "head"})
    return out


@pytest.mark.parametrize("command", sorted(STACK_FORMS))
def test_stack_name_and_config_file_give_the_same_result(command, capsys):
    results = []
    for argv in STACK_FORMS[command]:
        code = main([command, *argv])
        out, err = capsys.readouterr()
        assert code in ((0, 1) if command == "probe" else (0,)), err
        assert out.strip()
        results.append((code, _comparable(command, out)))
    assert results[0] == results[1]


def test_diff_takes_two_stack_files_as_config_files():
    proc = run("diff", "--config-file", "stacks/Pulumi.sg.yaml", "--config-file", "stacks/Pulumi.sg.yaml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("wfga diff: stack sg: stacks/Pulumi.sg.yaml -> stacks/Pulumi.sg.yaml\nimpact: none")


@pytest.mark.parametrize("argv", [["--config-file", "stacks/Pulumi.sg.yaml"], ["sg"], ["stacks/Pulumi.sg.yaml"]])
def test_probing_a_stack_without_address_says_what_to_give(argv):
    proc = run("probe", *argv)
    assert proc.returncode == 2
    assert "a stack is planned offline, with placeholder addresses" in proc.stderr
    assert "--outputs FILE" in proc.stderr and "--address IP" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_plan_json_marks_the_placeholders_of_the_lines_a_reader_would_paste(tmp_path):
    proc = run("plan", "sg", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    outputs, placeholders = data["outputs"], set(data["placeholders"])
    assert set(outputs["node_config"]) == set(outputs["backup_addresses"]) == {f"im-{n}" for n in range(1, 7)}
    for node, line in outputs["node_config"].items():
        entries = outputs["backup_addresses"][node].split(",")
        # The entries keep their bare addresses (diff and node-config read them, and refuse them) ...
        assert all(e.partition(":")[0] in placeholders for e in entries)
        # ... the line to paste carries each one marked, so the server refuses the file.
        assert line == "server.backup_address  " + ",".join(f"#PLACEHOLDER {e}" for e in entries)
        assert wfconf.parse(line + "\n").rejected == [1]


def test_as_written_marks_only_placeholder_entries_and_leaves_a_plan_without_any_alone():
    outputs = {
        "backup_addresses": {"im-1": "198.51.100.7:81:1881:8081,100.64.0.1:81:1881:8081"},
        "node_config": {"im-1": "server.backup_address  198.51.100.7:81:1881:8081,100.64.0.1:81:1881:8081"},
    }
    plan = Plan(stack="t", resources=[], outputs=outputs, placeholders=["198.51.100.7"])
    written = as_written(plan)
    assert written.outputs["node_config"] == {
        "im-1": "server.backup_address  #PLACEHOLDER 198.51.100.7:81:1881:8081,100.64.0.1:81:1881:8081"
    }
    assert written.outputs["backup_addresses"] == outputs["backup_addresses"]
    assert plan.outputs["node_config"]["im-1"].startswith("server.backup_address  198.51.100.7")  # not changed
    deployed = {"im-1": "100.64.0.1:81:1881:8081"}
    real_outputs = {"backup_addresses": deployed, "node_config": {"im-1": f"server.backup_address  {deployed['im-1']}"}}
    real = Plan(stack="t", resources=[], outputs=real_outputs)
    assert as_written(real) is real


def test_a_reader_that_goes_away_ends_the_command_quietly():
    # `wfga plan demo | head -1`: the reader closes the pipe before the plan is printed.
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "wfga", "plan", "demo"],
            cwd=PROJECT,
            env=project_env(),
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write)
    assert proc.stderr == ""
    assert proc.returncode == 128 + signal.SIGPIPE


@pytest.mark.parametrize("kind", ["directory", "device"])
def test_config_file_that_is_no_file_is_named_as_given(tmp_path, kind):
    path = str(tmp_path) if kind == "directory" else os.devnull
    proc = run("plan", "--config-file", path, "--quiet")
    assert proc.returncode == 2
    assert f"{path}: not a stack file" in proc.stderr
    assert "Traceback" not in proc.stderr
