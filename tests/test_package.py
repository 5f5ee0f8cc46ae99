"""The component package: the schema its plugin serves, and components built through the schema.

The plugin (``package/``) is started as the Pulumi CLI starts it, ``python package ENGINE``, and asked
for its schema over gRPC on loopback: no CLI, no engine (GetSchema never calls it), no network.
Components are then constructed through the SDK's ComponentProvider, as the plugin would on a
Construct call, under the offline mocks, from camelCase inputs with numbers as floats (the wire's).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import tomllib
import typing
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
import pulumi_alicloud
import pytest
from pulumi.provider.experimental.util import camel_case
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc
from pydantic import BaseModel

from components import package
from tests.conftest import ROOT
from wfga.model.config import EDGE_KEYS, AccessPoint, Cluster, Node, StackConfig
from wfga.offline.engine import Plan, ResourceRecord, execute_program
from wfga.offline.stackfile import StackValues
from wfga.ops import package_types

PREFIX = "wfga:index:"
START_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "package"), "127.0.0.1:9"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # A plugin that never prints its port must not hang the suite.
    watchdog = threading.Timer(START_TIMEOUT_S, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None and proc.stderr is not None
        port = proc.stdout.readline().strip()
        assert port.isdigit(), f"the plugin printed no port: {proc.stderr.read() if proc.poll() is not None else ''}"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            response = stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=30)
        return dict(json.loads(response.schema))
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait()


def _models() -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        for info in model.model_fields.values():
            for inner in _inner_models(info.annotation):
                visit(inner)

    for root in package_types.ROOTS:
        for info in root.model_fields.values():
            for inner in _inner_models(info.annotation):
                visit(inner)
    return seen


def _inner_models(tp: Any) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [m for arg in typing.get_args(tp) for m in _inner_models(arg)]


def _camel_fields(*models: type[BaseModel]) -> dict[str, Any]:
    return {camel_case(name): info for model in models for name, info in model.model_fields.items()}


def _ref(schema: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    return dict(schema["types"][prop["$ref"].removeprefix("#/types/")])


def test_the_checked_in_mirrors_are_rendered_from_todays_models() -> None:
    path = ROOT / "components" / "package_types.py"
    assert path.read_text(encoding="utf-8") == package_types.render(), (
        "components/package_types.py lags the config models: run .venv/bin/python -m wfga.ops.package_types"
    )


def test_the_schema_version_is_the_distribution_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["version"] == package.VERSION


def test_the_plugin_serves_one_type_per_model_with_the_models_fields_and_descriptions(schema: dict[str, Any]) -> None:
    assert schema["name"] == "wfga"
    assert schema["version"] == package.VERSION
    models = _models()
    assert {Cluster, Node, AccessPoint} <= set(models)
    for model in models:
        typ = schema["types"][PREFIX + model.__name__]
        fields = _camel_fields(model)
        assert typ["type"] == "object"
        assert set(typ["properties"]) == set(fields), model.__name__
        assert sorted(typ.get("required", [])) == sorted(k for k, info in fields.items() if info.is_required())
        described = {k: p["description"] for k, p in typ["properties"].items() if "description" in p}
        assert described == {k: info.description for k, info in fields.items() if info.description}, model.__name__
        # Values decide which resources exist, so every setting is plain (never an unknown Output).
        assert all(p.get("plain") is True for p in typ["properties"].values()), model.__name__


def test_every_setting_a_package_user_sees_is_described() -> None:
    # Schema descriptions are all a user of the component package reads in their editor.
    undescribed = [
        f"{model.__name__}.{name}"
        for model in [*_models(), *package_types.ROOTS]
        for name, info in model.model_fields.items()
        if not info.description
    ]
    assert undescribed == []


def test_allowed_values_are_enums_of_exactly_the_models_literals(schema: dict[str, Any]) -> None:
    checked = 0
    for model in _models():
        for name, info in model.model_fields.items():
            tp = info.annotation
            # Literal, or Literal | None; a union of other shapes is Any in the schema.
            args = [a for a in typing.get_args(tp) if a is not type(None)] if typing.get_origin(tp) else []
            literal = tp if typing.get_origin(tp) is typing.Literal else (args[0] if len(args) == 1 else None)
            if literal is None or typing.get_origin(literal) is not typing.Literal:
                continue
            prop = schema["types"][PREFIX + model.__name__]["properties"][camel_case(name)]
            enum = _ref(schema, prop)
            assert enum["type"] == "string"
            assert [v["value"] for v in enum["enum"]] == list(typing.get_args(literal)), f"{model.__name__}.{name}"
            checked += 1
    assert checked >= 10
    # One meaning, one enum: the cluster's and an access point's cloud are the same type.
    cluster = schema["types"][PREFIX + "Cluster"]["properties"]
    access_point = schema["types"][PREFIX + "AccessPoint"]["properties"]
    assert cluster["cloud"]["$ref"] == access_point["cloud"]["$ref"] == "#/types/wfga:index:Cloud"


def test_property_types_follow_the_model_fields(schema: dict[str, Any]) -> None:
    types = schema["types"]
    cluster = types[PREFIX + "Cluster"]["properties"]
    assert cluster["nodes"]["type"] == "array"
    assert cluster["nodes"]["items"]["$ref"] == "#/types/wfga:index:Node"
    assert cluster["attachVswitches"]["type"] == "object"
    assert cluster["attachVswitches"]["additionalProperties"]["type"] == "string"
    assert cluster["cidr"]["type"] == "string"  # an IPv4 network, validated by the model
    assert cluster["servicePorts"]["$ref"] == "#/types/wfga:index:ServicePorts"
    assert types[PREFIX + "Node"]["properties"]["slot"]["type"] == "integer"
    assert types[PREFIX + "Node"]["properties"]["privateIp"]["type"] == "string"
    access_point = types[PREFIX + "AccessPoint"]["properties"]
    assert access_point["pinnedEips"]["items"]["$ref"] == "#/types/wfga:index:PinnedEip"
    assert access_point["vm"]["$ref"] == "#/types/wfga:index:VmSettings"
    assert access_point["idleTimeoutS"]["type"] == "integer"
    assert types[PREFIX + "DnsZone"]["properties"]["argoSmartRouting"]["type"] == "boolean"
    # A list of media kinds or one lifetime name: no union in the schema, so Any (the model checks it).
    assert types[PREFIX + "Bucket"]["properties"]["kinds"]["$ref"] == "pulumi.json#/Any"
    assert types[PREFIX + "Node"]["properties"]["slot"]["description"] == Node.model_fields["slot"].description


def test_global_access_takes_the_whole_wfga_namespace(schema: dict[str, Any]) -> None:
    resource = schema["resources"][PREFIX + "GlobalAccess"]
    assert resource["isComponent"] is True
    # Every key of the namespace the parsers read, none other.
    keys = [*StackConfig.model_fields, *EDGE_KEYS]
    assert set(resource["inputProperties"]) == {camel_case(key) for key in keys}
    assert resource["requiredInputs"] == ["cluster"]
    inputs = resource["inputProperties"]
    assert inputs["cluster"]["$ref"] == "#/types/wfga:index:Cluster"
    assert inputs["accessPoints"]["items"]["$ref"] == "#/types/wfga:index:AccessPoint"
    assert inputs["coreStack"]["description"] == StackConfig.model_fields["core_stack"].description
    # The token and the TURN password alone may be Outputs (secrets from config); everything else is plain.
    for secret in ("cloudflareApiToken", "turnPassword"):
        assert inputs[secret]["type"] == "string"
        assert "plain" not in inputs[secret]
    assert sorted(k for k, p in inputs.items() if p.get("plain") is not True) == ["cloudflareApiToken", "turnPassword"]
    assert inputs["av"]["$ref"] == "#/types/wfga:index:AvConfig"
    outputs = resource["properties"]
    assert outputs["nodeConfig"]["additionalProperties"]["type"] == "string"
    assert outputs["mediaConfig"]["items"]["type"] == "string"
    assert outputs["accessPoints"]["$ref"] == "pulumi.json#/Any"
    assert resource["required"] == []  # outputs that do not apply are absent
    assert all(p.get("description") for p in outputs.values())


@pytest.mark.parametrize(("component", "cloud"), [("AlicloudAccessPoint", "alicloud"), ("AwsAccessPoint", "aws")])
def test_an_access_point_takes_cluster_access_point_and_provider(
    schema: dict[str, Any], component: str, cloud: str
) -> None:
    resource = schema["resources"][PREFIX + component]
    inputs = resource["inputProperties"]
    assert resource["requiredInputs"] == ["accessPoint", "cluster", "provider"]
    assert inputs["cluster"]["$ref"] == "#/types/wfga:index:Cluster"
    assert inputs["accessPoint"]["$ref"] == "#/types/wfga:index:AccessPoint"
    assert inputs["provider"]["$ref"].endswith(f"/schema.json#/resources/pulumi:providers:{cloud}")
    subnets = "vswitchIds" if cloud == "alicloud" else "subnetIds"
    assert set(resource["required"]) == {
        "vpcId",
        "routeTableId",
        subnets,
        "loadBalancerIds",
        "publicIps",
        "backupAddresses",
        "nodeConfig",
    }
    versions = {d["name"]: d["version"] for d in schema["dependencies"]}
    assert (
        versions["alicloud"]
        == json.loads((Path(pulumi_alicloud.__file__).parent / "pulumi-plugin.json").read_text(encoding="utf-8"))[
            "version"
        ]
    )


# Pulumi's wire form of a secret, as the offline engine records a secret input.
SECRET_SIG, SECRET_VALUE = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"

# Built through the schema: what a TypeScript or YAML program's inputs become on the wire.
CLUSTER = {
    "name": "hz",
    "cloud": "alicloud",
    "region": "cn-hangzhou",
    "vpcId": "vpc-bp1testcluster00001",
    "cidr": "172.16.0.0/16",
    "routeTableIds": ["vtb-bp1testcluster0001"],
    "attachVswitches": {"cn-hangzhou-h": "vsw-bp1testattachh0001", "cn-hangzhou-i": "vsw-bp1testattachi0001"},
    "securityGroupId": "sg-bp1testcluster00001",
    "servicePorts": {"short": 80, "long": 1883, "ws": 8083},
    "nodes": [{"name": f"im-{n}", "slot": n, "privateIp": f"172.16.0.{10 + n}"} for n in (1, 2, 3)],
}
SINGAPORE = {
    "name": "sg",
    "cloud": "alicloud",
    "region": "ap-southeast-1",
    "link": "cen",
    "vpcCidr": "10.21.0.0/16",
    "zones": ["ap-southeast-1a", "ap-southeast-1b"],
    "portBase": {"short": 80, "long": 1880, "ws": 8080},
}

PROGRAM = """
import json
from pathlib import Path

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws
from pulumi.provider.experimental.component import ComponentProvider

