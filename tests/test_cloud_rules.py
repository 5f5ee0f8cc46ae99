"""Cloud rules, pure: for each rule a resource the cloud accepts and one it refuses; sources and docs current."""

from __future__ import annotations

import base64
import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from wfga.offline import rules as cr
from wfga.offline.rules import RULES, CloudRuleError, Resource, check

ROOT = Path(__file__).resolve().parent.parent


def res(
    type_: str,
    resource_name: str,
    /,
    deps: tuple[str, ...] = (),
    provider: str = "",
    delete_before_replace: bool = False,
    **inputs: Any,
) -> Resource:
    return Resource(
        delete_before_replace=delete_before_replace,
        urn=f"urn:pulumi:test::wfga::{type_}::{resource_name}",
        type=type_,
        name=resource_name,
        inputs=inputs,
        id=f"id-{resource_name}",
        dependencies=deps,
        provider=provider,
    )


def provider(region: str) -> Resource:
    return res("pulumi:providers:alicloud", f"alicloud-{region}", region=region)


def ref(p: Resource) -> str:
    return f"{p.urn}::{p.id}"


# An AWS VPC that the plan creates, with its gateway and a public subnet.
VPC = res("aws:ec2/vpc:Vpc", "va-vpc", cidrBlock="10.41.0.0/16")
IGW = res(cr.AWS_INTERNET_GATEWAY, "va-igw", deps=(VPC.urn,), vpcId=VPC.id)
SUBNET = res(cr.AWS_SUBNET, "va-subnet-a", deps=(VPC.urn,), vpcId=VPC.id)
ROUTE = res("aws:ec2/route:Route", "va-default", deps=(IGW.urn,), gatewayId=IGW.id)
NETWORK = (VPC, IGW, SUBNET, ROUTE)
INSTANCE = res(cr.AWS_INSTANCE, "va-vm-1", deps=(SUBNET.urn,), subnetId=SUBNET.id)

ALI_SG, ALI_FRA = provider("ap-southeast-1"), provider("eu-central-1")

HEALTH = {"protocol": "TCP", "interval": 10.0, "timeout": 5.0, "healthyThreshold": 2.0, "unhealthyThreshold": 2.0}


def nlb(resource_name: str, /, deps: tuple[str, ...] = (), **inputs: Any) -> Resource:
    return res(cr.AWS_LB, resource_name, deps=deps, subnetMappings=[{"subnetId": SUBNET.id}], **inputs)


