"""The TURN renderers: coturn config, user data, apply script, rules, URLs, client and Janus lines, estimate."""

from __future__ import annotations

import hashlib
import ipaddress
import stat
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.test_cloudinit import known_top_level_keys, schema_check
from wfga.model.av import AvConfig, Streams, TurnServers
from wfga.model.config import AccessPoint
from wfga.plan.turn import (
    APPLY_SCRIPT,
    LIMITS_DROP_IN,
    LIVE_CONF,
    PRIVATE_IP_TOKEN,
    STAGED_CONF,
    SYSCTL_FILE,
    TurnRule,
    TurnSpec,
    client_snippet,
    credential_key,
    janus_ingress,
    janus_lines,
    limit_nofile,
    link_estimate,
    media_outputs,
    render_turn_delivery,
    render_turn_user_data,
    render_turnserver_conf,
    turn_files,
    turn_ingress,
    turn_spec,
    turn_urls,
    turn_vms,
)

PASSWORD = "s3cret-Turn-pass"
SPEC = TurnSpec(
    realm="turn.example.com",
    user="wfchat",
    relay_ports=(49152, 65535),
    transports=("udp", "tcp"),
    tls=False,
    peers=("172.16.0.50", "172.16.0.51"),
)


def av_config(**turn: Any) -> AvConfig:
    return AvConfig.model_validate(
        {
            "janus": {"private_ips": ["172.16.0.50"]},
            "turn": {"realm": "turn.example.com", "user": "wfchat", **turn},
            "access_points": {"sg": {"instance_type": "ecs.c7.large", "count": 2}, "fra": {"instance_type": "x"}},
        }
    )


def settings(conf: str) -> list[tuple[str, str]]:
    """coturn's reading of a config: ``key=value`` or a bare flag, comments and blanks skipped."""
    out = []
    for line in conf.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        out.append((key, value))
    return out


def values_of(conf: str, key: str) -> list[str]:
    return [v for k, v in settings(conf) if k == key]


def test_the_default_config_reads_as_wildfire_describes() -> None:
    conf = render_turnserver_conf(SPEC, password=PASSWORD, private_ip="10.21.0.9")
    flags = {k for k, v in settings(conf) if not v}
    assert values_of(conf, "listening-ip") == ["10.21.0.9"]
    assert values_of(conf, "relay-ip") == ["10.21.0.9"]
    assert values_of(conf, "external-ip") == ["10.21.0.9"]
    assert values_of(conf, "listening-port") == ["3478"]
    assert values_of(conf, "min-port") == ["49152"] and values_of(conf, "max-port") == ["65535"]
    assert values_of(conf, "realm") == ["turn.example.com"]
    key = hashlib.md5(b"wfchat:turn.example.com:" + PASSWORD.encode()).hexdigest()
    assert values_of(conf, "user") == [f"wfchat:0x{key}"]
    assert values_of(conf, "allowed-peer-ip") == ["172.16.0.50", "172.16.0.51"]
    assert values_of(conf, "denied-peer-ip") == ["0.0.0.0-255.255.255.255"]
    assert values_of(conf, "user-quota") == ["0"]
    assert values_of(conf, "log-file") == ["syslog"]
    assert {"lt-cred-mech", "no-cli", "no-tls", "no-dtls", "no-tcp-relay", "no-multicast-peers"} <= flags
    assert not flags & {"no-udp", "no-tcp", "use-auth-secret", "verbose", "Verbose", "allow-loopback-peers"}
    assert "tls-listening-port" not in dict(settings(conf))


def test_tls_adds_5349_with_the_certificate_paths() -> None:
    spec = TurnSpec(**{**SPEC.__dict__, "tls": True})
    conf = render_turnserver_conf(spec, password=PASSWORD, private_ip="10.21.0.9")
    assert values_of(conf, "tls-listening-port") == ["5349"]
    assert values_of(conf, "cert") == ["/etc/wfga/turn/cert.pem"]
    assert values_of(conf, "pkey") == ["/etc/wfga/turn/privkey.pem"]
    assert "no-tls" not in dict(settings(conf))