from components.package import COMPONENTS, NAME, VERSION

request = json.loads((Path(__file__).parent / "request.json").read_text())
inputs = request["inputs"]
given = request.get("provider")
if given:
    cloud = {"alicloud": alicloud, "aws": aws}[given["cloud"]]
    inputs["provider"] = cloud.Provider("given", region=given["region"])
provider = ComponentProvider(COMPONENTS, NAME, version=VERSION)
result = provider.construct(request["name"], request["type"], inputs, pulumi.ResourceOptions())
for key, value in result.state.items():
    pulumi.export(key, value)
"""


def _floats(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value


def _construct(
    tmp_path: Path,
    component: str,
    inputs: dict[str, Any],
    provider: dict[str, str] | None = None,
    records: list[ResourceRecord] | None = None,
) -> Plan:
    (tmp_path / "__main__.py").write_text(PROGRAM, encoding="utf-8")
    request = {"name": "t", "type": PREFIX + component, "inputs": _floats(inputs), "provider": provider}
    (tmp_path / "request.json").write_text(json.dumps(request), encoding="utf-8")
    return execute_program(StackValues(stack="package", values={}), tmp_path, records=records)


def _eip(plan: Plan, name: str) -> str:
    (record,) = [r for r in plan.of_type("alicloud:ecs/eipAddress:EipAddress") if r.name == name]
    return str(record.state["ipAddress"])


def test_global_access_through_the_schema_builds_the_stacks_resources(tmp_path: Path) -> None:
    plan = _construct(tmp_path, "GlobalAccess", {"cluster": CLUSTER, "accessPoints": [SINGAPORE]})
    (outer,) = plan.of_type(PREFIX + "GlobalAccess")
    (inner,) = plan.of_type("wfga:global_access:GlobalAccess")
    assert inner.parent == outer.urn
    assert len(plan.of_type("alicloud:nlb/listener:Listener")) == 3 * 3  # nodes x services
    assert len(plan.of_type("wfga:cen_core:CenCore")) == 1
    assert len(plan.of_type("alicloud:ecs/securityGroupRule:SecurityGroupRule")) == 3  # ingress per service
    # im-2 (slot 2) is served on port_base + 2 on both zones' EIPs of the NLB that carries it.
    ips = [_eip(plan, f"sg-nlb-1-eip-{zone}") for zone in SINGAPORE["zones"]]
    expected = ",".join(f"{ip}:82:1882:8082" for ip in ips)
    assert plan.outputs["nodeConfig"]["im-2"] == f"server.backup_address  {expected}"
    assert plan.outputs["backupAddresses"]["im-2"] == expected
    assert set(plan.outputs["accessPoints"]) == {"sg"}
    assert "mediaConfig" not in plan.outputs  # no object storage: the output is absent


def test_global_access_through_the_schema_builds_turn_relays(tmp_path: Path) -> None:
    av = {
        "janus": {"privateIps": ["172.16.0.50"]},
        "turn": {"realm": "turn.example.com", "user": "wfchat", "transports": "udp"},
        "accessPoints": {"sg": {"instanceType": "ecs.c7.large", "count": 2}},
    }
    inputs = {"cluster": CLUSTER, "accessPoints": [SINGAPORE], "av": av, "turnPassword": "from-a-secret"}
    plan = _construct(tmp_path, "GlobalAccess", inputs)
    instances = [r for r in plan.of_type("alicloud:ecs/instance:Instance") if "-turn-" in r.name]
    assert sorted(r.name for r in instances) == ["sg-turn-1", "sg-turn-2"]
    # The password given as a plain input still reaches the VMs as a secret, and only as its key.
    assert all(r.inputs["userData"][SECRET_SIG] == SECRET_VALUE for r in instances)
    assert "from-a-secret" not in json.dumps([r.inputs for r in plan.resources])
    ips = [_eip(plan, f"sg-turn-{n}-eip") for n in (1, 2)]
    assert plan.outputs["turnServers"]["sg"]["urls"] == [f"turn:{ip}:3478?transport=udp" for ip in ips]
    assert "keep_private_host = true" in plan.outputs["janusConfig"]
    # The cluster admits Janus's RTP range from the access point.
    rtp = [r for r in plan.of_type("alicloud:ecs/securityGroupRule:SecurityGroupRule") if r.name == "sg-rtp"]
    assert [(r.inputs["ipProtocol"], r.inputs["portRange"], r.inputs["cidrIp"]) for r in rtp] == [
        ("udp", "20000/40000", "10.21.0.0/16")
    ]


def test_turn_without_its_password_through_the_schema_is_a_config_error(tmp_path: Path) -> None:
    av = {
        "janus": {"privateIps": ["172.16.0.50"]},
        "turn": {"realm": "turn.example.com", "user": "wfchat"},
        "accessPoints": {"sg": {"instanceType": "ecs.c7.large"}},
    }
    with pytest.raises(Exception, match=r"wfga:turn_password: required when wfga:av is on"):
        _construct(tmp_path, "GlobalAccess", {"cluster": CLUSTER, "accessPoints": [SINGAPORE], "av": av})


def test_a_mistake_through_the_schema_names_its_key_and_registers_nothing(tmp_path: Path) -> None:
    cluster = json.loads(json.dumps(CLUSTER))
    cluster["nodes"][0]["slot"] = 0
    records: list[ResourceRecord] = []
    with pytest.raises(Exception, match=r"wfga:cluster\.nodes\[0\] \(im-1\)\.slot"):
        _construct(tmp_path, "GlobalAccess", {"cluster": cluster, "accessPoints": [SINGAPORE]}, records=records)
    assert records == []


def test_an_access_point_through_the_schema_uses_the_given_provider(tmp_path: Path) -> None:
    plan = _construct(
        tmp_path,
        "AlicloudAccessPoint",
        {"cluster": CLUSTER, "accessPoint": SINGAPORE},
        provider={"cloud": "alicloud", "region": "ap-southeast-1"},
    )
    (given,) = [r for r in plan.resources if r.type == "pulumi:providers:alicloud"]
    nlb = plan.of_type("alicloud:nlb/loadBalancer:LoadBalancer")
    assert len(nlb) == 1
    assert nlb[0].provider.startswith(given.urn)
    ips = {zone: _eip(plan, f"t-nlb-1-eip-{zone}") for zone in SINGAPORE["zones"]}
    assert plan.outputs["publicIps"] == {f"nlb-1/{zone}": ip for zone, ip in ips.items()}
    assert plan.outputs["backupAddresses"]["im-3"] == ",".join(f"{ip}:83:1883:8083" for ip in ips.values())
    # The link is the program's to add: no CEN resource here.
    assert not [r for r in plan.resources if r.type.startswith("alicloud:cen/")]


def test_an_access_point_of_the_other_cloud_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="AwsNlbAccessPoint: access point sg is cloud alicloud"):
        _construct(
            tmp_path,
            "AwsAccessPoint",
            {"cluster": CLUSTER, "accessPoint": SINGAPORE},
            provider={"cloud": "aws", "region": "ap-southeast-1"},
        )
