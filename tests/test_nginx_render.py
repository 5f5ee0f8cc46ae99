"""The nginx stream renderer, as properties over generated port plans."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfga.model.config import parse_stack_config
from wfga.plan.nginx import (
    CONNECT_TIMEOUT_S,
    SHORT_LINK_TIMEOUT_S,
    Sizing,
    render_nginx_conf,
)
from wfga.plan.portplan import SERVICES, PortMapping, plan_stack

from .conftest import stack_values

# Clients give up on an address after 10 s; nginx must fail a dead node well before that.
CLIENT_CONNECT_TIMEOUT_S = 10

_SERVER = re.compile(r"^    server \{ (?P<body>[^{}]*) \}  # (?P<comment>.*)$", re.M)
_DIRECTIVE = re.compile(r"^\s*(\S+)\s+(.*);$")
_STREAM_DIRECTIVE = re.compile(r"^    (?!server )(\S+) (.*);$", re.M)
_SECONDS = re.compile(r"^(\d+)s$")


@dataclass(frozen=True)
class Server:
    comment: str
    directives: dict[str, str]

    @property
    def listen(self) -> tuple[str | None, int]:
        where = self.directives["listen"].split()[0]
        host, _, port = where.rpartition(":")
        return (host or None, int(port))

    def seconds(self, name: str) -> int:
        match = _SECONDS.match(self.directives[name])
        assert match, f"{name} {self.directives[name]!r} is not in whole seconds"
        return int(match.group(1))


def servers(conf: str) -> list[Server]:
    """Each server with its effective directives: its own over those it inherits from ``stream {}``."""
    stream = conf[conf.index("\nstream {") :]
    inherited = dict(_STREAM_DIRECTIVE.findall(stream))
    result = []
    for match in _SERVER.finditer(stream):
        directives: dict[str, str] = {}
        for part in match.group("body").split("; "):
            parsed = _DIRECTIVE.match(part if part.endswith(";") else part + ";")
            assert parsed, f"not a directive: {part!r}"
            assert parsed.group(1) not in directives, f"{parsed.group(1)} given twice"
            directives[parsed.group(1)] = parsed.group(2)
        result.append(Server(match.group("comment"), {**inherited, **directives}))
    assert len(result) == stream.count("server {"), "a server line the parser does not read"
    return result


def main_directive(conf: str, name: str) -> str | None:
    found = re.findall(rf"^{name} (.*);$", conf, re.M)
    assert len(found) <= 1
    return found[0] if found else None


def worker_connections(conf: str) -> int:
    return int(re.findall(r"^    worker_connections (\d+);$", conf, re.M)[0])


LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)


@st.composite
def mapping_lists(draw: Any) -> list[PortMapping]:
    ports = draw(st.lists(st.integers(1, 65535), min_size=1, max_size=40, unique=True))
    return [
        PortMapping(
            access_point=draw(LABEL),
            load_balancer=f"nlb-{draw(st.integers(1, 9))}",
            node=draw(LABEL),
            service=draw(st.sampled_from(SERVICES)),
            public_port=port,
            target_ip=str(draw(st.ip_addresses(v=4))),
            target_port=draw(st.integers(1, 65535)),
            idle_timeout_s=draw(st.integers(1, 3600)),
        )
        for port in ports
    ]


ADDRESSES = st.one_of(st.none(), st.ip_addresses(v=4, network="127.0.0.0/8").map(str))


@settings(max_examples=200, deadline=None)
@given(mappings=mapping_lists(), address=ADDRESSES, connections=st.integers(1, 200000))
def test_one_server_per_mapping_proxying_to_its_target(
    mappings: list[PortMapping], address: str | None, connections: int
) -> None:
    conf = render_nginx_conf(mappings, listen_address=address, connections=connections)
    found = servers(conf)
    assert len(found) == len(mappings)
    by_port = {m.public_port: m for m in mappings}
    listens = [s.listen for s in found]
    assert len({port for _, port in listens}) == len(found)
    assert [port for _, port in listens] == sorted(by_port)
    for server in found:
        host, port = server.listen
        m = by_port[port]
        assert host == address
        assert server.directives["proxy_pass"] == f"{m.target_ip}:{m.target_port}"
        assert server.comment == f"{m.node} {m.service}"
        listen_options = server.directives["listen"].split()[1:]
        assert "reuseport" in listen_options
        assert any(o.startswith("so_keepalive=") for o in listen_options)
        assert server.directives["proxy_socket_keepalive"] == "on"
        assert 1 <= server.seconds("proxy_connect_timeout") < CLIENT_CONNECT_TIMEOUT_S
        timeout = server.seconds("proxy_timeout")
        if m.service == "short":
            assert 1 <= timeout <= m.idle_timeout_s
        else:
            assert timeout >= m.idle_timeout_s


@settings(max_examples=100, deadline=None)
@given(mappings=mapping_lists(), connections=st.integers(1, 200000), seed=st.randoms())
def test_rendering_is_deterministic_and_order_free(mappings: list[PortMapping], connections: int, seed: Any) -> None:
    shuffled = list(mappings)
    seed.shuffle(shuffled)
    assert render_nginx_conf(shuffled, connections=connections) == render_nginx_conf(mappings, connections=connections)


@settings(max_examples=100, deadline=None)
@given(mappings=mapping_lists(), connections=st.integers(1, 200000))
def test_every_worker_holds_the_whole_target_with_two_sockets_per_connection(
    mappings: list[PortMapping], connections: int
) -> None:
    conf = render_nginx_conf(mappings, connections=connections)
    wc = worker_connections(conf)
    # With reuseport each worker also holds one listening socket per server.
    assert wc >= 2 * connections + len(mappings)
    rlimit = main_directive(conf, "worker_rlimit_nofile")
    assert rlimit is not None
    assert int(rlimit) > wc


def mapping(service: str = "long", port: int = 1881, idle: int = 900, node: str = "im-1") -> PortMapping:
    return PortMapping("sg", "nlb-1", node, service, port, "172.16.0.1", 1883, idle)


def test_default_timeouts_follow_the_idle_timeout_except_short_links() -> None:
    conf = render_nginx_conf([mapping("short", 81), mapping("long", 1881), mapping("ws", 8081)])
    timeouts = {s.listen[1]: s.seconds("proxy_timeout") for s in servers(conf)}
    assert timeouts == {81: SHORT_LINK_TIMEOUT_S, 1881: 900, 8081: 900}
    assert all(s.seconds("proxy_connect_timeout") == CONNECT_TIMEOUT_S for s in servers(conf))


def test_stream_module_is_loaded_only_when_asked() -> None:
    plain = render_nginx_conf([mapping()])
    assert main_directive(plain, "load_module") is None
    assert main_directive(plain, "include") is None
    private = render_nginx_conf([mapping()], stream_module="/usr/lib/nginx/modules/ngx_stream_module.so")
    assert main_directive(private, "load_module") == "/usr/lib/nginx/modules/ngx_stream_module.so"
    system = render_nginx_conf([mapping()], modules_include="/etc/nginx/modules-enabled/*.conf")
    assert main_directive(system, "include") == "/etc/nginx/modules-enabled/*.conf"
    with pytest.raises(ValueError, match="not both"):
        render_nginx_conf([mapping()], stream_module="/m.so", modules_include="/etc/nginx/modules-enabled/*.conf")


def test_main_context_paths_and_workers_are_configurable() -> None:
    default = render_nginx_conf([mapping()])
    assert main_directive(default, "pid") == "/run/nginx.pid"
    assert main_directive(default, "worker_processes") == "auto"
    assert main_directive(default, "user") is None
    conf = render_nginx_conf(
        [mapping()], pid_path="/tmp/p/nginx.pid", error_log="/tmp/p/error.log", worker_processes=4, user="nginx"
    )
    assert main_directive(conf, "pid") == "/tmp/p/nginx.pid"
    assert main_directive(conf, "error_log") == "/tmp/p/error.log warn"
    assert main_directive(conf, "worker_processes") == "4"
    assert main_directive(conf, "user") == "nginx"
    assert "events {" in conf


def test_default_target_is_twenty_thousand_connections() -> None:
    conf = render_nginx_conf([mapping()])
    sizing = Sizing(connections=20000, listeners=1)
    assert worker_connections(conf) == sizing.worker_connections == 40001
    assert main_directive(conf, "worker_rlimit_nofile") == str(sizing.rlimit_nofile)


def test_listen_without_address_binds_every_address() -> None:
    (server,) = servers(render_nginx_conf([mapping()]))
    assert server.directives["listen"].startswith("1881 ")


@pytest.mark.parametrize(
    ("mappings", "kwargs", "message"),
    [
        ([mapping(port=81), mapping("ws", port=81)], {}, "public port 81 is used by both im-1-long and im-1-ws"),
        ([mapping(node="im-1\nuser root")], {}, "may only use letters"),
        ([mapping(service="udp")], {}, "service must be one of"),
        ([mapping(port=70000)], {}, "outside 1..65535"),
        ([replace(mapping(), target_ip="im-1.internal")], {}, "not an IPv4 address"),
        ([mapping(idle=0)], {}, "idle_timeout_s must be at least 1"),
        ([mapping()], {"connections": 0}, "connections must be at least 1"),
    ],
)
def test_rejects_what_nginx_would_refuse_or_misread(
    mappings: list[PortMapping], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        render_nginx_conf(mappings, **kwargs)


def test_rejects_a_listen_address_that_is_not_ipv4() -> None:
    with pytest.raises(ValueError):
        render_nginx_conf([mapping()], listen_address="localhost")


def test_renders_the_demo_stack_plan() -> None:
    plans = plan_stack(parse_stack_config(stack_values("demo")))
    for plan in plans:
        for lb in plan.load_balancers:
            conf = render_nginx_conf(lb.mappings)
            found = {s.listen[1]: s for s in servers(conf)}
            assert set(found) == {m.public_port for m in lb.mappings}
            for m in lb.mappings:
                assert found[m.public_port].directives["proxy_pass"] == f"{m.target_ip}:{m.target_port}"
