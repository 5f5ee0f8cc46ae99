"""Fuzzing the stack file: whatever a stack file holds, the plan exits 0 with every backup entry
joined to its node, or exits 2 with each problem located (key path, or file line); never a
traceback, never a hang.

Strategies build stack files from the schema (a cluster, access points of every cloud, kind and
link, the edge keys, audio/video's ``wfga:av`` over those access points), then mutate them: values
of another type, numbers at and past their bounds, deleted keys, unicode and whitespace in strings,
special addresses, duplicated list items, the Pulumi.yaml ``value:`` form, and YAML features
written into the text (tags, anchors and aliases, duplicate keys, deep nesting, other encodings,
truncation).

Most examples run the pure path in-process (load, parse, core stack, port plan, outputs, the
edge planners and the TURN planners); a few run the whole offline plan through the CLI.  The run counts the examples and
the distinct failures, so the long run (``WFGA_FUZZ=long``) can report figures for
docs/hostile-input.md.  ``WFGA_FUZZ_EXAMPLES`` and ``WFGA_FUZZ_PLANS`` override the counts.
"""

from __future__ import annotations

import contextlib
import copy
import io
import ipaddress
import json
import os
import re
import signal
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import PROJECT, stack_values
from wfga.cli import main
from wfga.model.av import AvConfig
from wfga.model.config import EDGE_KEYS, SERVICES, ConfigError, StackConfig, load_balancer_number, parse_stack_config
from wfga.offline.stackfile import SECRET_PLACEHOLDER, core_stack_problems, load_stack
from wfga.plan import edge as edge_plan
from wfga.plan import turn
from wfga.plan.outputs import node_outputs
from wfga.plan.portplan import AccessPointPlan, backup_entries, plan_stack, port_map_rows

LONG = os.environ.get("WFGA_FUZZ") == "long"
EXAMPLES = int(os.environ.get("WFGA_FUZZ_EXAMPLES", "20000" if LONG else "250"))
FULL_PLANS = int(os.environ.get("WFGA_FUZZ_PLANS", "30" if LONG else "3"))
EXAMPLE_TIMEOUT_S = 10.0
PLAN_TIMEOUT_S = 120.0

Values = dict[str, Any]

REGIONS = {
    "alicloud": ["cn-hangzhou", "ap-southeast-1", "eu-central-1", "us-west-1", "ap-northeast-1", "cn-hongkong"],
    "aws": ["us-east-1", "eu-central-1", "ap-northeast-1", "us-west-2"],
}
NODE_NAMES = ["im-1", "im-2", "im-3", "im-ab", "ab", "node-9", "x1", "im-10", "im"]
AP_NAMES = ["sg", "sg-im", "fra", "tyo", "va", "sg-2", "im", "ab-sg"]
DISTROS = {"alicloud": ["debian", "ubuntu", "alinux"], "aws": ["debian", "ubuntu", "amazon-linux"]}
PORT_BASES = [None, {"short": 10000, "long": 20000, "ws": 30000}, {"short": 2000, "long": 3000, "ws": 4000}]
SPECIAL_VALUES: list[Any] = [
    "0.0.0.0",
    "255.255.255.255",
    "127.0.0.1",
    "169.254.169.254",
    "224.0.0.1",
    "10.0.0.1",
    "100.64.0.1",
    "0.0.0.0/0",
    "10.0.0.0/8",
    "1.2.3.4/33",
    "01.02.03.04",
    "::1",
    "fd00::1",
    "",
    " ",
    "\n",
    "null",
    "~",
    "yes",
    "no",
    "1e309",
    "NaN",
    "-0",
    0,
    -1,
    1,
    22,
    65535,
    65536,
    2**31,
    2**63,
    10**30,
    0.5,
    -1e308,
    True,
    False,
    None,
    [],
    {},
    [None],
    {"": None},
    {"value": "x"},
    {"secure": "v1:x"},
]
SPECIAL_ADDRESSES = [
    "0.0.0.0",
    "255.255.255.255",
    "127.0.0.1",
    "169.254.169.254",
    "224.0.0.1",
    "240.0.0.1",
    "10.0.0.1",
    "172.16.0.0",
    "192.168.255.255",
    "100.64.0.1",
    "192.0.2.1",
    "198.51.100.7",
    "47.74.0.9",
    "47.90.0.1",
]
SPECIAL_NETWORKS = [
    "0.0.0.0/0",
    "0.0.0.0/1",
    "1.0.0.0/8",
    "10.0.0.0/8",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "100.64.0.0/10",
    "172.16.0.0/12",
    "192.168.0.0/30",
    "203.0.113.0/32",
]
# Zero-width space, accents, a fullwidth I, right-to-left override, emoji, dotted I, an Arabic-Indic
# one, BOM, NUL, DEL, line separator, sharp s: each has broken a parser somewhere.
UNICODE = [
    "\u200b",
    "\u00e9",
    "\uff29",
    "\u202e",
    "\U0001f680",
    "\u0130",
    "\u0661",
    "\ufeff",
    "\x00",
    "\x7f",
    "\u2028",
    "\u00df",
]


