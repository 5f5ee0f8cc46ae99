"""What every config model shares: the error type, the base model, field types, key paths.

Model checks collect every problem they find and raise them together (:func:`raise_problems`),
so one run of the parser lists all of a file's mistakes rather than the first of each model.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

NAMESPACE = "wfga"

_NAME = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"
# Cloud ids (vpc-..., sg-..., ecs.c7.large, ubuntu_22_04_x64_20G_alibase_2023.vhd): printable
# ASCII without spaces.  A blank or padded id would reach the provider and fail there, blaming
# another key.
_ID = re.compile(r"[\x21-\x7e]{1,255}")

Port = Annotated[int, Field(ge=1, le=65535)]


def _name(value: Any) -> Any:
    # Field(pattern=...) alone would be checked by the regex engine pydantic picks; fullmatch
    # never lets a trailing newline through, whichever engine it is.
    if isinstance(value, str) and not re.fullmatch(_NAME, value):
        raise ValueError(
            f"{shown(value)} is not a name: 2 to 32 lower-case letters, digits and dashes, starting with a letter"
        )
    return value


def _id(value: Any) -> Any:
    if isinstance(value, str) and not _ID.fullmatch(value):
        raise ValueError(f"{shown(value)} is not a cloud id: 1 to 255 printable characters without spaces")
    return value


Name = Annotated[str, BeforeValidator(_name), Field(description="lower-case letters, digits and dashes")]
Id = Annotated[str, BeforeValidator(_id)]


def _ipv4_text(value: Any) -> Any:
    # Pydantic would turn an integer into an address (167772161 -> 10.0.0.1); a stack file that
    # means an address writes one.
    if not isinstance(value, str | ipaddress.IPv4Address):
        raise ValueError("expected an IPv4 address in dotted form, such as 10.0.0.1")
    return value


def _network(value: Any) -> Any:
    if isinstance(value, ipaddress.IPv4Network):
        return value
    if not isinstance(value, str):
        raise ValueError("expected an IPv4 network in CIDR form, such as 10.0.0.0/16")
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError as err:
        raise ValueError(f"{shown(value)} is not an IPv4 network in CIDR form with host bits zero ({err})") from None


Ipv4 = Annotated[ipaddress.IPv4Address, BeforeValidator(_ipv4_text)]
Ipv4Network = Annotated[ipaddress.IPv4Network, BeforeValidator(_network)]

# Ranges no VPC uses and no administrator connects from.
SPECIAL_NETWORKS = {
    "0.0.0.0/8": "this-network",
    "127.0.0.0/8": "loopback",
    "169.254.0.0/16": "link-local",
    "224.0.0.0/4": "multicast",
    "240.0.0.0/4": "reserved",
}
_SPECIAL_NETS = {ipaddress.IPv4Network(n): why for n, why in SPECIAL_NETWORKS.items()}
DEFAULT_ADMIN_MIN_PREFIX = 16
# Alibaba EIP `bandwidth` for PayByTraffic: 1..200 Mbit/s (EIP API AllocateEipAddress; an NLB binds
# only pay-by-traffic EIPs, and wfga's TURN EIPs are pay-by-traffic too).
MAX_PAY_BY_TRAFFIC_EIP_MBPS = 200


def admin_cidr_problems(cidr: ipaddress.IPv4Network | None, min_prefix: int, key: str) -> list[str]:
    """SSH (22) opens from ``cidr``: never from the whole internet, nor wider than ``/min_prefix``
    (the ``<key>_min_prefix`` setting), nor from a range no administrator connects from."""
    if cidr is None:
        return []
    problems: list[str] = []
    if cidr.prefixlen == 0:
        problems.append(
            f"{key}: 0.0.0.0/0 opens SSH to the whole internet; give the range you administer from "
            "(an office or VPN network), or leave admin_cidr out for no SSH"
        )
    elif cidr.prefixlen < min_prefix:
        problems.append(
            f"{key}: {cidr} opens SSH to {cidr.num_addresses} addresses, more than a /"
            f"{min_prefix}; give a narrower range, or lower {key}_min_prefix deliberately"
        )
    special = [why for net, why in _SPECIAL_NETS.items() if cidr.overlaps(net)]
    if cidr.prefixlen and special:
        problems.append(f"{key}: {cidr} is a {special[0]} range, from which no administrator connects")
    return problems


def public_unicast_problem(address: ipaddress.IPv4Address, key: str) -> str | None:
    """A pinned EIP's address is what clients connect to: it must be a public unicast address."""
    if address.is_global and not address.is_multicast:
        return None
    return (
        f"{key}: {address} is not a public unicast address; a pinned EIP's address "
        "is what clients connect to, so give the EIP's public IP"
    )


