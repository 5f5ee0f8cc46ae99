"""Merge per-stack outputs into each node's complete ``server.backup_address`` line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wfga.model.config import ConfigError
from wfga.plan.portplan import node_config_line, web_first


def _entries_of(source: str, outputs: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    if "backup_entries" not in outputs:
        raise ConfigError([f"{source}: has no backup_entries output; give a region or all-in-one stack's outputs"])
    entries: dict[str, list[dict[str, str]]] = outputs["backup_entries"]
    return entries


def merge(sources: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, str]:
    """Lines per node: the node's web-primary access point first, then entries of each source in
    the order given, then as each source lists them.

    Every source must cover the same nodes (they share the cluster definition) and no access point
    may appear in two sources, or a node would get stale or duplicated entries.  A node's web
    primary must be the same in every source and be an access point of one of them.
    """
    merged: dict[str, list[dict[str, str]]] = {}
    primaries: dict[str, set[str]] = {}
    owner: dict[str, str] = {}
    nodes: set[str] | None = None
    problems: list[str] = []
    for source, outputs in sources:
        entries = _entries_of(source, outputs)
        if nodes is not None and set(entries) != nodes:
            problems.append(
                f"{source}: nodes {sorted(entries)} differ from {sorted(nodes)}; re-run every stack after "
                "changing the cluster"
            )
            continue
        nodes = set(entries)
        for ap in {item["access_point"] for items in entries.values() for item in items}:
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
        raise ConfigError(problems)
    lines: dict[str, str] = {}
    for node, items in merged.items():
        primary = next(iter(primaries[node]), "") if items else ""
        lines[node] = node_config_line([item["entry"] for item in web_first(items, primary or None)])
    return lines
