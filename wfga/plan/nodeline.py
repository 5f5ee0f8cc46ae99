"""A node's ``server.backup_address`` line: entries, merging stacks, and placeholder addresses.

Standard library only (no wfga import either): the node tool that ``wfga build-node-tool`` writes
carries this module to IM nodes that have nothing but ``python3``.

Placeholders.  The offline plan cannot know the addresses a cloud assigns at deploy time; it uses
documentation addresses (RFC 5737) in their place.  Such an entry must never reach a node as if it
were real: clients would race a dead address.  Where wfga is told to write one anyway
(``--allow-placeholders``), the entry is marked ``#PLACEHOLDER IP:SHORT:LONG:WS``.  The marker
holds a ``#`` after the start of the line *and* a space inside the value, so im-server's
``ConfigurationParser`` throws ``ParseException`` and refuses the whole file however the key and
value are spaced (today's parser accepts a ``#`` only in a line with exactly one space; parsers
before im-server debd4f1a refuse any ``#`` after column 0), and ``check-node-config`` reports the
file as rejected.  A node restarted with such a line fails at once, where it would otherwise hand
clients dead addresses for days.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping, Sequence
from typing import Any

KEY = "server.backup_address"
# Documentation ranges (RFC 5737): never routed, so never a deployed address.
PLACEHOLDER_NETWORKS = tuple(ipaddress.IPv4Network(n) for n in ("198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24"))
PLACEHOLDER_TAG = "#PLACEHOLDER"


def backup_address(entries: Sequence[str]) -> str:
    return ",".join(entries)


def node_config_line(entries: Sequence[str]) -> str:
    """The line to put in the node's ``wildfirechat.conf``."""
    return f"{KEY}  {backup_address(entries)}"


def web_first(items: list[dict[str, str]], primary: str | None) -> list[dict[str, str]]:
    """The primary access point's entries first (in their own order), then the rest as they were."""
    if primary is None:
        return list(items)
    return [i for i in items if i["access_point"] == primary] + [i for i in items if i["access_point"] != primary]


def address_of(entry: str) -> str:
    return entry.partition(":")[0]


def is_placeholder(address: str, known: Collection[str] = ()) -> bool:
    """An address the offline plan made up: listed by the plan, or in a documentation range."""
    if address in known:
        return True
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return any(ip in net for net in PLACEHOLDER_NETWORKS)


def placeholders_in(entries: Sequence[str], known: Collection[str] = ()) -> list[str]:
    """The placeholder addresses among ``entries``, in order, each once."""
    found = [address_of(e) for e in entries if is_placeholder(address_of(e), known)]
    return list(dict.fromkeys(found))


def mark(entries: Sequence[str], known: Collection[str] = ()) -> list[str]:
    """Each placeholder entry marked so that no server accepts a line holding it."""
    return [f"{PLACEHOLDER_TAG} {e}" if is_placeholder(address_of(e), known) else e for e in entries]


def is_marked(value: str) -> bool:
    return PLACEHOLDER_TAG in value


def merge_entries(sources: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[dict[str, list[str]], list[str]]:
    """Each node's entries over several stacks' outputs, and the problems that forbid a merge.

    Order: the node's web-primary access point first, then entries of each source in the order
    given, then as each source lists them.  Every source must cover the same nodes (they share the
    cluster definition) and no access point may appear in two sources, or a node would get stale
    or duplicated entries.  A node's web primary must be the same in every source and be an access
    point of one of them.
    """
    merged: dict[str, list[dict[str, str]]] = {}
    primaries: dict[str, set[str]] = {}
    owner: dict[str, str] = {}
    nodes: set[str] | None = None
    problems: list[str] = []
    for source, outputs in sources:
        entries = outputs.get("backup_entries") if isinstance(outputs, Mapping) else None
        if not isinstance(entries, Mapping):
            problems.append(f"{source}: has no backup_entries output; give a region or all-in-one stack's outputs")
            continue
        if nodes is not None and set(entries) != nodes:
            problems.append(
                f"{source}: nodes {sorted(entries)} differ from {sorted(nodes)}; re-run every stack after "
                "changing the cluster"
            )
            continue
        nodes = set(entries)
        for ap in sorted({item["access_point"] for items in entries.values() for item in items}):
            if ap in owner:
                problems.append(f"{source}: access point {ap} is also in {owner[ap]}")
            owner[ap] = source
        for node, items in entries.items():
            merged.setdefault(node, []).extend(items)
            primaries.setdefault(node, set()).update(item.get("web_primary", "") for item in items)
    for node, names in sorted(primaries.items()):
        if len(names) > 1:
            shown = ", ".join(name or "(none)" for name in sorted(names))
            problems.append(
                f"node {node}: the sources disagree on its web_primary ({shown}); give every stack the same"
            )
        elif names and (name := next(iter(names))) and name not in owner:
            problems.append(
                f"node {node}: web_primary {name} is an access point of none of the sources; "
                f"they have {', '.join(sorted(owner))}"
            )
    if problems:
        return {}, problems
    result: dict[str, list[str]] = {}
    for node, items in merged.items():
        primary = next(iter(primaries[node]), "") if items else ""
        result[node] = [item["entry"] for item in web_first(items, primary or None)]
    return result, []