# rule id -> (plan the cloud accepts, plan it refuses, words the refusal must contain)
CASES: dict[str, tuple[tuple[Resource, ...], tuple[Resource, ...], str]] = {
    "aws-lb-name": (
        (res(cr.AWS_LB, "sg-nlb-1", name="wfga-sg-nlb-1"), res(cr.AWS_LB, "fra-nlb-1")),
        # What cutting "wfga-<access point>-nlb-1" at 32 characters can leave.
        (res(cr.AWS_LB, "fra-nlb-1", name="wfga-frankfurt-edge-2024-nlb-1-x"[:31]),),
        "begins or ends with a hyphen",
    ),
    "aws-target-group-name": (
        (res(cr.AWS_TARGET_GROUP, "sg-im-1-short-tg"), res(cr.AWS_TARGET_GROUP, "x", name="a" * 32)),
        # pulumi-aws issue 1317: fine as written, 36 characters once Pulumi adds its suffix.
        (res(cr.AWS_TARGET_GROUP, "frankfurt-edge-im-1-short-tg"),),
        "has 36 characters, at most 32",
    ),
    "aws-elbv2-name-unique": (
        (
            res(cr.AWS_TARGET_GROUP, "a", name="wfga-tg", region="eu-central-1"),
            res(cr.AWS_TARGET_GROUP, "b", name="wfga-tg", region="ap-southeast-1"),
            res(cr.AWS_LB, "c", name="wfga-tg", region="eu-central-1"),
        ),
        (
            res(cr.AWS_TARGET_GROUP, "a", name="wfga-tg", region="eu-central-1"),
            res(cr.AWS_TARGET_GROUP, "b", name="wfga-tg", region="eu-central-1"),
        ),
        "'wfga-tg' is also the name of",
    ),
    "aws-lb-enums": (
        (res(cr.AWS_LB, "n", name="n", loadBalancerType="network", ipAddressType="ipv4"),),
        (res(cr.AWS_LB, "n", name="n", loadBalancerType="nlb"),),
        "'nlb' is not one of application, network, gateway",
    ),
    "aws-target-group-ranges": (
        (res(cr.AWS_TARGET_GROUP, "tg", port=1883.0, protocol="TCP", targetType="ip", healthCheck=HEALTH),),
        (res(cr.AWS_TARGET_GROUP, "tg", port=1883.0, healthCheck={**HEALTH, "interval": 4.0, "timeout": 2.0}),),
        "healthCheck.interval: 4 is outside 5..300",
    ),
    "aws-target-group-timeout-below-interval": (
        (
            res(cr.AWS_TARGET_GROUP, "tg", protocol="TCP", healthCheck=HEALTH),
            # Neither given: AWS's own TCP defaults (10 s below 30 s) are fine.
            res(cr.AWS_TARGET_GROUP, "tg2", protocol="TCP"),
        ),
        (res(cr.AWS_TARGET_GROUP, "tg", protocol="TCP", healthCheck={"protocol": "TCP", "interval": 10.0}),),
        "timeout 10 s (absent: AWS uses 10 s for TCP) is not below interval 10 s",
    ),
    "aws-listener-ranges": (
        (res(cr.AWS_LISTENER, "l", port=81.0, protocol="TCP", tcpIdleTimeoutSeconds=1200.0),),
        (res(cr.AWS_LISTENER, "l", port=81.0, protocol="TCP", tcpIdleTimeoutSeconds=6001.0),),
        "6001 is outside 60..6000",
    ),
    "aws-ec2-user-data-size": (
        (res(cr.AWS_INSTANCE, "vm", userData="x" * 16384),),
        (res(cr.AWS_INSTANCE, "vm", userData="x" * 16385),),
        "16385 bytes before base64, at most 16 KB",
    ),
    "aws-security-group-text": (
        (res(cr.AWS_SECURITY_GROUP, "sg-nlb-1-sg", name="wfga-sg-nlb-1", description="wfga sg-nlb-1: ports in"),),
        # An access point called sg: Pulumi would name its group sg-nlb-1-sg-<suffix>.
        (res(cr.AWS_SECURITY_GROUP, "sg-nlb-1-sg", description="wfga"),),
        "begins with 'sg-'",
    ),
    "aws-security-group-rule-description": (
        (res(cr.AWS_SG_INGRESS, "in", description="wfga long (1883/tcp) listeners"),),
        (res(cr.AWS_SG_EGRESS, "out", description="wfga 100% to the nodes"),),
        "characters EC2 refuses: '%'",
    ),
    "aws-nlb-internet-gateway": (
        (
            *NETWORK,
            nlb("va-nlb-1", deps=(SUBNET.urn, IGW.urn), name="a", internal=False),
            nlb("va-nlb-2", deps=(SUBNET.urn,), name="b", internal=True),
        ),
        (*NETWORK, nlb("va-nlb-1", deps=(SUBNET.urn, ROUTE.urn + "x"), name="a", internal=False)),
        "does not depend on internet gateway va-igw",
    ),
    "aws-eip-association-internet-gateway": (
        (
            *NETWORK,
            INSTANCE,
            res(cr.AWS_EIP_ASSOCIATION, "va-vm-1-eip", deps=(INSTANCE.urn, ROUTE.urn), instanceId=INSTANCE.id),
        ),
        (*NETWORK, INSTANCE, res(cr.AWS_EIP_ASSOCIATION, "va-vm-1-eip", deps=(INSTANCE.urn,), instanceId=INSTANCE.id)),
        "does not depend on internet gateway va-igw",
    ),
    "nlb-eips-delete-before-replace": (
        (
            res(cr.AWS_LB, "va-nlb-1", delete_before_replace=True, subnetMappings=[{"allocationId": "eipalloc-1"}]),
            res(cr.ALI_NLB, "sg-nlb-1", delete_before_replace=True, zoneMappings=[{"allocationId": "eip-1"}]),
            # Without EIPs a create-first replacement takes new addresses: nothing to hold back.
            res(cr.ALI_NLB, "sg-nlb-2", zoneMappings=[{"zoneId": "a"}, {"zoneId": "b"}]),
        ),
        (res(cr.ALI_NLB, "sg-nlb-1", zoneMappings=[{"zoneId": "a", "allocationId": "eip-1"}]),),
        "binds EIP(s) eip-1 but is replaced create-first",
    ),
    "alicloud-nlb-description": (
        (
            res(cr.ALI_NLB_LISTENER, "l", listenerDescription="wfga/sg/im-1/short"),
            res(cr.ALI_NLB_ATTACHMENT, "t", description="wfga/im-1/short"),
        ),
        (res(cr.ALI_NLB_LISTENER, "l", listenerDescription="wfga sg im-1 short"),),
        "refuses here: ' '",
    ),
    "alicloud-nlb-names": (
        (
            res(cr.ALI_NLB, "n", loadBalancerName="wfga-sg-nlb-1"),
            res(cr.ALI_NLB_SERVER_GROUP, "g", serverGroupName="a.b_c"),
        ),
        (res(cr.ALI_NLB_SERVER_GROUP, "g", serverGroupName="1-sg-im-1"),),
        "does not start with a letter",
    ),
    "alicloud-nlb-zones": (
        (res(cr.ALI_NLB, "n", zoneMappings=[{"zoneId": "a"}, {"zoneId": "b"}]),),
        (res(cr.ALI_NLB, "n", zoneMappings=[{"zoneId": "a"}]),),
        "1 zone(s), an NLB needs 2..10",
    ),
    "alicloud-nlb-listener-ranges": (
        (res(cr.ALI_NLB_LISTENER, "l", idleTimeout=900.0, listenerPort=1883.0, listenerProtocol="TCP"),),
        (res(cr.ALI_NLB_LISTENER, "l", idleTimeout=1200.0, listenerPort=1883.0, listenerProtocol="TCP"),),
        "1200 is outside 1..900",
    ),
    "alicloud-nlb-health-check": (
        (res(cr.ALI_NLB_SERVER_GROUP, "g", healthCheck={"healthCheckConnectTimeout": 5, "healthCheckInterval": 10}),),
        (res(cr.ALI_NLB_SERVER_GROUP, "g", healthCheck={"healthCheckInterval": 60.0}),),
        "60 is outside 5..50",
    ),
    "alicloud-eip-bandwidth": (
        (
            res(cr.ALI_EIP, "e", bandwidth="200", internetChargeType="PayByTraffic", paymentType="PayAsYouGo"),
            res(cr.ALI_EIP, "f", bandwidth="500", internetChargeType="PayByBandwidth", paymentType="PayAsYouGo"),
        ),
        (res(cr.ALI_EIP, "e", bandwidth="201", internetChargeType="PayByTraffic", paymentType="PayAsYouGo"),),
        "201 is outside 1..200 (PayAsYouGo, PayByTraffic)",
    ),
    "alicloud-ecs-user-data-size": (
        (res(cr.ALI_INSTANCE, "vm", userData="é" * 8192),),
        (res(cr.ALI_INSTANCE, "vm", userData="é" * 8192 + "x"),),
        "16385 bytes before base64",
    ),
    "alicloud-ecs-instance-names": (
        (res(cr.ALI_INSTANCE, "vm", instanceName="wfga-tyo-vm-1", hostName="wfga-tyo-vm-1"),),
        (res(cr.ALI_INSTANCE, "vm", instanceName="wfga-tyo--vm-1", hostName="wfga-tyo--vm-1"),),
        "starts or ends with '.' or '-', or repeats them",
    ),
    "alicloud-security-group-name": (
        (res(cr.ALI_SECURITY_GROUP, "s", securityGroupName="wfga-tyo"),),
        (res(cr.ALI_SECURITY_GROUP, "s", securityGroupName="-wfga-tyo"),),
        "must start with a letter",
    ),
    "alicloud-transit-router-attachment-name": (
        (res(cr.ALI_TR_VPC_ATTACHMENT, "a", transitRouterVpcAttachmentName="wfga-sg_1"),),
        (res(cr.ALI_TR_VPC_ATTACHMENT, "a", transitRouterVpcAttachmentName="wfga.sg"),),
        "refuses here: '.'",
    ),
    "alicloud-cen-transit-router-per-region": (
        (
            ALI_SG,
            ALI_FRA,
            res(cr.ALI_TRANSIT_ROUTER, "sg-tr", provider=ref(ALI_SG), cenId="cen-1"),
            res(cr.ALI_TRANSIT_ROUTER, "fra-tr", provider=ref(ALI_FRA), cenId="cen-1"),
            res(cr.ALI_TRANSIT_ROUTER, "other-tr", provider=ref(ALI_SG), cenId="cen-2"),
        ),
        (
            ALI_SG,
            res(cr.ALI_TRANSIT_ROUTER, "sg-tr", provider=ref(ALI_SG), cenId="cen-1"),
            res(cr.ALI_TRANSIT_ROUTER, "sg2-tr", provider=ref(ALI_SG), cenId="cen-1"),
        ),
        "already gets transit router sg2-tr in ap-southeast-1",
    ),
    "alicloud-oss-cors": (
        (res(cr.ALI_OSS_CORS, "b-cors", corsRules=[{"allowedMethods": ["GET", "PUT"], "allowedHeaders": ["*"]}]),),
        (
            res(
                cr.ALI_OSS_CORS,
                "b-cors",
                corsRules=[{"allowedMethods": ["GET", "OPTIONS"], "allowedHeaders": ["x-*-*"]}],
            ),
        ),
        "'OPTIONS' is not one of GET, PUT, DELETE, POST, HEAD",
    ),
    "aws-s3-cors": (
        (res(cr.AWS_S3_CORS, "b-cors", corsRules=[{"allowedMethods": ["GET", "HEAD", "PUT"]}]),),
        (res(cr.AWS_S3_CORS, "b-cors", corsRules=[{"allowedMethods": ["PATCH"]}]),),
        "corsRules[0].allowedMethods: 'PATCH' is not one of GET, PUT, HEAD, POST, DELETE",
    ),
    "aws-s3-accelerate": (
        (res(cr.AWS_S3_ACCELERATE, "b-acc", bucket="wfga-media", status="Enabled"),),
        (res(cr.AWS_S3_ACCELERATE, "b-acc", bucket="media.example.com", status="On"),),
        "'media.example.com' contains a period",
    ),
    "cloudflare-ruleset-one-per-zone-phase": (
        (
            res(cr.CF_RULESET, "z-cache", kind="zone", zoneId="z1", phase="http_request_cache_settings"),
            res(cr.CF_RULESET, "z-config", kind="zone", zoneId="z1", phase="http_config_settings"),
            res(cr.CF_RULESET, "y-cache", kind="zone", zoneId="z2", phase="http_request_cache_settings"),
        ),
        (
            res(cr.CF_RULESET, "im-cache", kind="zone", zoneId="z1", phase="http_request_cache_settings"),
            res(cr.CF_RULESET, "media-cache", kind="zone", zoneId="z1", phase="http_request_cache_settings"),
        ),
        "zone z1 already gets the http_request_cache_settings entry point ruleset from media-cache",
    ),
    "cloudflare-ruleset-phase-action": (
        (
            res(
                cr.CF_RULESET,
                "z-config",
                kind="zone",
                phase="http_config_settings",
                rules=[{"action": "set_config", "expression": "true"}],
            ),
        ),
        (
            res(
                cr.CF_RULESET,
                "z-cache",
                kind="zone",
                phase="http_request_cache_settings",
                rules=[{"action": "set_config", "expression": "true"}],
            ),
        ),
        "rules[0].action: 'set_config': the http_request_cache_settings phase takes set_cache_settings",
    ),
    "alicloud-dcdn-source-port": (
        (res(cr.ALI_DCDN_DOMAIN, "d", sources=[{"type": "ipaddr", "content": "198.51.100.1", "port": 443.0}]),),
        (res(cr.ALI_DCDN_DOMAIN, "d", sources=[{"type": "ipaddr", "content": "198.51.100.1", "port": 9000.0}]),),
        "sources[0].port: 9000 is not 80 or 443",
    ),
}