def zone(region: str, letter: str) -> str:
    return region + ("" if region[-1].isdigit() else "-") + letter


@st.composite
def clusters(draw: st.DrawFn) -> Values:
    cloud = draw(st.sampled_from(["alicloud", "aws"]))
    region = draw(st.sampled_from(REGIONS[cloud]))
    net = draw(st.sampled_from(["172.16.0.0/16", "192.168.0.0/20", "10.0.0.0/16"]))
    prefix = net.rsplit(".", 2)[0]
    count = draw(st.integers(1, 6))
    names = draw(st.lists(st.sampled_from(NODE_NAMES), min_size=count, max_size=count, unique=True))
    slots = draw(st.lists(st.integers(1, 40), min_size=count, max_size=count, unique=True))
    hosts = draw(st.lists(st.integers(10, 250), min_size=count, max_size=count, unique=True))
    cluster: Values = {
        "name": draw(st.sampled_from(["hz", "use1", "c1"])),
        "cloud": cloud,
        "region": region,
        "vpc_id": "vpc-cluster0001",
        "cidr": net,
        "route_table_ids": draw(st.sampled_from([["rt-1"], ["rt-1", "rt-2"]])),
        "nodes": [
            {"name": n, "slot": s, "private_ip": f"{prefix}.0.{h}"} for n, s, h in zip(names, slots, hosts, strict=True)
        ],
    }
    if cloud == "alicloud":
        cluster["attach_vswitches"] = {zone(region, "h"): "vsw-h", zone(region, "i"): "vsw-i"}
    if draw(st.booleans()):
        cluster["security_group_id"] = "sg-cluster"
    if draw(st.booleans()):
        cluster["web_clients"] = draw(st.booleans())
    return cluster


