"""The CrossGuard rules: each on passing and failing resources, on the real plan, and the pack as Pulumi runs it."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
from google.protobuf import empty_pb2, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tests.conftest import ROOT, stack_plan
from wfga import cli
from wfga.model.av import DEFAULT_RELAY_PORTS, DEFAULT_RTP_PORTS, TURN_PORT
from wfga.model.config import MIN_IDLE_TIMEOUT_S

POLICY_DIR = ROOT / "policy"
sys.path.insert(0, str(POLICY_DIR))
import wfga_policies as wp  # noqa: E402  (the pack's directory is its import root, as under Pulumi)
from wfga_policies import Resource  # noqa: E402

NO_CONFIG: Mapping[str, Any] = {}


def listener(service: str | None, **props: Any) -> Resource:
    description = f"wfga/sg/im-1/{service}" if service else "hand-made listener"
    return Resource(wp.ALICLOUD_LISTENER, {"listenerProtocol": "TCP", "listenerDescription": description, **props})


def aws_listener(service: str | None, **props: Any) -> Resource:
    tags = {wp.AWS_SERVICE_TAG: service} if service else {}
    return Resource(wp.AWS_LISTENER, {"protocol": "TCP", "tags": tags, **props})


def sg_rule(**props: Any) -> Resource:
    base = {"type": "ingress", "ipProtocol": "tcp", "policy": "accept", "portRange": "22/22", "cidrIp": "10.0.0.0/8"}
    return Resource(wp.ALICLOUD_SG_RULE, {**base, **props})


def test_shared_constants_match_wfga():
    assert wp.MIN_IDLE_TIMEOUT_S == MIN_IDLE_TIMEOUT_S
    assert cli.ACCESS_POINT_INGRESS_POLICY in {r.name for r in wp.RULES}
    rule = next(r for r in wp.RULES if r.name == cli.ACCESS_POINT_INGRESS_POLICY)
    assert wp.ACCESS_POINT_CIDRS in rule.config_schema
    assert wp.TURN_PORT == TURN_PORT
    assert (DEFAULT_RELAY_PORTS.min, DEFAULT_RELAY_PORTS.max) == wp.DEFAULT_RELAY_PORTS
    assert (DEFAULT_RTP_PORTS.min, DEFAULT_RTP_PORTS.max) == wp.DEFAULT_RTP_PORTS
    udp = next(r for r in wp.RULES if r.name == cli.UDP_POLICY)
    assert set(udp.config_schema) == {wp.TURN_RELAY_PORTS, wp.JANUS_RTP_PORTS}


@pytest.mark.parametrize(
    ("resource", "violations"),
    [
        (listener("long"), 0),
        (listener("long", listenerProtocol="UDP"), 1),
        (listener("short", listenerProtocol="TCPSSL"), 1),
        (aws_listener("ws"), 0),
        (aws_listener("ws", protocol="TLS"), 1),
    ],
)
def test_tcp_listeners(resource, violations):
    assert len(wp.tcp_listeners(resource, NO_CONFIG)) == violations


@pytest.mark.parametrize(
    ("resource", "violations"),
    [
        (listener("long", idleTimeout=900), 0),
        (listener("ws", idleTimeout=600), 0),
        (listener("long", idleTimeout=599), 1),
        (listener("ws", idleTimeout=60), 1),
        (listener("short", idleTimeout=60), 0),  # short links are not long-lived
        (listener("long"), 0),  # alicloud's default is 900 s
        (listener(None, idleTimeout=300), 1),  # no marker: taken as long-lived
        (aws_listener("long"), 1),  # aws's default is 350 s
        (aws_listener("long", tcpIdleTimeoutSeconds=600), 0),
        (aws_listener("short"), 0),
        (aws_listener(None, tcpIdleTimeoutSeconds=350), 1),
    ],
)
def test_long_idle_timeouts(resource, violations):
    assert len(wp.long_idle_timeouts(resource, NO_CONFIG)) == violations


def test_idle_timeout_message_names_service_and_default():
    [message] = wp.long_idle_timeouts(aws_listener("ws"), NO_CONFIG)
    assert "tcpIdleTimeoutSeconds 350 (the default) s on the ws service" in message


def test_listener_service_follows_the_description_convention():
    assert wp.listener_service(listener("ws")) == "ws"
    assert wp.listener_service(Resource(wp.ALICLOUD_LISTENER, {"listenerDescription": "wfga/sg/im-1"})) is None
    assert wp.listener_service(Resource(wp.ALICLOUD_LISTENER, {"listenerDescription": "x/sg/im-1/long"})) is None
    assert wp.listener_service(aws_listener("bogus")) is None


@pytest.mark.parametrize("eip_type", [wp.ALICLOUD_EIP, wp.AWS_EIP])
def test_eips_must_be_protected(eip_type):
    assert wp.eips_protected(Resource(eip_type, {}, protect=True), NO_CONFIG) == []
    assert "not protected" in wp.eips_protected(Resource(eip_type, {}, protect=False), NO_CONFIG)[0]


@pytest.mark.parametrize(
    ("resource", "violations"),
    [
        (sg_rule(cidrIp="0.0.0.0/0"), 1),
        (sg_rule(cidrIp="0.0.0.0/0", portRange="1/65535"), 1),
        (sg_rule(cidrIp="0.0.0.0/0", ipProtocol="all", portRange="-1/-1"), 1),
        (sg_rule(cidrIp="0.0.0.0/0", portRange="80/80"), 0),
        (sg_rule(cidrIp="0.0.0.0/0", ipProtocol="udp"), 0),
        (sg_rule(cidrIp="0.0.0.0/0", policy="drop"), 0),
        (sg_rule(cidrIp="0.0.0.0/0", type="egress"), 0),
        (sg_rule(cidrIp="10.0.0.0/8"), 0),
        (sg_rule(cidrIp=None, ipv6CidrIp="::/0"), 1),
        (
            Resource(
                wp.AWS_SG,
                {"ingress": [{"protocol": "tcp", "fromPort": 20, "toPort": 25, "cidrBlocks": ["0.0.0.0/0"]}]},
            ),
            1,
        ),
        (
            Resource(
                wp.AWS_SG, {"ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]}
            ),
            1,
        ),
        (Resource(wp.AWS_SG, {"egress": [{"protocol": "-1", "cidrBlocks": ["0.0.0.0/0"]}]}), 0),
        (
            Resource(
                wp.AWS_SG_RULE,
                {"type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]},
            ),
            1,
        ),
        (
            Resource(
                wp.AWS_SG_INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}
            ),
            1,
        ),
        (
            Resource(
                wp.AWS_SG_INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0"}
            ),
            0,
        ),
    ],
)
def test_no_public_ssh(resource, violations):
    assert len(wp.no_public_ssh(resource, NO_CONFIG)) == violations


AP_CONFIG = {wp.ACCESS_POINT_CIDRS: ["10.21.0.0/16", "10.22.0.0/16"]}


@pytest.mark.parametrize(
    ("cidr", "config", "violations"),
    [
        ("10.21.0.0/16", AP_CONFIG, 0),
        ("10.22.4.0/24", AP_CONFIG, 0),
        ("10.0.0.0/8", AP_CONFIG, 1),
        ("10.23.0.0/16", AP_CONFIG, 1),
        ("0.0.0.0/0", AP_CONFIG, 1),
        ("10.21.0.0/16", NO_CONFIG, 0),
        ("10.0.0.0/8", NO_CONFIG, 1),
        ("not-a-cidr", NO_CONFIG, 1),
    ],
)
def test_access_point_ingress(cidr, config, violations):
    rule = sg_rule(portRange="1883/1883", cidrIp=cidr, description="wfga access point sg to long")
    assert len(wp.access_point_ingress(rule, config)) == violations


def test_access_point_ingress_ignores_rules_of_others():
    assert wp.access_point_ingress(sg_rule(cidrIp="0.0.0.0/0", description="office"), AP_CONFIG) == []


def udp_rule(ports: str, cidr: str, protocol: str = "udp") -> Resource:
    return sg_rule(ipProtocol=protocol, portRange=ports, cidrIp=cidr, description="wfga turn")


CUSTOM = {wp.TURN_RELAY_PORTS: {"min": 30000, "max": 45000}, wp.JANUS_RTP_PORTS: {"min": 10000, "max": 19999}}


@pytest.mark.parametrize(
    ("resource", "config", "violations"),
    [
        # Public: TURN's 3478 alone.
        (udp_rule("3478/3478", "0.0.0.0/0"), NO_CONFIG, 0),
        (udp_rule("3478/3478", "203.0.113.0/24"), NO_CONFIG, 0),
        (udp_rule("3478/3479", "0.0.0.0/0"), NO_CONFIG, 1),
        (udp_rule("53/53", "0.0.0.0/0"), NO_CONFIG, 1),
        (udp_rule("49152/65535", "0.0.0.0/0"), NO_CONFIG, 1),  # the relay range, but from the internet
        (udp_rule("-1/-1", "0.0.0.0/0", "all"), NO_CONFIG, 1),
        (udp_rule("3478/3478", "0.0.0.0/0", "all"), NO_CONFIG, 1),
        (sg_rule(ipProtocol="udp", portRange="123/123", cidrIp=None, ipv6CidrIp="::/0"), NO_CONFIG, 1),
        (udp_rule("3478/3478", "0.0.0.0/0", "tcp"), NO_CONFIG, 0),  # TCP is not this rule's business
        # Private: the relay range (from the cluster) and Janus's RTP range (from access points).
        (udp_rule("49152/65535", "172.16.0.0/16"), NO_CONFIG, 0),
        (udp_rule("20000/40000", "10.21.0.0/16"), NO_CONFIG, 0),
        (udp_rule("20000/40001", "10.21.0.0/16"), NO_CONFIG, 1),
        (udp_rule("53/53", "10.0.0.0/8"), NO_CONFIG, 1),
        (udp_rule("-1/-1", "10.0.0.0/8", "all"), NO_CONFIG, 1),
        (udp_rule("49152/65535", "172.16.0.0/16"), CUSTOM, 1),
        (udp_rule("30000/45000", "172.16.0.0/16"), CUSTOM, 0),
        (udp_rule("10000/19999", "10.21.0.0/16"), CUSTOM, 0),
        (udp_rule("30000/45000", "0.0.0.0/0"), CUSTOM, 1),
        (
            Resource(
                wp.AWS_SG_INGRESS_RULE, {"ipProtocol": "udp", "fromPort": 3478, "toPort": 3478, "cidrIpv4": "0.0.0.0/0"}
            ),
            NO_CONFIG,
            0,
        ),
        (
            Resource(
                wp.AWS_SG_INGRESS_RULE, {"ipProtocol": "udp", "fromPort": 500, "toPort": 500, "cidrIpv4": "0.0.0.0/0"}
            ),
            NO_CONFIG,
            1,
        ),
        (
            Resource(
                wp.AWS_SG,
                {
                    "ingress": [
                        {"protocol": "17", "fromPort": 1, "toPort": 65535, "cidrBlocks": ["0.0.0.0/0", "10.0.0.0/8"]}
                    ]
                },
            ),
            NO_CONFIG,
            2,
        ),
        (
            Resource(
                wp.AWS_SG, {"egress": [{"protocol": "udp", "fromPort": 53, "toPort": 53, "cidrBlocks": ["0.0.0.0/0"]}]}
            ),
            NO_CONFIG,
            0,
        ),
        (sg_rule(ipProtocol="udp", portRange="53/53", cidrIp="0.0.0.0/0", type="egress"), NO_CONFIG, 0),
    ],
)
def test_udp_only_for_turn(resource, config, violations):
    assert len(wp.udp_only_for_turn(resource, config)) == violations


def test_udp_refusal_names_the_rule_and_the_way_out():
    [public] = wp.udp_only_for_turn(udp_rule("53/53", "0.0.0.0/0"), NO_CONFIG)
    assert public.startswith("UDP 53-53 from 0.0.0.0/0: the only UDP open to the internet is TURN's 3478")
    [private] = wp.udp_only_for_turn(udp_rule("53/53", "10.0.0.0/8"), NO_CONFIG)
    assert "relay range 49152-65535" in private and "RTP range 20000-40000" in private
    assert wp.TURN_RELAY_PORTS in private


def test_the_av_plan_passes_every_rule_and_its_udp_is_what_the_rule_allows(capsys):
    plan = stack_plan("av-demo").to_json()
    config = _policy_config("av-demo", capsys)
    assert config == {
        cli.ACCESS_POINT_INGRESS_POLICY: {"access_point_cidrs": ["10.21.0.0/16", "10.41.0.0/16"]},
        cli.UDP_POLICY: {
            wp.TURN_RELAY_PORTS: {"min": 49152, "max": 65535},
            wp.JANUS_RTP_PORTS: {"min": 20000, "max": 40000},
        },
    }
    merged = {**config[cli.ACCESS_POINT_INGRESS_POLICY], **config[cli.UDP_POLICY]}
    assert list(_violations(plan, merged)) == []
    udp = [
        rule
        for r in plan["resources"]
        if r["type"] in {wp.ALICLOUD_SG_RULE, wp.AWS_SG_INGRESS_RULE}
        for rule in wp.ingress_of(Resource(r["type"], r["inputs"]))
        if rule.protocol == "udp"
    ]
    # Per access point: 3478 and the relay range on its TURN group, the RTP range on the cluster's.
    assert sorted((u.from_port, u.to_port) for u in udp) == sorted([(3478, 3478), (49152, 65535), (20000, 40000)] * 2)
    # Other ranges in the config: the same plan's relay and RTP rules are refused, 3478 still passes.
    refused = list(_violations(plan, {**merged, **CUSTOM}))
    assert len(refused) == 4 and all(v.startswith("wfga-udp-only-for-turn") for v in refused)
    # The cluster's RTP rules are access-point rules: held to the access points' CIDRs too.
    narrow = [v for v in _violations(plan, {wp.ACCESS_POINT_CIDRS: ["10.21.0.0/24"]}) if "RTP" in v or "rtp" in v]
    assert len(narrow) == 2


def test_policy_config_of_a_stack_without_av_has_no_udp_part(capsys):
    assert cli.UDP_POLICY not in _policy_config("demo", capsys)


def _violations(plan: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    for res in plan["resources"]:
        for rule in wp.RULES:
            if res["type"] in rule.types:
                resource = Resource(res["type"], res["inputs"], res["protect"])
                yield from (f"{rule.name} {res['name']}: {m}" for m in rule.check(resource, config))


def _policy_config(stack: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert cli.main(["policy-config", stack]) == 0
    config: dict[str, Any] = json.loads(capsys.readouterr().out)
    return config


def test_the_demo_plan_passes_every_rule_and_the_rules_see_its_resources(capsys):
    plan = stack_plan("demo").to_json()
    config = _policy_config("demo", capsys)
    assert config == {cli.ACCESS_POINT_INGRESS_POLICY: {"access_point_cidrs": ["10.21.0.0/16", "10.22.0.0/16"]}}
    assert list(_violations(plan, config[cli.ACCESS_POINT_INGRESS_POLICY])) == []
    listeners = [r for r in plan["resources"] if r["type"] == wp.ALICLOUD_LISTENER]
    assert {wp.listener_service(Resource(r["type"], r["inputs"])) for r in listeners} == {"short", "long", "ws"}
    # Narrower config: the cluster's access-point rules are seen and now too wide.
    narrow = list(_violations(plan, {wp.ACCESS_POINT_CIDRS: ["10.21.0.0/24"]}))
    rules = [r for r in plan["resources"] if r["type"] == wp.ALICLOUD_SG_RULE]
    assert len(narrow) == len(rules) == 6


def test_an_unprotected_eip_in_the_plan_is_caught():
    plan = stack_plan("demo").to_json()
    eip = next(r for r in plan["resources"] if r["type"] == wp.ALICLOUD_EIP)
    eip["protect"] = False
    assert [v.split(":")[0] for v in _violations(plan, NO_CONFIG)] == [f"wfga-eip-protected {eip['name']}"]


def _struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(data)
    return message


def test_the_pack_runs_as_pulumi_runs_it():
    # `pulumi preview --policy-pack policy` starts `python -m pulumi.policy ENGINE DIR` and reads the port.
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(POLICY_DIR)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=30), "the policy pack did not start"
        port = int(proc.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=10)
            assert info.name == wp.PACK_NAME
            assert {p.name for p in info.policies} == {r.name for r in wp.RULES}
            stub.Configure(
                analyzer_pb2.ConfigureAnalyzerRequest(
                    policyConfig={
                        cli.ACCESS_POINT_INGRESS_POLICY: analyzer_pb2.PolicyConfig(
                            enforcementLevel=analyzer_pb2.MANDATORY,
                            properties=_struct(AP_CONFIG),
                        )
                    }
                ),
                timeout=10,
            )

            def analyze(resource: Resource) -> list[str]:
                request = analyzer_pb2.AnalyzeRequest(
                    type=resource.type,
                    properties=_struct(resource.props),
                    urn=f"urn:pulumi:t::wfga::{resource.type}::x",
                    name="x",
                    options=analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect),
                )
                return sorted(d.policyName for d in stub.Analyze(request, timeout=10).diagnostics)

            assert analyze(listener("long", idleTimeout=900)) == []
            assert analyze(listener("long", idleTimeout=60, listenerProtocol="UDP")) == [
                "wfga-long-idle-timeout",
                "wfga-tcp-listeners",
            ]
            assert analyze(Resource(wp.ALICLOUD_EIP, {}, protect=False)) == ["wfga-eip-protected"]
            assert analyze(Resource(wp.ALICLOUD_EIP, {}, protect=True)) == []
            wide = sg_rule(portRange="80/80", cidrIp="10.0.0.0/8", description="wfga access point sg to short")
            assert analyze(wide) == ["wfga-access-point-ingress"]
            assert analyze(udp_rule("3478/3478", "0.0.0.0/0")) == []
            assert analyze(udp_rule("53/53", "0.0.0.0/0")) == ["wfga-udp-only-for-turn"]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_pack_files_are_complete():
    assert (POLICY_DIR / "PulumiPolicy.yaml").is_file()
    requirements = (POLICY_DIR / "requirements.txt").read_text()
    pins = dict(line.split("==") for line in requirements.splitlines() if "==" in line)
    dev = Path(ROOT / "requirements-dev.txt").read_text() + Path(ROOT / "requirements.txt").read_text()
    for name, version in pins.items():
        assert f"{name}=={version}" in dev, f"policy pins {name}=={version}, the project does not"