def of_rule(rule: str, plan: tuple[Resource, ...]) -> list[cr.Violation]:
    return [v for v in check(plan) if v.rule == rule]


def test_every_rule_has_a_case():
    assert sorted(CASES) == sorted(r.id for r in RULES)
    assert len({r.id for r in RULES}) == len(RULES)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_accepts_what_the_cloud_accepts(rule):
    good, _, _ = CASES[rule]
    assert of_rule(rule, good) == []


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_refuses_what_the_cloud_refuses(rule):
    _, bad, words = CASES[rule]
    found = of_rule(rule, bad)
    assert found, f"{rule} found nothing"
    assert any(words in f"{v.input}: {v.message}" for v in found), [v.message for v in found]
    for v in found:
        assert v.urn in {r.urn for r in bad}
        assert v.sources == next(r.sources for r in RULES if r.id == rule)


def test_auto_named_when_the_name_input_is_absent():
    assert res(cr.AWS_TARGET_GROUP, "tg").auto_named
    assert not res(cr.AWS_TARGET_GROUP, "tg", name="wfga-tg").auto_named
    assert not res(cr.AWS_TARGET_GROUP, "tg", namePrefix="wfga").auto_named
    assert not res(cr.ALI_NLB, "n").auto_named


def test_auto_name_counts_the_suffix_exactly():
    # 24 + 8 = 32 fits; 25 + 8 = 33 does not.
    assert of_rule("aws-target-group-name", (res(cr.AWS_TARGET_GROUP, "a" * 24),)) == []
    assert of_rule("aws-target-group-name", (res(cr.AWS_TARGET_GROUP, "a" * 25),))