class ConfigError(Exception):
    """A user mistake in the stack configuration; the message is meant to be printed as is."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    def __str__(self) -> str:
        lines = ["invalid wfga configuration:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_switch_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        # Pydantic's lax mode reads true as 1: `count: true` would quietly mean one VM.
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            if annotation is int or int in get_args(annotation):
                raise PydanticCustomError("int_type", "expected a number, not true/false")
        return value


PROBLEMS = "wfga_problems"


def raise_problems(problems: list[str]) -> None:
    """Raise every problem a model check found at once; each starts with the field it is about."""
    if problems:
        raise PydanticCustomError(PROBLEMS, "{summary}", {"summary": "; ".join(problems), "problems": problems})


# A validation context key: when present, a model's own rules are collected here (model id ->
# problems) instead of raised, so the parser can still run the rules across models on it.
DEFERRED = "wfga_deferred"


def report(model: BaseModel, info: ValidationInfo, problems: list[str]) -> None:
    """Raise a model's problems, or hand them to the parser that asked to collect them."""
    deferred = info.context.get(DEFERRED) if isinstance(info.context, dict) else None
    if deferred is None:
        raise_problems(problems)
    elif problems:
        deferred[id(model)] = problems


def loc_to_path(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> str:
    """Turn a pydantic error location into the key path a user sees in the stack file."""
    if not loc:
        return f"{NAMESPACE}:"
    head, *rest = loc
    path = f"{NAMESPACE}:{head}"
    node: Any = raw.get(str(head))
    for part in rest:
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, Mapping) and isinstance(node.get("name"), str) and _printable(node["name"]):
                path += f" ({node['name']})"
        else:
            path += f".{part}"
            node = node.get(part) if isinstance(node, Mapping) else None
    return path


def _printable(text: str) -> bool:
    return text.isprintable() and 0 < len(text) <= 64


def _message(err: Mapping[str, Any]) -> str:
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if err["type"] == "extra_forbidden":
        return "unknown key; check its spelling against the README's field list"
    if err["type"] == "missing":
        return "required key is missing"
    if err["type"] == "literal_error":
        return f"{msg} (got {shown(err.get('input'))})"
    return msg


def shown_key(key: str) -> str:
    """A key as the user wrote it, unless it is too odd to print as is."""
    return key if key.isprintable() and len(key) <= 80 else shown(key)


def shown(value: Any) -> str:
    """A user's value in a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_FIELD_PREFIX = re.compile(r"([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*): (.*)", re.S)


def problem(path: str, message: str) -> str:
    # Model-level checks start their message with the field they are about; fold it into the path.
    match = _FIELD_PREFIX.fullmatch(message)
    if match:
        sep = "" if match.group(1).startswith("[") or path.endswith(":") else "."
        return f"{path}{sep}{match.group(1)}: {match.group(2)}"
    return f"{path}: {message}"


def error_problems(errors: list[Any], raw: Mapping[str, Any], prefix: tuple[int | str, ...] = ()) -> list[str]:
    """Every problem of a pydantic ValidationError, each with its key path."""
    problems: list[str] = []
    for e in errors:
        path = loc_to_path(prefix + tuple(e["loc"]), raw)
        if e["type"] == PROBLEMS:
            problems += [problem(path, p) for p in e["ctx"]["problems"]]
        else:
            problems.append(problem(path, _message(e)))
    return problems


def port_ranges(ports: Iterable[int]) -> list[tuple[int, int]]:
    """Contiguous runs of ports, e.g. for firewall rules whose count has a quota."""
    runs: list[tuple[int, int]] = []
    for port in sorted(set(ports)):
        if runs and runs[-1][1] == port - 1:
            runs[-1] = (runs[-1][0], port)
        else:
            runs.append((port, port))
    return runs
