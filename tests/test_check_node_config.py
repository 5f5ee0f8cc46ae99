"""`wfga check-node-config`: a real wildfirechat.conf against the plan and the deployed outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import stack_plan
from wfga.cli import main

# Stand-ins for what the cloud assigned at deploy time (shared address space, never contacted): the
# documentation ranges are what the offline plan uses for placeholders, which no command hands out.
DEPLOYED = {"sg": ("100.64.0.11", "100.64.0.12"), "fra": ("100.64.0.21", "100.64.0.22")}


def _deployed_outputs(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """`pulumi stack output --json` of the demo stack, with real-looking addresses for the placeholders."""
    outputs = stack_plan("demo").outputs
    swap: dict[str, str] = {}
    for ap, info in outputs["access_points"].items():
        swap.update(zip(info["load_balancers"]["nlb-1"]["public_ips"], DEPLOYED[ap], strict=True))
    text = json.dumps(outputs)
    for old, new in swap.items():
        text = re.sub(rf"(?<![\d.]){re.escape(old)}(?![\d.])", new, text)
    path = tmp_path / "outputs.json"
    path.write_text(text, encoding="utf-8")
    deployed: dict[str, Any] = json.loads(text)
    return path, deployed["backup_addresses"]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check-node-config", "--stack", "demo", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_matching_file_with_comments_is_in_sync(tmp_path, capsys):
    outputs, lines = _deployed_outputs(tmp_path)
    conf = tmp_path / "wildfirechat.conf"
    conf.write_text(
        f"## node 2\n#server.backup_address old\nserver.ip 1.2.3.4\nserver.backup_address {lines['im-2']}\n"
    )
    code, out, _ = _run(capsys, "--node", "im-2", "--outputs", str(outputs), str(conf))
    assert code == 0
    assert "in sync" in out


def test_drift_is_shown_and_exits_1(tmp_path, capsys):
    outputs, lines = _deployed_outputs(tmp_path)
    conf = tmp_path / "wildfirechat.conf"
    stale = lines["im-2"].split(",")[:2]
    conf.write_text(f"server.backup_address {','.join(stale)}\n")
    code, out, _ = _run(capsys, "--node", "im-2", "--outputs", str(outputs), str(conf))
    assert code == 1
    assert "missing:    100.64.0.21:82:1882:8082,100.64.0.22:82:1882:8082" in out
    assert "DRIFT" in out
    assert conf.read_text() == f"server.backup_address {','.join(stale)}\n"  # no --fix, no write


def test_fix_rewrites_only_that_line_keeping_crlf(tmp_path, capsys):
    outputs, lines = _deployed_outputs(tmp_path)
    conf = tmp_path / "wildfirechat.conf"
    before = (
        b"## comment \xe4\xb8\xad\r\n"
        b"server.ip 0.0.0.0\r\n"
        b"server.backup_address  1.1.1.1:81:1881:8081\r\n"
        b"#server.backup_address 2.2.2.2:81:1881:8081\r\n"
        b"port 1883\r\n"
    )
    conf.write_bytes(before)
    conf.chmod(0o640)
    code, out, _ = _run(capsys, "--node", "im-1", "--outputs", str(outputs), "--fix", str(conf))
    assert code == 0
    assert "rewritten on line 3" in out
    assert "Windows line endings" in out
    assert conf.read_bytes() == before.replace(b"1.1.1.1:81:1881:8081", lines["im-1"].encode())
    assert conf.stat().st_mode & 0o777 == 0o640
    assert _run(capsys, "--node", "im-1", "--outputs", str(outputs), str(conf))[0] == 0


def test_fix_appends_a_missing_key(tmp_path, capsys):
    outputs, lines = _deployed_outputs(tmp_path)
    conf = tmp_path / "wildfirechat.conf"
    conf.write_bytes(b"# no global access yet\r\nport 1883")
    code, out, _ = _run(capsys, "--node", "im-3", "--outputs", str(outputs), "--fix", str(conf))
    assert code == 0
    assert "missing" in out
    assert (
        conf.read_bytes()
        == f"# no global access yet\r\nport 1883\r\nserver.backup_address  {lines['im-3']}\r\n".encode()
    )


def test_plan_alone_compares_ports_of_placeholder_addresses(tmp_path, capsys):
    _, lines = _deployed_outputs(tmp_path)
    conf = tmp_path / "wildfirechat.conf"
    conf.write_text(f"server.backup_address {lines['im-4']}\n")
    code, out, _ = _run(capsys, "--node", "im-4", str(conf))
    assert code == 0
    assert "*:84:1884:8084" in out
    wrong = tmp_path / "other.conf"
    wrong.write_text(f"server.backup_address {lines['im-5']}\n")
    assert _run(capsys, "--node", "im-4", str(wrong))[0] == 1


def test_fix_from_the_plan_refuses_placeholder_addresses(tmp_path, capsys):
    conf = tmp_path / "wildfirechat.conf"
    conf.write_text("port 1883\n")
    code, _, err = _run(capsys, "--node", "im-1", "--fix", str(conf))
    assert code == 2
    assert "placeholder addresses" in err
    assert conf.read_text() == "port 1883\n"


def test_unknown_node_exits_2(tmp_path, capsys):
    conf = tmp_path / "wildfirechat.conf"
    conf.write_text("port 1883\n")
    code, _, err = _run(capsys, "--node", "im-9", str(conf))
    assert code == 2
    assert "node im-9 is not in the plan; nodes there: im-1" in err


def test_unreadable_inputs_exit_2_without_traceback(tmp_path, capsys):
    conf = tmp_path / "wildfirechat.conf"
    conf.write_text("port 1883\n")
    code, _, err = _run(capsys, "--node", "im-1", "--outputs", str(tmp_path / "none.json"), str(conf))
    assert (code, "cannot read stack outputs" in err) == (2, True)
    code, _, err = _run(capsys, "--node", "im-1", str(tmp_path / "none.conf"))
    assert (code, "none.conf: cannot read" in err) == (2, True)
    assert "Traceback" not in err


def test_a_file_the_server_refuses_fails_even_when_in_sync(tmp_path, capsys):
    outputs, lines = _deployed_outputs(tmp_path)
    conf = tmp_path / "wildfirechat.conf"
    conf.write_text(f"port 1883  # the long link\nserver.backup_address {lines['im-1']}\n")
    code, out, _ = _run(capsys, "--node", "im-1", "--outputs", str(outputs), str(conf))
    assert code == 1
    assert "REJECTED: the IM server refuses this file over line 1" in out
    assert "in sync" in out


def test_indented_lines_and_a_one_space_hash_are_accepted_with_notes(tmp_path, capsys):
    outputs, lines = _deployed_outputs(tmp_path)
    conf = tmp_path / "wildfirechat.conf"
    conf.write_text(f"  # node 1\ntoken.key abc#def\n    server.backup_address   {lines['im-1']}\n")
    code, out, _ = _run(capsys, "--node", "im-1", "--outputs", str(outputs), str(conf))
    assert code == 0
    assert "REJECTED" not in out
    assert "server.backup_address: line 3" in out
    assert "warning: line 2: the server keeps the '#' as part of 'token.key' = 'abc#def'" in out
    assert "note: line 1: a server older than im-server debd4f1a (2021-08) refuses the file" in out
    assert "note: line 3: a server older than im-server debd4f1a (2021-08) reads this indented line" in out
    assert out.rstrip().endswith("in sync")


def test_fix_rewrites_an_indented_line_in_place(tmp_path, capsys):
    outputs, lines = _deployed_outputs(tmp_path)
    conf = tmp_path / "wildfirechat.conf"
    conf.write_text("\tserver.backup_address 192.0.2.1:1:2:3   \nport 1883\n")
    code, out, _ = _run(capsys, "--node", "im-1", "--outputs", str(outputs), "--fix", str(conf))
    assert code == 0
    assert "rewritten on line 1" in out
    assert conf.read_text() == f"\tserver.backup_address {lines['im-1']}   \nport 1883\n"


def test_outputs_alone_need_no_stack_and_fix_does_not_ask_for_fix(tmp_path, capsys):
    outputs, lines = _deployed_outputs(tmp_path)
    conf = tmp_path / "wildfirechat.conf"
    conf.write_text("server.backup_address 100.64.9.9:81:1881:8081\n")
    code = main(["check-node-config", "--node", "im-1", "--outputs", str(outputs), "--fix", str(conf)])
    out = capsys.readouterr().out
    assert code == 0
    assert "run with --fix" not in out
    assert out.rstrip().splitlines()[-1].startswith("fixed: server.backup_address rewritten on line 1")
    assert conf.read_text() == f"server.backup_address {lines['im-1']}\n"
    assert main(["check-node-config", "--node", "im-1", str(conf)]) == 2
    assert "give --outputs FILE" in capsys.readouterr().err


def test_a_marked_placeholder_line_is_rejected_and_fix_replaces_it(tmp_path, capsys):
    outputs, lines = _deployed_outputs(tmp_path)
    planned = stack_plan("demo").outputs["backup_addresses"]["im-3"].split(",")
    marked = "server.backup_address  " + ",".join(f"#PLACEHOLDER {e}" for e in planned)
    conf = tmp_path / "wildfirechat.conf"
    conf.write_text(f"port 1883\n{marked}\nhttp_port 80\n")
    args = ["check-node-config", "--node", "im-3", "--outputs", str(outputs), str(conf)]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "REJECTED: the IM server refuses this file over line 2" in out
    assert "line 2: #PLACEHOLDER entries, written from an offline plan" in out
    assert main([*args, "--fix"]) == 0
    assert "rewritten on line 2" in capsys.readouterr().out
    assert conf.read_text() == f"port 1883\nserver.backup_address  {lines['im-3']}\nhttp_port 80\n"
    assert main(args) == 0


def test_a_stack_file_path_and_a_qualified_name_are_the_same_stack(tmp_path, capsys):
    outputs, _ = _deployed_outputs(tmp_path)
    conf = tmp_path / "wildfirechat.conf"
    conf.write_text("port 1883\n")
    for stack in ("demo", "stacks/Pulumi.demo.yaml", "organization/wfga/demo"):
        code = main(["check-node-config", "--node", "im-1", "--stack", stack, "--outputs", str(outputs), str(conf)])
        assert code == 1, stack
        out = capsys.readouterr().out
        assert "DRIFT: run with --fix" in out
        assert "expected:   100.64.0.11:81:1881:8081" in out