def test_region_comes_from_the_provider_when_the_resource_has_none():
    plan = (
        ALI_SG,
        res(cr.ALI_TRANSIT_ROUTER, "a", provider=ref(ALI_SG), cenId="cen-1"),
        res(cr.ALI_TRANSIT_ROUTER, "b", provider=ref(ALI_SG), cenId="cen-1", region="eu-central-1"),
    )
    assert of_rule("alicloud-cen-transit-router-per-region", plan) == []


def test_a_dependency_through_another_resource_counts():
    plan = (*NETWORK, nlb("va-nlb-1", deps=(SUBNET.urn, ROUTE.urn), name="a"))
    assert of_rule("aws-nlb-internet-gateway", plan) == []


def test_a_vpc_the_plan_does_not_create_is_not_judged():
    # An existing VPC: its gateway is not ours to wait for.
    plan = (res(cr.AWS_LB, "va-nlb-1", name="a", subnetMappings=[{"subnetId": "subnet-0existing"}]),)
    assert of_rule("aws-nlb-internet-gateway", plan) == []


def test_user_data_in_base64_is_measured_decoded():
    fits = base64.b64encode(b"x" * 16384).decode()
    assert of_rule("aws-ec2-user-data-size", (res(cr.AWS_INSTANCE, "vm", userDataBase64=fits),)) == []
    too_big = base64.b64encode(b"x" * 16385).decode()
    assert of_rule("aws-ec2-user-data-size", (res(cr.AWS_INSTANCE, "vm", userDataBase64=too_big),))


