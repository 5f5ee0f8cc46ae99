"""Audio/video values (wfga:av) that passed the schema though they were dangerous or impossible.

Each case was accepted (exit 0) before; each now exits 2 with its key path, as the access points'
own settings do (tests/test_hostile_values.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_hostile_values import assert_refused, base
from wfga.cli import main
from wfga.model.config import parse_stack_config

Values = dict[str, Any]
SECRET = frozenset({"wfga:turn_password"})

AV: Values = {
    "janus": {"private_ips": ["172.16.0.50"]},
    "turn": {"realm": "turn.example.com", "user": "wfchat"},
    "access_points": {
        "sg": {"instance_type": "ecs.c7.large", "count": 2},
        "tyo": {"instance_type": "c7i.large", "admin_cidr": "203.0.113.0/24"},
    },
}


def av_base() -> Values:
    values = base()
    values["wfga:av"] = copy.deepcopy(AV)
    values["wfga:turn_password"] = "[secret]"
    return values


def turn(name: str, **settings: Any) -> Callable[[Values], None]:
    return lambda v: v["wfga:av"]["access_points"][name].update(settings)


def turn_pin(name: str, address: Any, allocation_id: str = "eip-turn-1", server: int = 1) -> Callable[[Values], None]:
    def mutate(v: Values) -> None:
        v["wfga:av"]["access_points"][name]["pinned_eips"] = [
            {"server": server, "allocation_id": allocation_id, "address": address}
        ]

    return mutate


def janus(*ips: str) -> Callable[[Values], None]:
    return lambda v: v["wfga:av"]["janus"].update(private_ips=list(ips))


def both(*mutations: Callable[[Values], None]) -> Callable[[Values], None]:
    def mutate(v: Values) -> None:
        for m in mutations:
            m(v)

    return mutate


def ap_pin(address: str, allocation_id: str) -> Callable[[Values], None]:
    def mutate(v: Values) -> None:
        v["wfga:access_points"][0]["pinned_eips"] = [
            {"load_balancer": 1, "zone": "ap-southeast-1a", "allocation_id": allocation_id, "address": address}
        ]

    return mutate


TURN = "wfga:av.access_points"
SG_EIP = f"{TURN}.sg.pinned_eips[0].address"
CASES: list[tuple[str, Callable[[Values], None], str]] = [
    # SSH to TURN VMs: the same rules as a VM access point's
    (
        "turn ssh from everywhere",
        turn("tyo", admin_cidr="0.0.0.0/0"),
        f"{TURN}.tyo.admin_cidr: 0.0.0.0/0 opens SSH to the whole internet",
    ),
    (
        "turn ssh from a /8",
        turn("tyo", admin_cidr="11.0.0.0/8"),
        f"{TURN}.tyo.admin_cidr: 11.0.0.0/8 opens SSH to 16777216 addresses",
    ),
    ("turn ssh from loopback", turn("sg", admin_cidr="127.0.0.0/16"), f"{TURN}.sg.admin_cidr: 127.0.0.0/16 is a loop"),
    ("turn ssh from multicast", turn("sg", admin_cidr="224.0.0.0/16"), f"{TURN}.sg.admin_cidr: 224.0.0.0/16 is a"),
    # pinned TURN EIPs: their address is in every client app
    ("turn eip 0.0.0.0", turn_pin("sg", "0.0.0.0"), f"{SG_EIP}: 0.0.0.0 is not a public unicast"),
    ("turn eip private", turn_pin("sg", "10.0.0.5"), f"{SG_EIP}: 10.0.0.5 is not a public"),
    ("turn eip broadcast", turn_pin("tyo", "255.255.255.255"), "tyo.pinned_eips[0].address: 255.255.255.255 is not"),
    ("turn eip a node's ip", turn_pin("sg", "172.16.0.11"), "sg.pinned_eips[0].address: 172.16.0.11 is not a public"),
    ("turn eip documentation", turn_pin("sg", "198.51.100.7"), "sg.pinned_eips[0].address: 198.51.100.7 is not"),
    ("turn eip as a number", turn_pin("sg", 790000000), "sg.pinned_eips[0].address: expected an IPv4 address"),
    (
        "turn eip blank allocation id",
        turn_pin("sg", "47.90.0.1", allocation_id=" "),
        f"{TURN}.sg.pinned_eips[0].allocation_id: ' ' is not a cloud id",
    ),
    (
        "turn eip allocation id with a newline",
        turn_pin("sg", "47.90.0.1", allocation_id="eip-1\n"),
        "sg.pinned_eips[0].allocation_id: 'eip-1\\n' is not a cloud id",
    ),
    (
        "turn eip that an access point pins",
        both(ap_pin("47.90.0.1", "eip-ap"), turn_pin("sg", "47.90.0.1")),
        f"{TURN}.sg.pinned_eips[0]: 47.90.0.1 is pinned for both access point sg nlb-1 ap-southeast-1a and TURN",
    ),
    (
        "turn eip allocation an access point pins",
        both(ap_pin("47.90.0.9", "eip-1"), turn_pin("sg", "47.90.0.1", allocation_id="eip-1")),
        f"{TURN}.sg.pinned_eips[0]: eip-1 is pinned for both",
    ),
    (
        "one eip for two turn access points",
        both(turn_pin("sg", "47.90.0.1", "eip-a"), turn_pin("tyo", "47.90.0.1", "eip-b")),
        f"{TURN}.tyo.pinned_eips[0]: 47.90.0.1 is pinned for both TURN sg turn-1 and TURN tyo turn-1",
    ),
    # ids padded or blank
    ("turn instance type padded", turn("tyo", instance_type="c7i.large "), "tyo.instance_type: 'c7i.large ' is not"),
    ("turn instance type blank", turn("sg", instance_type=" "), f"{TURN}.sg.instance_type: ' ' is not a cloud id"),
    ("turn image with a newline", turn("sg", image_id="m-1\n"), f"{TURN}.sg.image_id: 'm-1\\n' is not a cloud id"),
    # Janus addresses no host can have
    (
        "janus at the network address",
        janus("172.16.0.0"),
        "wfga:av.janus.private_ips[0]: 172.16.0.0 is the network address of the cluster cidr 172.16.0.0/16",
    ),
    (
        "janus at the broadcast address",
        janus("172.16.0.50", "172.16.255.255"),
        "wfga:av.janus.private_ips[1]: 172.16.255.255 is the broadcast address",
    ),
    # what the cloud refuses later
    (
        "alibaba turn eip above 200 mbit/s",
        turn("sg", eip_bandwidth_mbps=500),
        f"{TURN}.sg.eip_bandwidth_mbps: 500 is above 200",
    ),
]


def write(tmp_path: Path, values: Values) -> Path:
    config = dict(values, **{"wfga:turn_password": {"secure": "v1:test"}})
    path = tmp_path / "Pulumi.hostile.yaml"
    path.write_text(yaml.safe_dump({"config": config}), encoding="utf-8")
    return path


def test_the_base_is_accepted(tmp_path, capsys):
    parse_stack_config(av_base(), SECRET)
    assert main(["plan", "--config-file", str(write(tmp_path, av_base())), "--quiet"]) == 0


@pytest.mark.parametrize(("case", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_refused_with_key_path_and_exit_2(tmp_path, capsys, case, mutate, expected):
    values = av_base()
    mutate(values)
    assert_refused(values, SECRET, write(tmp_path, values), expected, capsys)


@pytest.mark.parametrize(
    "mutate",
    [
        turn("tyo", admin_cidr="11.0.0.0/8", admin_cidr_min_prefix=8),
        turn("sg", eip_bandwidth_mbps=200),
        # AWS EIPs carry no bandwidth setting; the cap is for Alibaba's.
        turn("tyo", eip_bandwidth_mbps=1000),
        both(turn_pin("sg", "47.90.0.1", "eip-a", server=2), turn_pin("tyo", "47.90.0.2", "eip-b")),
        janus("172.16.0.1", "172.16.255.254"),
    ],
    ids=["wide admin range allowed deliberately", "alibaba 200", "aws any", "two pinned", "first and last host"],
)
def test_near_misses_are_accepted(mutate):
    values = av_base()
    mutate(values)
    parse_stack_config(values, SECRET)
