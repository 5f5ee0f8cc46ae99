"""Merge per-stack outputs into each node's complete ``server.backup_address`` line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wfga.model.config import ConfigError
from wfga.plan.portplan import node_config_line


def _entries_of(source: str, outputs: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    if "backup_entries" not in outputs:
        raise ConfigError([f"{source}: has no backup_entries output; give a region or all-in-one stack's outputs"])
    entries: dict[str, list[dict[str, str]]] = outputs["backup_entries"]
    return entries


def merge(sources: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, str]:
    """Lines per node: entries of each source in the order given, then as each source lists them.

    Every source must cover the same nodes (they share the cluster definition) and no access point
    may appear in two sources, or a node would get stale or duplicated entries.
    """
    merged: dict[str, list[str]] = {}
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
            merged.setdefault(node, []).extend(item["entry"] for item in items)
    if problems:
        raise ConfigError(problems)
    return {node: node_config_line(items) for node, items in merged.items()}