def test_error_lists_every_violation_with_rule_and_source():
    _, bad, _ = CASES["alicloud-nlb-description"]
    _, bad2, _ = CASES["aws-target-group-name"]
    with pytest.raises(CloudRuleError) as caught:
        cr.enforce((*bad, *bad2))
    text = str(caught.value)
    assert text.startswith("the plan breaks 2 cloud rule(s)")
    assert "alicloud:nlb/listener:Listener l: listenerDescription: 'wfga sg im-1 short'" in text
    assert "[rule alicloud-nlb-description; source: pulumi_alicloud.nlb.listener;" in text
    assert "aws:lb/targetGroup:TargetGroup frankfurt-edge-im-1-short-tg: name (absent: Pulumi auto-names it" in text
    assert "pulumi-aws issue 1317" in text
    cr.enforce(CASES["alicloud-nlb-description"][0])  # nothing to refuse: no error


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\\", ""))


SDK_SOURCES: list[cr.Source] = sorted(
    {s for r in RULES for s in r.sources if s.origin == "sdk"}, key=lambda s: (s.ref, s.quote)
)


@pytest.mark.parametrize("source", SDK_SOURCES, ids=[s.ref for s in SDK_SOURCES])
def test_sdk_quotes_are_in_the_installed_sdk(source):
    # Read the module's file rather than import it: importing one submodule of a provider SDK
    # ahead of its lazily loaded package leaves that package without the submodule's classes.
    spec = importlib.util.find_spec(source.ref)
    assert spec is not None and spec.origin is not None, source.ref
    assert _normal(source.quote) in _normal(Path(spec.origin).read_text(encoding="utf-8"))