@st.composite
def access_points(draw: st.DrawFn, cluster: Values) -> list[Values]:
    count = draw(st.integers(0, 3))
    names = draw(st.lists(st.sampled_from(AP_NAMES), min_size=count, max_size=count, unique=True))
    used_regions: set[tuple[str, str]] = set()
    points = []
    listeners = 3 if cluster.get("web_clients", True) else 2
    for i, name in enumerate(names):
        cloud = draw(st.sampled_from(["alicloud", "aws"]))
        free = [r for r in REGIONS[cloud] if r != cluster["region"] and (cloud, r) not in used_regions]
        if not free:
            continue
        region = draw(st.sampled_from(free))
        used_regions.add((cloud, region))
        kind = draw(st.sampled_from(["nlb", "vm"]))
        native = {"alicloud": "cen", "aws": "vpc-peering"}[cloud]
        link = draw(st.sampled_from([native, "existing"])) if cloud == cluster["cloud"] else "existing"
        low = 2 if (kind == "nlb" and cloud == "alicloud") or link == "cen" else 1
        letters = draw(st.lists(st.sampled_from("abc"), min_size=low, max_size=3, unique=True))
        zones = [zone(region, letter) for letter in letters]
        ap: Values = {
            "name": name,
            "cloud": cloud,
            "region": region,
            "kind": kind,
            "link": link,
            "vpc_cidr": f"10.{21 + i}.0.0/16",
            "zones": zones,
        }
        if link == "existing":
            ap["vpc_id"] = f"vpc-{name}"
            ap["vswitches" if cloud == "alicloud" else "subnets"] = {z: f"sub-{z}" for z in zones}
            ap["route_table_id"] = f"rt-{name}"
        base = draw(st.sampled_from(PORT_BASES))
        if base is not None:
            ap["port_base"] = base
        if kind == "vm":
            ap["vm"] = {
                "instance_type": "ecs.c7.large" if cloud == "alicloud" else "c7i.large",
                "count": draw(st.integers(1, 3)),
                "distro": draw(st.sampled_from(DISTROS[cloud])),
            }
            if draw(st.booleans()):
                ap["vm"]["admin_cidr"] = "203.0.113.0/24"
            ap["idle_timeout_s"] = draw(st.integers(600, 86400))
        else:
            high = 900 if cloud == "alicloud" else 6000
            ap["idle_timeout_s"] = draw(st.integers(600, high))
            ap["listener_quota"] = draw(st.sampled_from([6, 9, 50]))
        if draw(st.integers(0, 3)) == 0:
            if kind == "vm":
                number, where = 1, zones[0]
            else:
                first = min(node["slot"] for node in cluster["nodes"])
                number, where = load_balancer_number(first, ap["listener_quota"], listeners), zones[0]
            ap["pinned_eips"] = [
                {"load_balancer": number, "zone": where, "allocation_id": f"eip-{name}", "address": f"47.74.{i}.9"}
            ]
        points.append(ap)
    return points


# Audio/video (wfga:av): values the schema allows, to be mutated like the rest.
REALMS = ["turn.example.com", "t.example.org", "turn-1.im.example.net", "im"]
TURN_USERS = ["wfchat", "im.user", "a_b-1", "u"]
RELAY_PORTS = [None, {"min": 49152, "max": 65535}, {"min": 30000, "max": 45000}, {"min": 10000, "max": 19999}]
RTP_PORTS = [None, {"min": 20000, "max": 40000}, {"min": 10000, "max": 15000}]
TURN_TYPES = {"alicloud": "ecs.c7.large", "aws": "c7i.large"}
TURN_SECRET = {"secure": "v1:fuzz-turn-password"}


@st.composite
def av_settings(draw: st.DrawFn, cluster: Values, points: list[Values]) -> Values:
    """``wfga:av`` and ``wfga:turn_password`` over the generated cluster and access points."""
    net = ipaddress.IPv4Network(cluster["cidr"])
    # Above the nodes' addresses (.0.10-.0.250) and inside the smallest generated network (/20).
    offsets = draw(st.lists(st.integers(300, 4000), min_size=1, max_size=3, unique=True))
    janus: Values = {"private_ips": [str(net.network_address + offset) for offset in offsets]}
    rtp = draw(st.sampled_from(RTP_PORTS))
    if rtp is not None:
        janus["rtp_ports"] = dict(rtp)
    turn_keys: Values = {"realm": draw(st.sampled_from(REALMS)), "user": draw(st.sampled_from(TURN_USERS))}
    relay = draw(st.sampled_from(RELAY_PORTS))
    if relay is not None:
        turn_keys["relay_ports"] = dict(relay)
    if draw(st.booleans()):
        turn_keys["transports"] = draw(st.sampled_from(["udp", "tcp", "both"]))
    if draw(st.booleans()):
        turn_keys["tls"] = draw(st.booleans())
    names = [p["name"] for p in points]
    # Mostly access points of this stack; now and then one it does not have.
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, unique=True)) if names else []
    if not chosen or draw(st.sampled_from(range(10))) == 0:
        chosen.append(draw(st.sampled_from(AP_NAMES)))
    clouds = {p["name"]: p["cloud"] for p in points}
    servers: Values = {}
    for i, name in enumerate(chosen):
        entry: Values = {"instance_type": TURN_TYPES[clouds.get(name, "aws")]}
        count = draw(st.integers(1, 3))
        if count > 1 or draw(st.booleans()):
            entry["count"] = count
        if draw(st.booleans()):
            entry["distro"] = draw(st.sampled_from(["debian", "ubuntu"]))
        if draw(st.integers(0, 3)) == 0:
            entry["image_id"] = f"img-turn-{name}"
        if draw(st.integers(0, 2)) == 0:
            entry["admin_cidr"] = draw(st.sampled_from(["198.51.100.0/24", "203.0.113.64/26"]))
        if draw(st.integers(0, 2)) == 0:
            entry["eip_bandwidth_mbps"] = draw(st.sampled_from([1, 100, 200]))
        if draw(st.integers(0, 2)) == 0:
            entry["pinned_eips"] = [
                {"server": n, "allocation_id": f"eip-turn-{name}-{n}", "address": f"47.90.{i}.{n}"}
                for n in range(1, count + 1)
                if n == 1 or draw(st.booleans())
            ]
        servers[name] = entry
    av: Values = {"janus": janus, "turn": turn_keys, "access_points": servers}
    if draw(st.integers(0, 3)) == 0:
        av["enabled"] = draw(st.booleans())
    if draw(st.booleans()):
        av["streams"] = {
            "big_kbps": draw(st.sampled_from([100, 800, 2000])),
            "small_kbps": draw(st.sampled_from([10, 80])),
            "dual_stream": draw(st.booleans()),
        }
    if draw(st.booleans()):
        participants = draw(st.integers(2, 50))
        av["estimate"] = {"participants": participants, "via_access_point": draw(st.integers(1, participants))}
    values: Values = {"wfga:av": av}
    # Mostly encrypted, as it must be; sometimes in plain text, which the parser refuses.
    if draw(st.sampled_from(range(10))):
        values["wfga:turn_password"] = dict(TURN_SECRET)
    elif draw(st.booleans()):
        values["wfga:turn_password"] = "fuzz-plain-password"
    return values


