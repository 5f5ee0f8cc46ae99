"""Values that passed the schema though they were dangerous, impossible or crashed the program later.

Each case was accepted (exit 0) or crashed with a traceback before; each now exits 2 with its key path.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from wfga.cli import main
from wfga.model.config import ConfigError, parse_stack_config

Values = dict[str, Any]

CLUSTER: Values = {
    "name": "hz",
    "cloud": "alicloud",
    "region": "cn-hangzhou",
    "vpc_id": "vpc-hz",
    "cidr": "172.16.0.0/16",
    "route_table_ids": ["vtb-hz"],
    "attach_vswitches": {"cn-hangzhou-h": "vsw-h", "cn-hangzhou-i": "vsw-i"},
    "nodes": [
        {"name": "im-1", "slot": 1, "private_ip": "172.16.0.11"},
        {"name": "im-2", "slot": 2, "private_ip": "172.16.0.12"},
    ],
}
SG: Values = {
    "name": "sg",
    "cloud": "alicloud",
    "region": "ap-southeast-1",
    "vpc_cidr": "10.21.0.0/16",
    "zones": ["ap-southeast-1a", "ap-southeast-1b"],
}
TYO_VM: Values = {
    "name": "tyo",
    "cloud": "aws",
    "region": "ap-northeast-1",
    "kind": "vm",
    "link": "existing",
    "vpc_cidr": "10.23.0.0/16",
    "vpc_id": "vpc-tyo",
    "subnets": {"ap-northeast-1a": "subnet-tyo"},
    "route_table_id": "rtb-tyo",
    "zones": ["ap-northeast-1a"],
    "vm": {"instance_type": "c7i.large", "admin_cidr": "203.0.113.0/24"},
}
EDGE: Values = {
    "wfga:service_domains": [
        {
            "name": "im.example.cn",
            "role": "im",
            "provider": "alicloud-dcdn",
            "origin": {"host": "198.51.100.20"},
            "certificate": {"type": "cas", "id": "1"},
        }
    ],
    "wfga:object_storage": {
        "kind": "oss",
        "region": "cn-hangzhou",
        "buckets": [
            {"name": "wfga-media", "kinds": "short-lived", "domain": "media.example.cn"},
            {"name": "wfga-static", "kinds": "long-lived", "domain": "static.example.cn"},
        ],
        "cdn": {"provider": "alicloud-cdn", "certificate": {"type": "free", "enabled": True}},
    },
}


def base() -> Values:
    return {
        "wfga:cluster": copy.deepcopy(CLUSTER),
        "wfga:access_points": [copy.deepcopy(SG), copy.deepcopy(TYO_VM)],
        **copy.deepcopy(EDGE),
    }


def cluster(v: Values) -> Values:
    c: Values = v["wfga:cluster"]
    return c


def ap(v: Values, i: int = 0) -> Values:
    a: Values = v["wfga:access_points"][i]
    return a


def pin(address: str) -> Callable[[Values], None]:
    def mutate(v: Values) -> None:
        ap(v)["pinned_eips"] = [
            {"load_balancer": 1, "zone": "ap-southeast-1a", "allocation_id": "eip-1", "address": address}
        ]

    return mutate


def vm(**settings: Any) -> Callable[[Values], None]:
    return lambda v: ap(v, 1)["vm"].update(settings)


def joined_names(v: Values) -> None:
    cluster(v)["nodes"] = [
        {"name": "im-ab", "slot": 1, "private_ip": "172.16.0.11"},
        {"name": "ab", "slot": 2, "private_ip": "172.16.0.12"},
    ]
    v["wfga:access_points"] = [SG, {**SG, "name": "sg-im", "vpc_cidr": "10.22.0.0/16"}]


CASES: list[tuple[str, Callable[[Values], None], str]] = [
    # SSH and admin ports
    (
        "ssh from everywhere",
        vm(admin_cidr="0.0.0.0/0"),
        "(tyo).vm.admin_cidr: 0.0.0.0/0 opens SSH to the whole internet",
    ),
    ("ssh from a /8", vm(admin_cidr="10.0.0.0/8"), "(tyo).vm.admin_cidr: 10.0.0.0/8 opens SSH to 16777216 addresses"),
    ("ssh from loopback", vm(admin_cidr="127.0.0.0/16"), "(tyo).vm.admin_cidr: 127.0.0.0/16 is a loopback range"),
    (
        "public port 22 on a vm",
        lambda v: ap(v, 1).update(port_base={"short": 21, "long": 1880, "ws": 8080}),
        "(tyo).port_base.short: node im-1 (slot 1) would get public port 22 on each VM, where sshd listens",
    ),
    # pinned EIPs
    ("pinned eip 0.0.0.0", pin("0.0.0.0"), "(sg).pinned_eips[0].address: 0.0.0.0 is not a public unicast address"),
    ("pinned eip private", pin("10.0.0.5"), "(sg).pinned_eips[0].address: 10.0.0.5 is not a public unicast"),
    ("pinned eip broadcast", pin("255.255.255.255"), "pinned_eips[0].address: 255.255.255.255 is not a public"),
    ("pinned eip a node's own ip", pin("172.16.0.11"), "pinned_eips[0].address: 172.16.0.11 is not a public"),
    ("pinned eip multicast", pin("224.0.0.1"), "pinned_eips[0].address: 224.0.0.1 is not a public unicast"),
    ("pinned eip documentation range", pin("198.51.100.7"), "pinned_eips[0].address: 198.51.100.7 is not"),
    ("pinned eip as a number", pin(3232235777), "pinned_eips[0].address: expected an IPv4 address in dotted form"),  # type: ignore[arg-type]
    # names that collide once joined
    ("joined names collide", joined_names, "(sg-im).name: its resource sg-im-ab-"),
    # zones
    (
        "two spellings of one zone",
        lambda v: ap(v).update(zones=["ap-southeast-1a", "ap-southeast-1-a"]),
        "(sg).zones: 'ap-southeast-1-a' is not a zone of ap-southeast-1 (expected e.g. ap-southeast-1a)",
    ),
    (
        "zone without the region's dash",
        lambda v: cluster(v).update(attach_vswitches={"cn-hangzhouh": "vsw-h", "cn-hangzhou-i": "vsw-i"}),
        "wfga:cluster.attach_vswitches: 'cn-hangzhouh' is not a zone of cn-hangzhou (expected e.g. cn-hangzhou-a)",
    ),
    # trailing newlines and blank ids
    (
        "node name with a newline",
        lambda v: cluster(v)["nodes"][0].update(name="im-1\n"),
        ".nodes[0].name: 'im-1\\n' is not a name",
    ),
    (
        "region with a newline",
        lambda v: ap(v).update(region="ap-southeast-1\n"),
        "(sg).region: 'ap-southeast-1\\n' is not",
    ),
    (
        "vpc id with a newline",
        lambda v: cluster(v).update(vpc_id="vpc-hz\n"),
        "wfga:cluster.vpc_id: 'vpc-hz\\n' is not a cloud id",
    ),
    ("blank vpc id", lambda v: cluster(v).update(vpc_id=" "), "wfga:cluster.vpc_id: ' ' is not a cloud id"),
    (
        "empty route table",
        lambda v: cluster(v).update(route_table_ids=[""]),
        "wfga:cluster.route_table_ids[0]: '' is not a cloud id",
    ),
    ("padded instance type", vm(instance_type=" c7i.large"), "(tyo).vm.instance_type: ' c7i.large' is not a cloud id"),
    (
        "domain with a newline",
        lambda v: v["wfga:service_domains"][0].update(name="im.example.cn\n"),
        "wfga:service_domains[0].name: 'im.example.cn\\n' is not a lower-case DNS name",
    ),
    (
        "cidr with a newline",
        lambda v: cluster(v).update(cidr="172.16.0.0/16\n"),
        "wfga:cluster.cidr: '172.16.0.0/16\\n' is not an IPv4 network",
    ),
    # VPC ranges the clouds refuse
    (
        "aws vpc wider than /16",
        lambda v: ap(v, 1).update(vpc_cidr="10.0.0.0/8"),
        "(tyo).vpc_cidr: 10.0.0.0/8 is a /8; a VPC on AWS takes /16 to /28",
    ),
    (
        "vpc narrower than /28",
        lambda v: ap(v, 1).update(
            vpc_cidr="10.23.0.0/29", vpc_id="vpc-1", subnets={"ap-northeast-1a": "subnet-1"}, route_table_id="rtb-1"
        ),
        "(tyo).vpc_cidr: 10.23.0.0/29 is a /29",
    ),
    (
        "multicast vpc",
        lambda v: ap(v).update(vpc_cidr="224.1.0.0/16"),
        "(sg).vpc_cidr: 224.1.0.0/16 overlaps 224.0.0.0/4 (multicast)",
    ),
    (
        "reserved vpc",
        lambda v: ap(v).update(vpc_cidr="240.1.0.0/16"),
        "(sg).vpc_cidr: 240.1.0.0/16 overlaps 240.0.0.0/4 (reserved)",
    ),
    (
        "alibaba shared range",
        lambda v: ap(v).update(vpc_cidr="100.64.0.0/16"),
        "(sg).vpc_cidr: 100.64.0.0/16 overlaps 100.64.0.0/10",
    ),
    # node addresses
    (
        "node at the network address",
        lambda v: cluster(v)["nodes"][0].update(private_ip="172.16.0.0"),
        "wfga:cluster.nodes: im-1 has private_ip 172.16.0.0, the network address of 172.16.0.0/16",
    ),
    (
        "node at the broadcast address",
        lambda v: cluster(v)["nodes"][0].update(private_ip="172.16.255.255"),
        "the broadcast address of 172.16.0.0/16",
    ),
    (
        "node on a public address",
        lambda v: cluster(v).update(cidr="47.0.0.0/16", nodes=[{"name": "im-1", "slot": 1, "private_ip": "47.0.0.11"}]),
        "wfga:cluster.nodes[0].private_ip: 47.0.0.11 is not a private address",
    ),
    # CDN origins
    (
        "origin in a private range",
        lambda v: v["wfga:service_domains"][0]["origin"].update(host="10.0.0.1"),
        "wfga:service_domains[0] (im.example.cn).origin.host: 10.0.0.1 is a private address, which a CDN cannot reach",
    ),
    (
        "origin link-local",
        lambda v: v["wfga:service_domains"][0]["origin"].update(host="169.254.169.254"),
        "169.254.169.254 is a link-local address",
    ),
    (
        "origin ipv6 unique local",
        lambda v: v["wfga:service_domains"][0]["origin"].update(host="fd00::1"),
        "fd00::1 is a unique local",
    ),
    # a switch where a number belongs: lax validation read true as 1
    ("true as a count", vm(count=True), "(tyo).vm.count: expected a number, not true/false"),
    ("false as a timeout", lambda v: ap(v).update(idle_timeout_s=False), "(sg).idle_timeout_s: expected a number"),
    ("true as a slot", lambda v: cluster(v)["nodes"][0].update(slot=True), "nodes[0] (im-1).slot: expected a number"),
    # values that broke a derived value inside the program
    (
        "bucket with two dots",
        lambda v: (
            v["wfga:object_storage"].update(kind="s3", region="us-west-2")
            or v["wfga:object_storage"]["buckets"][0].update(name="wfga..media")
            or v["wfga:object_storage"].update(cdn={"provider": "cloudfront"})
        ),
        "wfga:object_storage.buckets[0].name: 'wfga..media': a dot must sit between letters or digits",
    ),
    (
        "oss bucket with a dot",
        lambda v: v["wfga:object_storage"]["buckets"][0].update(name="wfga.media"),
        "wfga:object_storage.buckets[0].name: 'wfga.media' is not a oss bucket name",
    ),
]


def write(tmp_path: Path, values: Values) -> Path:
    path = tmp_path / "Pulumi.hostile.yaml"
    path.write_text(yaml.safe_dump({"config": values}), encoding="utf-8")
    return path


def test_the_base_is_accepted(tmp_path, capsys):
    parse_stack_config(base(), frozenset())
    assert main(["plan", "--config-file", str(write(tmp_path, base())), "--quiet"]) == 0


def assert_refused(
    values: Values, secret_keys: frozenset[str], stack_file: Path, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused by the config model and by `wfga plan` of ``stack_file`` (holding ``values``): exit 2,
    ``expected`` in both messages, no traceback."""
    with pytest.raises(ConfigError) as err:
        parse_stack_config(values, secret_keys)
    assert expected in str(err.value)
    code = main(["plan", "--config-file", str(stack_file), "--quiet"])
    _, stderr = capsys.readouterr()
    assert code == 2
    assert expected in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(("case", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_refused_with_key_path_and_exit_2(tmp_path, capsys, case, mutate, expected):
    values = base()
    mutate(values)
    assert_refused(values, frozenset(), write(tmp_path, values), expected, capsys)


@pytest.mark.parametrize(
    "mutate",
    [
        vm(admin_cidr="10.0.0.0/8", admin_cidr_min_prefix=8),
        lambda v: v["wfga:access_points"].append(
            {
                **SG,
                "name": "sg-2",
                "region": "ap-southeast-5",
                "zones": ["ap-southeast-5a", "ap-southeast-5b"],
                "vpc_cidr": "10.22.0.0/16",
            }
        ),
        lambda v: v["wfga:object_storage"]["buckets"][0].update(name="wfga-media-2"),
        lambda v: ap(v, 1).update(
            vpc_cidr="10.23.0.0/28", vpc_id="vpc-1", subnets={"ap-northeast-1a": "s-1"}, route_table_id="r-1"
        ),
    ],
    ids=["wide admin range allowed deliberately", "sg and sg-2 share no name", "plain bucket", "aws /28 vpc"],
)
def test_near_misses_are_accepted(mutate):
    values = base()
    mutate(values)
    parse_stack_config(values, frozenset())


def test_joined_names_name_both_access_points():
    values = base()
    joined_names(values)
    with pytest.raises(ConfigError) as err:
        parse_stack_config(values, frozenset())
    assert "is also wfga:access_points[0] (sg)'s" in str(err.value)


def test_the_default_admin_minimum_is_a_slash_16():
    values = base()
    ap(values, 1)["vm"]["admin_cidr"] = "10.0.0.0/16"
    parse_stack_config(values, frozenset())
    ap(values, 1)["vm"]["admin_cidr"] = "10.0.0.0/15"
    with pytest.raises(ConfigError):
        parse_stack_config(values, frozenset())