def test_a_separate_external_ip_is_announced_instead() -> None:
    conf = render_turnserver_conf(SPEC, password=PASSWORD, private_ip="10.21.0.9", external_ip="10.21.0.77")
    assert values_of(conf, "relay-ip") == ["10.21.0.9"]
    assert values_of(conf, "external-ip") == ["10.21.0.77"]


@pytest.mark.parametrize(
    "bad",
    [
        {"realm": "a\nverbose"},
        {"user": "wf:chat"},
        {"user": ""},
        {"transports": ()},
        {"transports": ("sctp",)},
        {"relay_ports": (60000, 50000)},
        {"peers": ()},
    ],
)
def test_a_spec_that_would_break_the_config_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="cannot render a coturn config"):
        TurnSpec(**{**SPEC.__dict__, **bad})


ips = st.ip_addresses(v=4).map(str)
passwords = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=12, max_size=40)


@st.composite
def specs(draw: st.DrawFn) -> TurnSpec:
    low = draw(st.integers(1024, 65535))
    high = draw(st.integers(low, 65535))
    return TurnSpec(
        realm=draw(st.from_regex(r"[a-z][a-z0-9.-]{0,20}[a-z]", fullmatch=True)),
        user=draw(st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True)),
        relay_ports=(low, high),
        transports=draw(st.sampled_from([("udp",), ("tcp",), ("udp", "tcp")])),
        tls=draw(st.booleans()),
        peers=tuple(draw(st.lists(ips, min_size=1, max_size=4, unique=True))),
    )


@given(spec=specs(), private_ip=ips, password=passwords)
def test_config_properties(spec: TurnSpec, private_ip: str, password: str) -> None:
    conf = render_turnserver_conf(spec, password=password, private_ip=private_ip)
    assert conf == render_turnserver_conf(spec, password=password, private_ip=private_ip)
    read = settings(conf)
    keys = [k for k, _ in read]
    assert all(n == 1 for k, n in Counter(keys).items() if k != "allowed-peer-ip")
    for key in ("listening-ip", "relay-ip", "external-ip"):
        assert values_of(conf, key) == [private_ip]
    assert values_of(conf, "min-port") == [str(spec.relay_ports[0])]
    assert values_of(conf, "max-port") == [str(spec.relay_ports[1])]
    assert ("no-udp" in keys) == ("udp" not in spec.transports)
    assert ("no-tcp" in keys) == ("tcp" not in spec.transports)
    assert ("tls-listening-port" in keys) == spec.tls and ("no-tls" in keys) != spec.tls
    assert values_of(conf, "allowed-peer-ip") == list(spec.peers)
    # The credential: only its key, only on the user line; nothing turns on verbose logging or the CLI.
    key = credential_key(spec.user, spec.realm, password)
    assert values_of(conf, "user") == [f"{spec.user}:0x{key}"]
    # Not in the file beyond where it would be anyway (a password may equal a keyword such as
    # lt-cred-mech): compare with a password made of characters no drawn password has.
    unrelated = render_turnserver_conf(spec, password="\u3000" * 12, private_ip=private_ip)
    assert conf.count(password) == unrelated.count(password)
    assert [line for line in conf.splitlines() if key in line] == [f"user={spec.user}:0x{key}"]
    assert not {"verbose", "Verbose", "cli-password", "cli-ip", "web-admin"} & set(keys)
    assert "no-cli" in keys