EDGE = {k: v for k, v in stack_values("edge-demo").items() if k.split(":", 1)[1] in EDGE_KEYS}


SHIPPED = ["demo", "sg", "core", "aws-demo", "edge-demo", "mixed-demo", "vm-demo", "av-demo"]
CORE_STACKS = ["organization/wfga/core", "organization/wfga/sg", "organization/wfga/coer", "organization/x/core"]


@st.composite
def configs(draw: st.DrawFn) -> Values:
    base = draw(st.integers(0, 9))
    if base == 0:
        # A fixture stack as a whole (audio/video and the edge included), to be mutated.
        return stack_values(draw(st.sampled_from(SHIPPED)))
    if base == 1:
        # A region stack over the project's cluster, pointing at a core stack (or not quite).
        cluster = stack_values("demo")["wfga:cluster"]
        region: Values = {
            "wfga:layout": "region",
            "wfga:core_stack": draw(st.sampled_from(CORE_STACKS)),
            "wfga:access_points": draw(access_points(cluster)),
        }
        if region["wfga:access_points"] and draw(st.integers(0, 2)) == 0:
            region.update(draw(av_settings(cluster, region["wfga:access_points"])))
        return region
    cluster = draw(clusters())
    values: Values = {"wfga:cluster": cluster, "wfga:access_points": draw(access_points(cluster))}
    # Audio/video over the access points; rarely over none, which the parser must refuse.
    if draw(st.sampled_from(range(3 if values["wfga:access_points"] else 20))) == 0:
        values.update(draw(av_settings(cluster, values["wfga:access_points"])))
    if not values["wfga:access_points"] and cluster["cloud"] == "alicloud" and draw(st.booleans()):
        values["wfga:layout"] = "core"
    if draw(st.integers(0, 2)) == 0:
        values.update(copy.deepcopy(EDGE))
    if draw(st.integers(0, 3)) == 0:
        # Other namespaces belong to the providers; the mutations and YAML tricks reach them too.
        values["aws:region"] = "us-east-1"
        values["alicloud:tags"] = {"team": "im", "since": "2024-01-01", "ports": [80, 443]}
    return values


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        root = root[part]
    return root


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Values, list[str]]:
    # Sampled lists and dicts are shared objects: mutate a copy, or later examples change too.
    values = copy.deepcopy(draw(configs()))
    done: list[str] = []
    for _ in range(draw(st.integers(0, 3))):
        paths = [p for p in _paths(values) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _get(values, path[:-1]), path[-1]
        current = parent[key]
        op = draw(st.sampled_from(["delete", "type", "special", "string", "duplicate", "wrap", "number", "address"]))
        if op == "delete":
            del parent[key]
        elif op == "type":
            parent[key] = draw(
                st.one_of(
                    st.none(),
                    st.booleans(),
                    st.integers(),
                    st.floats(allow_nan=True),
                    st.text(max_size=20),
                    st.lists(st.integers(), max_size=3),
                    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
                )
            )
        elif op == "special":
            parent[key] = copy.deepcopy(draw(st.sampled_from(SPECIAL_VALUES)))
        elif op == "string" and isinstance(current, str):
            how = draw(st.sampled_from(["suffix", "prefix", "insert", "upper", "long", "blank", "double", "octet"]))
            extra = draw(st.sampled_from(["\n", " ", "\t", "\r\n", "-", ".", "/", ":", *UNICODE]))
            at = draw(st.integers(0, len(current)))
            parent[key] = {
                "suffix": current + extra,
                "prefix": extra + current,
                "insert": current[:at] + extra + current[at:],
                "upper": current.upper(),
                "long": current * 2000,
                "blank": "",
                # "a..b", "x--y": a character twice
                "double": current[:at] + current[at - 1 : at] + current[at:],
                # the network or broadcast address of a range, or a prefix stretched
                "octet": current.rsplit(".", 1)[0] + draw(st.sampled_from([".0", ".255", ".0/0", ".0/8", ".0/29"])),
            }[how]
        elif op == "duplicate" and isinstance(current, list) and current:
            current.append(copy.deepcopy(draw(st.sampled_from(current))))
        elif op == "wrap":
            parent[key] = {"value": current}
        elif op == "address" and isinstance(current, str) and _is_ip(current):
            # An address or range swapped for one of the kind no field of its kind may hold.
            pool = SPECIAL_NETWORKS if "/" in current else SPECIAL_ADDRESSES
            parent[key] = draw(st.sampled_from(pool))
        elif op == "number" and isinstance(current, int):
            parent[key] = draw(st.sampled_from([0, -1, current - 1, current + 1, current * 1000, 2**63, -(2**63)]))
        else:
            continue
        done.append(f"{op} {'.'.join(map(str, path))}")
    return values, done


def _dump(values: Values) -> str:
    config = dict(values)
    # A fixture's secrets are loaded as a placeholder: write them back encrypted.  A value a
    # mutation changed stays as it is (plain text, another type), which the parser must refuse.
    for key in ("wfga:cloudflare_api_token", "wfga:turn_password"):
        if config.get(key) == SECRET_PLACEHOLDER:
            config[key] = {"secure": "v1:fuzz"}
    return yaml.safe_dump({"config": config}, allow_unicode=True, sort_keys=False, width=1000)


LAUGHS = "\n".join(
    ["  other:lol:", '    a: &a ["l", "l", "l", "l", "l", "l", "l", "l", "l"]']
    + [f"    {c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
)


@st.composite
def stack_files(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    values, done = draw(mutated())
    text = _dump(values)
    if draw(st.integers(0, 3)):
        return text.encode(), done
    lines = text.splitlines()
    line = draw(st.integers(0, max(len(lines) - 1, 0)))
    op = draw(
        st.sampled_from(
            ["tag", "dup-line", "laughs", "deep", "bytes", "truncate", "crlf", "bom", "doc", "anchor", "tab", "scalar"]
        )
    )
    tag = draw(
        st.sampled_from(["!!binary", "!!timestamp", "!!set", "!Ref", "!!python/object:os.system", "!!str", "!!int"])
    )
    if op == "tag" and lines and ": " in lines[line]:
        head, _, tail = lines[line].partition(": ")
        lines[line] = f"{head}: {tag} {tail}"
    elif op == "dup-line" and lines:
        lines.insert(line, lines[line])
    elif op == "laughs":
        lines.insert(1, LAUGHS)
    elif op == "deep":
        depth = draw(st.integers(50, 2000))
        lines.insert(1, "  other:deep: " + "[" * depth + "]" * depth)
    elif op == "bytes":
        data = bytearray("\n".join(lines).encode())
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        data[at:at] = draw(st.sampled_from([b"\xff", b"\x00", b"\xc3", b"\xfe\xff"]))
        return bytes(data), [*done, f"bytes at {at}"]
    elif op == "truncate":
        text = "\n".join(lines)
        return text[: draw(st.integers(0, len(text)))].encode(), [*done, "truncate"]
    elif op == "crlf":
        return "\r\n".join(lines).encode(), [*done, "crlf"]
    elif op == "bom":
        return ("\ufeff" + "\n".join(lines)).encode(), [*done, "bom"]
    elif op == "doc":
        lines.append("---\nconfig: {}")
    elif op == "anchor" and lines and ": " in lines[line]:
        head, _, tail = lines[line].partition(": ")
        lines[line] = f"{head}: &x {tail}"
        lines.append("  wfga:x: *x")
    elif op == "tab" and lines:
        lines[line] = "\t" + lines[line].lstrip(" ")
    elif op == "scalar":
        return draw(st.sampled_from([b"config: 5\n", b"config: [1]\n", b"- config\n", b"config: !!binary eA==\n"])), [
            *done,
            "scalar",
        ]
    return "\n".join(lines).encode(), [*done, op]


class Timeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise Timeout(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def joined(cfg: StackConfig, entries: dict[str, list[dict[str, str]]], rows: list[dict[str, Any]]) -> None:
    """Every entry of node K reaches node K on each listened service; no ip:port serves two."""
    table: dict[tuple[str, int], tuple[str, str]] = {}
    for row in rows:
        key, target = (str(row["public_ip"]), int(row["public_port"])), (str(row["node"]), str(row["service"]))
        assert table.setdefault(key, target) == target, f"{key} forwards to {table[key]} and {target}"
    listened = cfg.cluster.listened_services
    for node in cfg.cluster.nodes:
        for item in entries[node.name]:
            ip, *ports = item["entry"].split(":")
            for service, port in zip(SERVICES, ports, strict=True):
                if service in listened:
                    assert table.get((ip, int(port))) == (node.name, service), f"{node.name}: {item['entry']}"


def pure_path(path: Path) -> str:
    """Load, parse and plan as the program does, in-process; 'ok' (with audio/video) or 'config error'."""
    try:
        stack = load_stack(path, PROJECT)
        cfg = parse_stack_config(stack.values, stack.secret_keys)
        problems = core_stack_problems(cfg, PROJECT)
        if problems:
            raise ConfigError(problems)
        plans = plan_stack(cfg)
    except ConfigError as err:
        located(err, path)
        return "config error"
    addresses = _addresses(plans)
    outputs = node_outputs(cfg, plans, addresses)
    joined(cfg, backup_entries(cfg.cluster, plans, addresses), port_map_rows(plans, addresses))
    assert set(outputs["backup_entries"]) == {n.name for n in cfg.cluster.nodes}
    _edge(cfg)
    if cfg.audio_video is not None:
        _audio_video(cfg, cfg.audio_video)
        return "ok with audio/video"
    return "ok"


THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")


def _public_unicast(address: str) -> bool:
    ip = ipaddress.IPv4Address(address)
    return ip.is_global and not ip.is_multicast


def _audio_video(cfg: StackConfig, av: AvConfig) -> None:
    """The TURN relays as the components build them: every planner answers, and what they plan is safe."""
    assert cfg.turn_password is not None, "audio/video on without a TURN password"
    password = cfg.turn_password.get_secret_value()
    spec = turn.turn_spec(av)
    cluster = cfg.cluster.cidr
    by_name = {ap.name: ap for ap in cfg.access_points}
    pinned_ids = {eip.allocation_id for ap in cfg.access_points for eip in ap.pinned_eips}
    pinned = {str(eip.address) for ap in cfg.access_points for eip in ap.pinned_eips}
    addresses: dict[str, list[str]] = {}
    for index, (name, servers) in enumerate(av.access_points.items()):
        ap = by_name[name]
        vms = turn.turn_vms(ap, servers)
        assert [vm.key for vm in vms] == [f"turn-{n}" for n in range(1, servers.count + 1)]
        assert all(vm.zone in ap.zones for vm in vms)
        for vm in vms:
            if vm.pinned_address is not None:
                assert _public_unicast(vm.pinned_address), f"TURN {name} {vm.key}: pinned {vm.pinned_address}"
                # One EIP is bound to one thing: a TURN VM's may not be an access point's as well.
                assert vm.pinned_address not in pinned, f"TURN {name} {vm.key}: {vm.pinned_address} reused"
                assert vm.pinned_allocation_id not in pinned_ids, f"TURN {name} {vm.key}: allocation id reused"
                assert vm.pinned_allocation_id is not None and vm.pinned_allocation_id.strip()
                pinned.add(vm.pinned_address)
                pinned_ids.add(vm.pinned_allocation_id)
        admin = servers.admin_cidr
        for rule in turn.turn_ingress(av, str(cluster), None if admin is None else str(admin)):
            net = ipaddress.IPv4Network(rule.cidr)
            if rule.key.startswith("ssh"):
                special = net.is_loopback or net.is_link_local or net.is_multicast or net.is_reserved
                assert net.prefixlen >= 16 and not special and not net.overlaps(THIS_NETWORK), f"TURN {name}: SSH {net}"
            elif net.prefixlen == 0:
                # Only the TURN ports face the internet; the relay range is the cluster's alone.
                assert rule.first_port == rule.last_port and rule.first_port in av.turn.listening_ports, rule
            else:
                assert net == cluster, rule
        if ap.cloud == "alicloud":
            bandwidth = servers.eip_bandwidth_mbps or ap.eip_bandwidth_mbps
            assert 1 <= bandwidth <= 200, f"TURN {name}: a pay-by-traffic EIP of {bandwidth} Mbit/s"
        turn.janus_ingress(av.janus, name, str(ap.vpc_cidr))
        assert turn.render_turn_user_data(spec, password=password, distro=servers.distro).startswith("#cloud-config")
        turn.render_turn_delivery(spec, password=password)
        addresses[name] = [vm.pinned_address or f"47.99.{index}.{vm.number}" for vm in vms]
    for ip in av.janus.private_ips:
        assert ip in cluster and ip not in (cluster.network_address, cluster.broadcast_address), f"Janus at {ip}"
    turn.janus_lines(av.janus)
    links = {name: by_name[name].cen_bandwidth_mbps if by_name[name].link == "cen" else None for name in addresses}
    media = turn.media_outputs(av, addresses, links)
    assert set(media) == set(av.access_points)


# A problem starts with where it is: a namespaced key path (wfga:cluster.nodes[0].name, aws:region),
# possibly quoted when the key itself is odd, or the file itself with a line for a file-level one.
_KEY_PATH = re.compile(r"'?[A-Za-z0-9_-]+:")


def located(err: ConfigError, path: Path) -> None:
    assert err.problems
    for problem in err.problems:
        assert problem.startswith(str(path)) or _KEY_PATH.match(problem), f"no location: {problem[:200]}"


def _addresses(plans: list[AccessPointPlan]) -> dict[tuple[str, str, str], str]:
    keys = [(p.name, lb.key, zone) for p in plans for lb in p.load_balancers for zone in lb.zones]
    return {key: f"47.{80 + i // 250}.{i % 250}.1" for i, key in enumerate(keys)}


def _edge(cfg: StackConfig) -> None:
    edge = cfg.edge
    edge_plan.cloudflare_zone_plans(edge)
    for sd in edge.service_domains:
        planner: Callable[[Any], Any] = {
            "cloudflare": edge_plan.cloudflare_service_plan,
            "alicloud-dcdn": edge_plan.dcdn_plan,
            "cloudfront": edge_plan.cloudfront_service_plan,
        }[sd.provider]
        planner(sd)
    store = edge.object_storage
    if store is None:
        return
    for host in edge_plan.storage_hosts(store):
        if store.cdn.provider == "alicloud-cdn":
            edge_plan.alicloud_cdn_plan(store, host)
        elif store.cdn.provider == "cloudfront":
            edge_plan.cloudfront_storage_plan(store, host)
        else:
            edge_plan.cloudflare_storage_plan(host)
    edge_plan.bucket_settings(store)
    edge_plan.media_config_lines(store)


def full_plan(path: Path, expected: str) -> str:
    """The whole offline plan through the CLI, in-process; its outcome must agree with the pure path."""
    out = path.with_suffix(".json")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main(["plan", "--config-file", str(path), "--json", str(out), "--quiet"])
    assert "Traceback" not in stderr.getvalue()
    if code == 2:
        assert expected == "config error" or "cloud rule" in stderr.getvalue(), stderr.getvalue()[:500]
        return "config error" if expected == "config error" else "cloud rule"
    assert code == 0 and expected.startswith("ok"), f"exit {code} where the pure path said {expected}"
    plan = json.loads(out.read_text(encoding="utf-8"))
    urns = [r["urn"] for r in plan["resources"]]
    assert len(urns) == len(set(urns)), "two resources with one URN"
    stack = load_stack(path, PROJECT)
    cfg = parse_stack_config(stack.values, stack.secret_keys)
    if cfg.access_points:
        joined(cfg, plan["outputs"]["backup_entries"], plan["outputs"]["port_map"])
    if cfg.audio_video is not None:
        assert set(plan["outputs"]["turn_servers"]) == set(cfg.audio_video.access_points)
    return expected


def signature(err: BaseException) -> str:
    frames = [
        f for f in traceback.extract_tb(err.__traceback__) if "/wfga/" in f.filename or "components" in f.filename
    ]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "test"
    head = str(err).splitlines()[0][:120] if isinstance(err, AssertionError) and str(err) else ""
    return f"{type(err).__name__} at {where}" + (f": {head}" if head else "")


@dataclass
class Tally:
    folder: Path
    examples: int = 0
    plans: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: dict[str, tuple[bytes, list[str], str]] = field(default_factory=dict)
    slowest: float = 0.0

    def check(self, content: bytes, done: list[str]) -> None:
        self.examples += 1
        if b"wfga:av:" in content:
            self.outcomes["(of which the file has wfga:av)"] += 1
        path = self.folder / f"Pulumi.fuzz{self.examples}.yaml"
        path.write_bytes(content)
        started = time.monotonic()
        try:
            with time_limit(EXAMPLE_TIMEOUT_S):
                outcome = pure_path(path)
            self.outcomes[outcome] += 1
            if self.plans < FULL_PLANS and (outcome != "config error" or self.plans % 2):
                self.plans += 1
                with time_limit(PLAN_TIMEOUT_S):
                    self.outcomes[f"full plan: {full_plan(path, outcome)}"] += 1
        except Exception as err:  # every escape is a finding: keep the first example of each kind
            self.outcomes["failure"] += 1
            self.failures.setdefault(signature(err), (content, done, traceback.format_exc()))
        finally:
            self.slowest = max(self.slowest, time.monotonic() - started)
            path.unlink(missing_ok=True)

    def report(self) -> str:
        lines = [f"{self.examples} examples, {self.plans} full plans, slowest {self.slowest:.2f} s"]
        lines += [f"  {outcome}: {count}" for outcome, count in sorted(self.outcomes.items())]
        lines += [f"{len(self.failures)} distinct failures"]
        for sig, (content, done, trace) in self.failures.items():
            lines += [f"- {sig}", f"  mutations: {done}", f"  file: {content[:400]!r}", trace]
        return "\n".join(lines)


def test_any_stack_file_plans_or_exits_2_with_a_location() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tally = Tally(Path(folder))

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=not LONG,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=stack_files())
        def run(case: tuple[bytes, list[str]]) -> None:
            tally.check(*case)

        run()
        report = tally.report()
        if os.environ.get("WFGA_FUZZ_REPORT"):
            Path(os.environ["WFGA_FUZZ_REPORT"]).write_text(report + "\n", encoding="utf-8")
        assert not tally.failures, report
        # The generator is worth something only if it reaches both ends of the contract.
        assert tally.outcomes["ok"] and tally.outcomes["ok with audio/video"] and tally.outcomes["config error"], report
