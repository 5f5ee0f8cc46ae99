"""wfga:av and wfga:turn_password: defaults, every mistake named by its key path, the secret never echoed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfga.model.av import (
    AV_KEYS,
    MIN_RELAY_PORTS,
    TURN_PORT,
    TURN_TLS_PORT,
    AvConfig,
    AvSettings,
    Turn,
    check_av_against_stack,
    parse_av_config,
)
from wfga.model.config import ConfigError, StackConfig, parse_stack_config

Values = dict[str, Any]
SECRET = frozenset({"wfga:turn_password"})
PASSWORD = "correct-horse-battery-staple"


def values() -> Values:
    return {
        "wfga:av": {
            "janus": {"private_ips": ["172.16.0.50", "172.16.0.51"]},
            "turn": {"realm": "turn.example.com", "user": "wfchat"},
            "access_points": {"sg": {"instance_type": "ecs.c7.large"}, "fra": {"instance_type": "c7i.large"}},
        },
        "wfga:turn_password": PASSWORD,
        "wfga:cluster": {"ignored": "other keys are not this parser's business"},
    }


def av(v: Values) -> Values:
    a: Values = v["wfga:av"]
    return a


def problems(v: Values, secret: frozenset[str] = SECRET) -> str:
    with pytest.raises(ConfigError) as err:
        parse_av_config(v, secret)
    return str(err.value)


def test_the_keys_are_exactly_the_settings_fields():
    assert set(AV_KEYS) == set(AvSettings.model_fields)


def test_defaults_follow_wildfire():
    cfg = parse_av_config(values(), SECRET)
    assert cfg.enabled and cfg.av is not None
    assert (cfg.av.turn.relay_ports.min, cfg.av.turn.relay_ports.max) == (49152, 65535)
    assert (cfg.av.janus.rtp_ports.min, cfg.av.janus.rtp_ports.max) == (20000, 40000)
    assert cfg.av.turn.client_transports == ("udp", "tcp")
    assert cfg.av.turn.listening_ports == (TURN_PORT,)
    assert cfg.av.access_points["sg"].count == 1
    assert cfg.av.access_points["sg"].distro == "debian"
    assert (cfg.av.streams.big_kbps, cfg.av.streams.small_kbps) == (800, 80)
    assert cfg.password() == PASSWORD
    assert PASSWORD not in repr(cfg)


def test_absent_means_off_and_needs_no_password():
    cfg = parse_av_config({"wfga:cluster": {}}, SECRET)
    assert not cfg.enabled and cfg.av is None
    cfg = parse_av_config({"wfga:av": None}, SECRET)
    assert not cfg.enabled


def test_enabled_false_keeps_the_block_but_turns_it_off():
    v = values()
    av(v)["enabled"] = False
    del v["wfga:turn_password"]
    cfg = parse_av_config(v, SECRET)
    assert not cfg.enabled and cfg.av is not None


def test_a_plain_text_password_is_refused_without_being_echoed():
    message = problems(values(), frozenset())
    assert "wfga:turn_password: stored as plain text" in message
    assert "pulumi config set --secret turn_password" in message
    assert PASSWORD not in message


def test_a_plain_text_password_is_refused_even_when_av_is_off():
    v = values()
    del v["wfga:av"]
    assert "wfga:turn_password: stored as plain text" in problems(v, frozenset())


def test_the_password_is_required_when_on():
    v = values()
    del v["wfga:turn_password"]
    assert "wfga:turn_password: required when wfga:av is on" in problems(v)


def test_an_empty_password_is_refused():
    v = values()
    v["wfga:turn_password"] = ""
    assert "wfga:turn_password: empty" in problems(v)


def test_a_wrongly_typed_password_is_named_without_its_value():
    v = values()
    v["wfga:turn_password"] = 123456789
    message = problems(v)
    assert "wfga:turn_password:" in message
    assert "123456789" not in message


CASES: list[tuple[str, Callable[[Values], None], str]] = [
    ("misspelt key", lambda v: av(v).update(jamus={}), "wfga:av.jamus: unknown key"),
    ("missing janus", lambda v: av(v).pop("janus"), "wfga:av.janus: required key is missing"),
    (
        "no janus address",
        lambda v: av(v)["janus"].update(private_ips=[]),
        "wfga:av.janus.private_ips: List should have at least 1 item",
    ),
    (
        "janus address twice",
        lambda v: av(v)["janus"].update(private_ips=["172.16.0.50", "172.16.0.50"]),
        "wfga:av.janus.private_ips: an address is listed twice",
    ),
    (
        "janus hostname",
        lambda v: av(v)["janus"].update(private_ips=["janus.internal"]),
        "wfga:av.janus.private_ips[0]: Input is not a valid IPv4 address",
    ),
    (
        "rtp range too small",
        lambda v: av(v)["janus"].update(rtp_ports={"min": 20000, "max": 20999}),
        "wfga:av.janus.rtp_ports: 20000..20999 has 1000 ports; WildFire asks for at least 5000",
    ),
    (
        "rtp range reversed",
        lambda v: av(v)["janus"].update(rtp_ports={"min": 40000, "max": 20000}),
        "wfga:av.janus.rtp_ports.min: 40000 is above max 20000",
    ),
    (
        "relay range below 1024",
        lambda v: av(v)["turn"].update(relay_ports={"min": 500, "max": 20000}),
        "wfga:av.turn.relay_ports.min: 500 is a privileged port",
    ),
    (
        "relay port above 65535",
        lambda v: av(v)["turn"].update(relay_ports={"min": 50000, "max": 70000}),
        "wfga:av.turn.relay_ports.max: Input should be less than or equal to 65535",
    ),
    (
        "relay range too small",
        lambda v: av(v)["turn"].update(relay_ports={"min": 60000, "max": 65535}),
        "wfga:av.turn.relay_ports: 60000..65535 has 5536 ports; WildFire asks for at least 10000",
    ),
    (
        "relay range over 3478",
        lambda v: av(v)["turn"].update(relay_ports={"min": 2000, "max": 30000}),
        "wfga:av.turn.relay_ports: 2000..30000 contains 3478, where the TURN server listens",
    ),
    (
        "relay range over 5349 with tls",
        lambda v: av(v)["turn"].update(tls=True, relay_ports={"min": 4000, "max": 30000}),
        "wfga:av.turn.relay_ports: 4000..30000 contains 5349",
    ),
    (
        "user with a colon",
        lambda v: av(v)["turn"].update(user="wf:chat"),
        "wfga:av.turn.user: String should match pattern",
    ),
    (
        "realm with a space",
        lambda v: av(v)["turn"].update(realm="my realm"),
        "wfga:av.turn.realm: String should match pattern",
    ),
    (
        "unknown transport",
        lambda v: av(v)["turn"].update(transports="sctp"),
        "wfga:av.turn.transports: Input should be 'udp', 'tcp' or 'both' (got 'sctp')",
    ),
    ("no access point", lambda v: av(v).update(access_points={}), "wfga:av.access_points: Dictionary should have"),
    (
        "access point name not a name",
        lambda v: av(v)["access_points"].update({"Bad_Name": {"instance_type": "x"}}),
        "wfga:av.access_points.Bad_Name.[key]: 'Bad_Name' is not a name",
    ),
    (
        "no instance type",
        lambda v: av(v)["access_points"]["sg"].pop("instance_type"),
        "wfga:av.access_points.sg.instance_type: required key is missing",
    ),
    (
        "zero servers",
        lambda v: av(v)["access_points"]["sg"].update(count=0),
        "wfga:av.access_points.sg.count: Input should be greater than or equal to 1",
    ),
    (
        "distribution without coturn",
        lambda v: av(v)["access_points"]["sg"].update(distro="alinux"),
        "wfga:av.access_points.sg.distro: Input should be 'debian' or 'ubuntu' (got 'alinux')",
    ),
    (
        "admin cidr with host bits",
        lambda v: av(v)["access_points"]["sg"].update(admin_cidr="203.0.113.7/24"),
        "wfga:av.access_points.sg.admin_cidr: '203.0.113.7/24' is not an IPv4 network",
    ),
    (
        "pinned eip of a server that does not exist",
        lambda v: av(v)["access_points"]["sg"].update(
            count=2, pinned_eips=[{"server": 3, "allocation_id": "eip-1", "address": "47.1.1.1"}]
        ),
        "wfga:av.access_points.sg.pinned_eips[0].server: there is no turn-3 with count 2",
    ),
    (
        "server pinned twice",
        lambda v: av(v)["access_points"]["sg"].update(
            count=2,
            pinned_eips=[
                {"server": 1, "allocation_id": "eip-1", "address": "47.1.1.1"},
                {"server": 1, "allocation_id": "eip-2", "address": "47.1.1.2"},
            ],
        ),
        "wfga:av.access_points.sg.pinned_eips[1].server: turn-1 is pinned twice",
    ),
    (
        "address pinned twice",
        lambda v: av(v)["access_points"]["sg"].update(
            count=2,
            pinned_eips=[
                {"server": 1, "allocation_id": "eip-1", "address": "47.1.1.1"},
                {"server": 2, "allocation_id": "eip-2", "address": "47.1.1.1"},
            ],
        ),
        "wfga:av.access_points.sg.pinned_eips[1].address: 47.1.1.1 is pinned twice",
    ),
    (
        "estimate with more via the access point than in the call",
        lambda v: av(v).update(estimate={"participants": 3, "via_access_point": 4}),
        "wfga:av.estimate.via_access_point: 4 is more than the 3 participants",
    ),
    (
        "a one-person call",
        lambda v: av(v).update(estimate={"participants": 1}),
        "wfga:av.estimate.participants: Input should be greater than or equal to 2",
    ),
    ("zero bit rate", lambda v: av(v).update(streams={"big_kbps": 0}), "wfga:av.streams.big_kbps: Input should be"),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_mistakes_are_named_by_key_path(mutate: Callable[[Values], None], expected: str) -> None:
    v = values()
    mutate(v)
    message = problems(v)
    assert expected in message
    assert PASSWORD not in message


@given(
    low=st.integers(min_value=1, max_value=65535),
    size=st.integers(min_value=1, max_value=65535),
    tls=st.booleans(),
)
def test_relay_range_rules(low: int, size: int, tls: bool) -> None:
    high = low + size - 1
    ok = high <= 65535 and low >= 1024 and size >= MIN_RELAY_PORTS and not low <= TURN_PORT <= high
    ok = ok and not (tls and low <= TURN_TLS_PORT <= high)
    raw = {"realm": "r", "user": "u", "relay_ports": {"min": low, "max": high}, "tls": tls}
    try:
        turn = Turn.model_validate(raw)
    except ValueError:
        assert not ok
        return
    assert ok
    assert turn.relay_ports.size == size
    assert all(port not in turn.relay_ports for port in turn.listening_ports)


def stack() -> StackConfig:
    access_point = {"cloud": "alicloud", "kind": "nlb", "link": "cen"}
    return parse_stack_config(
        {
            "wfga:cluster": {
                "name": "main",
                "cloud": "alicloud",
                "region": "cn-hangzhou",
                "vpc_id": "vpc-main",
                "cidr": "172.16.0.0/16",
                "route_table_ids": ["vtb-main"],
                "attach_vswitches": {"cn-hangzhou-h": "vsw-h", "cn-hangzhou-i": "vsw-i"},
                "nodes": [{"name": "im-1", "slot": 1, "private_ip": "172.16.0.11"}],
            },
            "wfga:access_points": [
                {
                    **access_point,
                    "name": "sg",
                    "region": "ap-southeast-1",
                    "vpc_cidr": "10.21.0.0/16",
                    "zones": ["ap-southeast-1a", "ap-southeast-1b"],
                },
                {
                    **access_point,
                    "name": "fra",
                    "region": "eu-central-1",
                    "vpc_cidr": "10.22.0.0/16",
                    "zones": ["eu-central-1a", "eu-central-1b"],
                },
            ],
        }
    )


def av_config(v: Values) -> AvConfig:
    cfg = parse_av_config(v, SECRET).av
    assert cfg is not None
    return cfg


def test_a_consistent_stack_has_no_cross_problems():
    assert check_av_against_stack(av_config(values()), stack()) == []


CROSS: list[tuple[str, Callable[[Values], None], list[str]]] = [
    (
        "unknown access point",
        lambda v: av(v)["access_points"].update({"tokyo": {"instance_type": "x"}}),
        ["wfga:av.access_points.tokyo: no access point tokyo in wfga:access_points (fra, sg)"],
    ),
    (
        "janus outside the cluster",
        lambda v: av(v)["janus"].update(private_ips=["172.16.0.50", "10.99.0.5"]),
        ["wfga:av.janus.private_ips[1]: 10.99.0.5 is outside the cluster cidr 172.16.0.0/16"],
    ),
    (
        "ssh from the cluster",
        lambda v: av(v)["access_points"]["sg"].update(admin_cidr="172.16.8.0/24"),
        ["wfga:av.access_points.sg.admin_cidr: 172.16.8.0/24 overlaps the cluster cidr 172.16.0.0/16"],
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CROSS], ids=[c[0] for c in CROSS])
def test_cross_checks_name_the_key_path(mutate: Callable[[Values], None], expected: list[str]) -> None:
    v = copy.deepcopy(values())
    mutate(v)
    found = check_av_against_stack(av_config(v), stack())
    assert [p.split(";")[0] for p in found] == expected


def stack_values_with_av() -> Values:
    base = {k: v for k, v in values().items() if k != "wfga:cluster"}
    whole = stack()
    return {
        **base,
        "wfga:cluster": whole.cluster.model_dump(mode="json", exclude_defaults=True),
        "wfga:access_points": [ap.model_dump(mode="json", exclude_defaults=True) for ap in whole.access_points],
    }


def test_the_stack_parser_reads_audio_video_in_its_one_round():
    cfg = parse_stack_config(stack_values_with_av(), SECRET)
    assert cfg.audio_video is not None and cfg.audio_video == cfg.av
    assert cfg.turn_password is not None and cfg.turn_password.get_secret_value() == PASSWORD
    off = stack_values_with_av()
    off["wfga:av"]["enabled"] = False
    del off["wfga:turn_password"]
    assert parse_stack_config(off, frozenset()).audio_video is None


def test_audio_video_problems_come_with_the_others_in_one_round():
    v = stack_values_with_av()
    v["wfga:access_points"][0]["zones"] = ["nowhere-1a"]  # sg is invalid: its own problem only
    v["wfga:access_points"][1]["vpc_cidr"] = "10.21.0.0/16"  # fra overlaps sg
    v["wfga:av"]["janus"]["private_ips"] = ["10.99.0.5"]
    v["wfga:av"]["turn"]["relm"] = "typo"
    v["wfga:turn_password"] = PASSWORD
    with pytest.raises(ConfigError) as err:
        parse_stack_config(v, frozenset())
    found = str(err.value)
    assert "wfga:access_points[0] (sg).zones" in found
    assert "wfga:av.turn.relm: unknown key" in found
    assert "wfga:turn_password: stored as plain text" in found and PASSWORD not in found
    # The schema error in wfga:av hides its cross checks, not the others' problems.
    assert "no access point sg" not in found
    v["wfga:av"]["turn"].pop("relm")
    with pytest.raises(ConfigError) as err:
        parse_stack_config(v, SECRET)
    found = str(err.value)
    assert "wfga:av.janus.private_ips[0]: 10.99.0.5 is outside the cluster cidr" in found
    assert "wfga:access_points[0] (sg).zones" in found
    assert "no access point sg" not in found  # sg exists, invalid: reported once, for its own problem


def test_a_stack_model_built_in_code_checks_audio_video_too():
    whole = stack()
    av = av_config(values())
    with pytest.raises(ValueError, match="wfga:turn_password: required when wfga:av is on"):
        StackConfig(cluster=whole.cluster, access_points=whole.access_points, av=av)
    built = StackConfig(cluster=whole.cluster, access_points=whole.access_points, av=av, turn_password=PASSWORD)
    assert built.audio_video == av