def user_data(spec: TurnSpec = SPEC, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    text = render_turn_user_data(spec, password=PASSWORD, distro=kwargs.pop("distro", "debian"), **kwargs)
    return text, yaml.safe_load(text)


def files(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in data["write_files"]}


@pytest.mark.parametrize("distro", ["debian", "ubuntu"])
def test_cloud_init_accepts_the_user_data(tmp_path: Path, distro: str) -> None:
    text, data = user_data(distro=distro)
    result = schema_check(tmp_path, text)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout
    assert set(data) <= known_top_level_keys()
    assert data["packages"] == ["coturn"]
    assert data["runcmd"] == [[APPLY_SCRIPT]]


def test_the_user_data_stages_the_config_with_the_private_address_left_to_the_vm() -> None:
    text, data = user_data()
    written = files(data)
    staged = written[STAGED_CONF]
    assert staged["permissions"] == "0600"
    expected = render_turnserver_conf(SPEC, password=PASSWORD, private_ip="10.0.0.1").replace(
        "10.0.0.1", PRIVATE_IP_TOKEN
    )
    assert staged["content"] == expected
    assert PASSWORD not in text
    assert written[SYSCTL_FILE]["content"].endswith("net.ipv4.ip_local_reserved_ports = 49152-65535\n")
    assert written[LIMITS_DROP_IN]["content"] == f"[Service]\nLimitNOFILE={2 * 16384 + 1024}\n"
    assert limit_nofile(SPEC) == 2 * 16384 + 1024


def test_a_known_private_address_is_written_in() -> None:
    _, data = user_data(private_ip="10.21.0.9")
    staged = files(data)[STAGED_CONF]["content"]
    assert staged == render_turnserver_conf(SPEC, password=PASSWORD, private_ip="10.21.0.9")
    assert PRIVATE_IP_TOKEN not in staged


def test_distributions_without_coturn_are_refused() -> None:
    with pytest.raises(ValueError, match="coturn is packaged for debian and ubuntu"):
        render_turn_user_data(SPEC, password=PASSWORD, distro="alinux")  # type: ignore[arg-type]


FAKE = """#!/bin/sh
echo "${0##*/} $*" >> "$CALLS"
case "${0##*/} $1" in
  "ip -4") [ -n "$ROUTE" ] && echo "$ROUTE"; exit 0 ;;
  "systemctl is-active") exit "$ACTIVE" ;;
  install*) for last; do :; done; cp "$7" "$last" ;;
esac
exit 0
"""


def run_apply(
    tmp_path: Path,
    *,
    active: bool = True,
    live: str | None = None,
    route: str = "172.16.0.50 via 10.21.0.1 dev eth0 src 10.21.0.9 uid 0",
    spec: TurnSpec = SPEC,
) -> tuple[subprocess.CompletedProcess[str], list[str], Path]:
    """Run the shipped apply script with ip, systemctl and install replaced by recorders."""
    _, data = user_data(spec)
    written = files(data)
    staged = tmp_path / "staged.conf"
    staged.write_text(written[STAGED_CONF]["content"])
    live_path = tmp_path / "live.conf"
    if live is not None:
        live_path.write_text(live)
    script = tmp_path / "apply"
    script.write_text(
        written[APPLY_SCRIPT]["content"].replace(STAGED_CONF, str(staged)).replace(LIVE_CONF, str(live_path))
    )
    fakes = tmp_path / "bin"
    fakes.mkdir()
    for name in ("ip", "systemctl", "install"):
        fake = fakes / name
        fake.write_text(FAKE)
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "calls"
    env = {"PATH": f"{fakes}:/usr/bin:/bin", "CALLS": str(calls), "ACTIVE": "0" if active else "3", "ROUTE": route}
    result = subprocess.run(["/bin/sh", str(script)], env=env, capture_output=True, text=True, timeout=30, check=False)
    return result, calls.read_text().splitlines() if calls.exists() else [], live_path


def test_apply_installs_the_config_with_the_address_toward_janus_and_restarts(tmp_path: Path) -> None:
    result, calls, live = run_apply(tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls[0] == "ip -4 route get 172.16.0.50"
    assert live.read_text() == render_turnserver_conf(SPEC, password=PASSWORD, private_ip="10.21.0.9")
    install = next(c for c in calls if c.startswith("install"))
    assert install.startswith("install -m 0640 -o root -g turnserver ")
    assert calls[-2:] == ["systemctl enable coturn", "systemctl restart coturn"]


def test_apply_leaves_a_running_coturn_alone_when_nothing_changed(tmp_path: Path) -> None:
    same = render_turnserver_conf(SPEC, password=PASSWORD, private_ip="10.21.0.9")
    result, calls, _ = run_apply(tmp_path, live=same)
    assert result.returncode == 0, result.stderr
    assert not any(c.startswith(("install", "systemctl restart coturn")) for c in calls)


def test_apply_starts_a_stopped_coturn_even_when_nothing_changed(tmp_path: Path) -> None:
    same = render_turnserver_conf(SPEC, password=PASSWORD, private_ip="10.21.0.9")
    result, calls, _ = run_apply(tmp_path, live=same, active=False)
    assert result.returncode == 0, result.stderr
    assert calls[-1] == "systemctl restart coturn"


def test_apply_restarts_on_a_changed_config(tmp_path: Path) -> None:
    old = render_turnserver_conf(SPEC, password="an-old-password", private_ip="10.21.0.9")
    result, calls, live = run_apply(tmp_path, live=old)
    assert result.returncode == 0, result.stderr
    assert calls[-1] == "systemctl restart coturn"
    assert live.read_text() != old


def test_apply_refuses_without_a_route_to_janus(tmp_path: Path) -> None:
    result, calls, live = run_apply(tmp_path, route="")
    assert result.returncode == 1
    assert "no IPv4 route toward Janus 172.16.0.50" in result.stderr
    assert not live.exists()
    assert calls == ["ip -4 route get 172.16.0.50"]


def test_apply_warns_when_tls_has_no_certificate(tmp_path: Path) -> None:
    result, _, _ = run_apply(tmp_path, spec=TurnSpec(**{**SPEC.__dict__, "tls": True}))
    assert result.returncode == 0, result.stderr
    assert "TLS is on but /etc/wfga/turn/cert.pem" in result.stderr


def test_turn_vms_keep_their_zone_when_more_are_added() -> None:
    ap = AccessPoint.model_validate(
        {
            "name": "sg",
            "cloud": "alicloud",
            "region": "ap-southeast-1",
            "vpc_cidr": "10.21.0.0/16",
            "zones": ["ap-southeast-1a", "ap-southeast-1b"],
        }
    )
    pinned = [{"server": 2, "allocation_id": "eip-2", "address": "47.1.1.2"}]
    three = turn_vms(ap, TurnServers(instance_type="x", count=3, pinned_eips=pinned))
    assert [(vm.key, vm.zone) for vm in three] == [
        ("turn-1", "ap-southeast-1a"),
        ("turn-2", "ap-southeast-1b"),
        ("turn-3", "ap-southeast-1a"),
    ]
    assert [(vm.pinned_allocation_id, vm.pinned_address) for vm in three][1] == ("eip-2", "47.1.1.2")
    five = turn_vms(ap, TurnServers(instance_type="x", count=5))
    assert [(vm.key, vm.zone) for vm in five][:3] == [(vm.key, vm.zone) for vm in three]


def test_turn_ingress_opens_the_turn_port_to_all_and_the_relay_range_to_the_cluster_only() -> None:
    assert turn_ingress(av_config(), "172.16.0.0/16") == [
        TurnRule("turn-udp-3478", "udp", 3478, 3478, "0.0.0.0/0"),
        TurnRule("turn-tcp-3478", "tcp", 3478, 3478, "0.0.0.0/0"),
        TurnRule("relay-udp-49152", "udp", 49152, 65535, "172.16.0.0/16"),
    ]
    rules = turn_ingress(av_config(tls=True, transports="udp"), "172.16.0.0/16", "203.0.113.0/24")
    assert [(r.protocol, r.first_port, r.cidr) for r in rules] == [
        ("udp", 3478, "0.0.0.0/0"),
        ("tcp", 5349, "0.0.0.0/0"),
        ("udp", 49152, "172.16.0.0/16"),
        ("tcp", 22, "203.0.113.0/24"),
    ]


def test_janus_ingress_is_the_rtp_range_from_the_access_point() -> None:
    assert janus_ingress(av_config().janus, "sg", "10.21.0.0/16") == TurnRule(
        "rtp-sg-20000", "udp", 20000, 40000, "10.21.0.0/16"
    )


def test_urls_and_client_lines() -> None:
    assert turn_urls("47.1.1.1", av_config()) == [
        "turn:47.1.1.1:3478?transport=udp",
        "turn:47.1.1.1:3478?transport=tcp",
    ]
    assert turn_urls("47.1.1.1", av_config(transports="tcp", tls=True)) == [
        "turn:47.1.1.1:3478?transport=tcp",
        "turns:47.1.1.1:5349?transport=tcp",
    ]
    with pytest.raises(ValueError):
        turn_urls("turn.example.com", av_config())
    snippet = client_snippet("sg", ["turn:47.1.1.1:3478?transport=udp"], "wfchat")
    call = 'AVEngineKit.Instance().addIceServer("turn:47.1.1.1:3478?transport=udp", "wfchat", TURN_PASSWORD);'
    assert call in snippet.splitlines()


def test_janus_lines() -> None:
    text = janus_lines(av_config().janus)
    assert "\tkeep_private_host = true\n" in text
    assert '\trtp_port_range = "20000-40000"\n' in text


def wildfire(big: int, small: int, n: int, m: int) -> tuple[int, int]:
    """The blog's formula as written: N users via the access point, M connected directly."""
    return n * (big + small), n * (big + (m - 1) * small)


@given(
    big=st.integers(1, 5000),
    small=st.integers(1, 500),
    direct=st.integers(1, 200),
    via=st.integers(1, 200),
)
def test_the_estimate_is_wildfires_formula_for_one_user_and_never_below_it(
    big: int, small: int, direct: int, via: int
) -> None:
    streams = Streams(big_kbps=big, small_kbps=small)
    one = link_estimate(streams, participants=direct + 1, via_access_point=1)
    assert (one.to_cluster_kbps, one.from_cluster_kbps) == wildfire(big, small, 1, direct)
    many = link_estimate(streams, participants=direct + via, via_access_point=via)
    up, down = wildfire(big, small, via, direct)
    assert many.to_cluster_kbps == up
    assert many.from_cluster_kbps == down + via * (via - 1) * small


def test_the_estimate_of_wf_janus_example_and_without_dual_stream() -> None:
    # wf-janus's nine-person example in dual-stream mode: 100 KB/s + 7 x 10 KB/s received per user.
    est = link_estimate(Streams(), participants=9, via_access_point=1)
    assert (est.to_cluster_kbps, est.from_cluster_kbps) == (880, 800 + 7 * 80)
    assert est.calls_within(100) == 100_000 // 1360
    single = link_estimate(Streams(dual_stream=False), participants=9, via_access_point=2)
    assert (single.to_cluster_kbps, single.from_cluster_kbps) == (1600, 2 * 8 * 800)
    with pytest.raises(ValueError):
        link_estimate(Streams(), participants=2, via_access_point=3)


def test_media_outputs_per_access_point() -> None:
    out = media_outputs(av_config(), {"sg": ["47.1.1.1", "47.1.1.2"], "fra": ["8.1.1.1"]}, {"sg": 100, "fra": 50})
    assert list(out) == ["fra", "sg"]
    assert out["sg"]["urls"] == [
        "turn:47.1.1.1:3478?transport=udp",
        "turn:47.1.1.1:3478?transport=tcp",
        "turn:47.1.1.2:3478?transport=udp",
        "turn:47.1.1.2:3478?transport=tcp",
    ]
    assert out["sg"]["client"].count("addIceServer") == 4
    assert out["sg"]["link_kbps_per_call"]["to_cluster"] == 880
    assert out["fra"]["calls_within_link"] == 50_000 // 1360
    assert PASSWORD not in repr(out)


def test_turn_spec_of_a_config() -> None:
    spec = turn_spec(av_config(transports="udp"))
    assert spec.transports == ("udp",) and spec.peers == ("172.16.0.50",)
    assert spec.relay_ports == (49152, 65535)
    assert all(ipaddress.IPv4Address(p) for p in spec.peers)


def test_the_delivery_ships_the_user_datas_files_and_changes_with_the_password() -> None:
    delivery = render_turn_delivery(SPEC, password=PASSWORD)
    files = turn_files(SPEC, password=PASSWORD)
    data = yaml.safe_load(render_turn_user_data(SPEC, password=PASSWORD, distro="debian"))
    assert [(f.path, f.permissions, f.content) for f in files] == [
        (f["path"], f["permissions"], f["content"]) for f in data["write_files"]
    ]
    lines = delivery.script.splitlines()
    # The staged config (it holds the key) is written with nothing readable by others, even briefly.
    staged_at = next(i for i, line in enumerate(lines) if f"{STAGED_CONF}.wfga-new" in line)
    assert "umask 077" in lines[staged_at - 3 : staged_at]
    assert lines[-2:] == [f'"$root{APPLY_SCRIPT}"', f'echo "wfga: coturn config {delivery.key} is live"']
    assert PASSWORD not in delivery.script
    assert render_turn_delivery(SPEC, password=PASSWORD + "x").key != delivery.key
    assert render_turn_delivery(SPEC, password=PASSWORD).key == delivery.key