def test_botocore_quotes_match_the_generated_limits():
    for rule in RULES:
        for source in rule.sources:
            if source.origin == "botocore":
                key = source.ref.removeprefix("botocore ")
                assert key in cr.AWS_LIMITS, key


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_aws_limits", ROOT / "scripts" / "gen_aws_limits.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_aws_limits_file_is_what_the_installed_botocore_gives():
    gen = _generator()
    assert (ROOT / "wfga" / "offline" / "aws_limits.json").read_text(encoding="utf-8") == gen.render(gen.build())


def test_generator_fails_loudly_when_the_prose_changes():
    gen = _generator()
    reworded = gen.Extract("max_length", r"at most (\d+) chars")
    gen.PARAMS = (gen.Param("elbv2", "CreateTargetGroupInput", "Name", (reworded,)),)
    with pytest.raises(SystemExit, match="matched 0 times"):
        gen.build()


def test_docs_table_is_current():
    assert (ROOT / "docs" / "cloud-rules.md").read_text(encoding="utf-8") == cr.render_markdown()
    for rule in RULES:
        assert f"| `{rule.id}` |" in cr.render_markdown()


@dataclass
class _Recorded:
    """What the offline engine records, with a secret input as the engine sends it."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    provider: str = ""
    id: str = "i-1"
    delete_before_replace: bool = False


def test_a_secret_input_is_judged_by_the_value_it_hides():
    # Pulumi's wire form of a secret (pulumi.runtime.rpc), as TURN user data is recorded.
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "x" * 16385}
    record = _Recorded(urn="urn:pulumi:test::wfga::vm", type=cr.AWS_INSTANCE, name="vm", inputs={"userData": secret})
    assert [(v.rule, v.message) for v in check([record])] == [
        ("aws-ec2-user-data-size", "16385 bytes before base64, at most 16 KB (16384 bytes)")
    ]
    record.inputs["userData"] = {**secret, "value": "x" * 16384}
    assert check([record]) == []
