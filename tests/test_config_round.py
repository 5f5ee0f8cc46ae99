"""One parser for the whole wfga: namespace, and every problem of a file in one round."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from tests.conftest import PROJECT, stack_values
from wfga.cli import main
from wfga.model.config import ConfigError, StackConfig, parse_stack_config
from wfga.offline.engine import ResourceRecord, execute_program
from wfga.offline.stackfile import StackValues

Values = dict[str, Any]
SECRET = frozenset({"wfga:cloudflare_api_token"})


def problems(values: Values, secret: frozenset[str] = frozenset()) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_stack_config(values, secret)
    return err.value.problems


def plan_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> tuple[int, str]:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(text, encoding="utf-8")
    code = main(["plan", "--config-file", str(path), "--quiet"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert out == ""
    return code, err


def five_mistakes() -> Values:
    v = stack_values("demo")
    v["wfga:access_points"][0]["zones"] = ["ap-southeast-1a"]
    v["wfga:cluster"]["attach_vswitches"] = {}
    v["wfga:cluster"]["nodes"][1]["slot"] = 1
    v["wfga:cluster"]["nodes"][2]["private_ip"] = "10.9.0.1"
    v["wfga:access_points"][1]["vpc_cidr"] = "10.21.0.0/20"
    return v


FIVE = [
    "wfga:access_points[0] (sg).zones: kind nlb on alicloud takes 2 to 10 zones, got 1",
    "wfga:cluster.attach_vswitches: link cen on sg attaches the cluster VPC",
    "wfga:cluster.nodes: two nodes share slot 1",
    "wfga:cluster.nodes: im-3 has private_ip 10.9.0.1, outside cidr 172.16.0.0/16",
    "wfga:access_points[1] (fra).vpc_cidr: 10.21.0.0/20 overlaps wfga:access_points[0] (sg).vpc_cidr",
]


def test_five_mistakes_are_listed_in_one_run(tmp_path, capsys):
    code, err = plan_file(tmp_path, capsys, yaml.safe_dump({"config": five_mistakes()}))
    assert code == 2
    for expected in FIVE:
        assert expected in err


def test_the_program_lists_them_in_one_run_too():
    records: list[ResourceRecord] = []
    with pytest.raises(pulumi.RunError) as err:
        execute_program(StackValues(stack="bad", values=five_mistakes()), PROJECT, records=records)
    for expected in FIVE:
        assert expected in str(err.value)
    assert records == []


def test_a_broken_access_point_does_not_hide_the_others_problems():
    v = stack_values("demo")
    v["wfga:access_points"][0]["cloud"] = "gcp"  # sg fails its schema
    v["wfga:access_points"][1]["port_base"] = {"short": 80, "long": 81, "ws": 8080}  # fra: port plan
    found = "\n".join(problems(v))
    assert "wfga:access_points[0] (sg).cloud: Input should be" in found
    assert "wfga:access_points[1] (fra).port_base: public port 82 on nlb-1 would serve both" in found


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("wfga:cluster", None, "wfga:cluster.service_ports.long: Input should be less than or equal to 65535"),
        ("wfga:layout", "regoin", "wfga:layout: Input should be 'all-in-one', 'core' or 'region'"),
    ],
)
def test_port_plan_problems_come_with_schema_problems(key, value, expected):
    v = stack_values("demo")
    v["wfga:access_points"][0]["port_base"]["ws"] = 65531
    if value is None:
        v["wfga:cluster"]["service_ports"]["long"] = 70000
    else:
        v[key] = value
    found = "\n".join(problems(v))
    assert expected in found
    assert "wfga:access_points[0] (sg).port_base.ws: node im-5 (slot 5) would get public port 65536" in found


def test_edge_and_cluster_problems_are_one_list():
    v = stack_values("edge-demo")
    v["wfga:cluster"]["nodes"][0]["slot"] = 2
    v["wfga:service_domains"][0]["provider"] = "akamai"
    found = "\n".join(problems(v, SECRET))
    assert "wfga:cluster.nodes: two nodes share slot 2" in found
    assert "wfga:service_domains[0] (im.example.com).provider: Input should be" in found


def test_one_stack_config_holds_the_edge_keys():
    cfg = parse_stack_config(stack_values("edge-demo"), SECRET)
    assert isinstance(cfg, StackConfig)
    assert [d.name for d in cfg.edge.service_domains] == ["im.example.com", "app.example.com", "api.example.cn"]
    assert cfg.edge.object_storage is not None
    assert [b.name for b in cfg.edge.object_storage.buckets] == ["wfga-media", "wfga-static"]
    assert parse_stack_config(stack_values("demo"), frozenset()).edge.service_domains == []


def test_a_plain_text_token_is_refused_by_the_one_parser():
    found = problems(stack_values("edge-demo"), frozenset())
    assert any(p.startswith("wfga:cloudflare_api_token: stored as plain text") for p in found)


@pytest.mark.parametrize("key", ["wfga:core_stack", "wfga:cluster", "wfga:access_points"])
def test_a_key_stored_as_a_secret_is_a_config_error_with_the_fix(key):
    v = stack_values("sg")
    v[key] = "[secret]"
    found = problems(v, frozenset({key}))
    assert f"{key}: stored as a secret, but it is not sensitive" in "\n".join(found)
    assert "--secret" in "\n".join(found)
    assert not any("required key is missing" in p for p in found if p.startswith(key))


def test_a_secret_core_stack_in_a_stack_file_exits_2(tmp_path, capsys):
    config = {
        "wfga:layout": "region",
        "wfga:core_stack": {"secure": "v1:abc"},
        "wfga:access_points": stack_values("sg")["wfga:access_points"],
    }
    code, err = plan_file(tmp_path, capsys, yaml.safe_dump({"config": config}))
    assert code == 2
    assert "wfga:core_stack: stored as a secret" in err


def test_the_value_form_in_a_stack_file_gets_one_hint(tmp_path, capsys):
    aps = stack_values("demo")["wfga:access_points"]
    code, err = plan_file(tmp_path, capsys, yaml.safe_dump({"config": {"wfga:access_points": {"value": aps}}}))
    assert code == 2
    assert "wfga:access_points: the `value:` form belongs to Pulumi.yaml's project config" in err
    assert "drop the `value:` line" in err
    assert "required key is missing" not in err
    assert err.count("\n  - ") == 1


def region_stack(core_stack: str, **extra: Any) -> str:
    config: Values = {"wfga:layout": "region", "wfga:core_stack": core_stack}
    config["wfga:access_points"] = stack_values("sg")["wfga:access_points"]
    config.update(extra)
    return yaml.safe_dump({"config": config})


CORE_STACK_MISTAKES = [
    ("typo in the stack", "organization/wfga/coer", "wfga:core_stack: this project has no stack coer (stacks: "),
    ("another project", "organization/wgfa/core", "wfga:core_stack: organization/wgfa/core names project wgfa"),
    ("no organization", "wfga/core", "wfga:core_stack: 'wfga/core' is not a fully qualified stack name"),
    ("json in a string", '["organization/wfga/core"]', "is not a fully qualified stack name"),
    ("a stack without cen", "organization/wfga/sg", "wfga:core_stack: stack sg has no cen output"),
    ("trailing newline", "organization/wfga/core\n", "is not a fully qualified stack name"),
]


@pytest.mark.parametrize(("case", "name", "expected"), CORE_STACK_MISTAKES, ids=[c[0] for c in CORE_STACK_MISTAKES])
def test_core_stack_mistakes_exit_2_before_any_reference(tmp_path, capsys, case, name, expected):
    code, err = plan_file(tmp_path, capsys, region_stack(name))
    assert code == 2
    assert expected in err


def test_a_json_looking_core_stack_stops_the_program_itself():
    # The program decodes structured config from JSON text, so the string arrives as a list there.
    values = stack_values("sg")
    values["wfga:core_stack"] = json.loads('["organization/wfga/core"]')
    records: list[ResourceRecord] = []
    with pytest.raises(pulumi.RunError) as err:
        execute_program(StackValues(stack="bad", values=values), PROJECT, records=records)
    assert "wfga:core_stack" in str(err.value)
    assert records == []


def test_a_core_stack_of_another_cluster_is_refused(tmp_path, capsys):
    cluster = stack_values("demo")["wfga:cluster"]
    other = {**cluster, "vpc_id": "vpc-bp1othercluster000001"}
    code, err = plan_file(tmp_path, capsys, region_stack("organization/wfga/core", **{"wfga:cluster": other}))
    assert code == 2
    assert "wfga:core_stack: stack core describes another cluster (vpc_id vpc-bp1democluster0000001" in err


def test_the_shipped_region_stack_still_plans(tmp_path, capsys):
    code, err = plan_file(tmp_path, capsys, region_stack("organization/wfga/core"))
    assert (code, err) == (0, "")
