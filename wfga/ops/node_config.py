"""Merge per-stack outputs into each node's complete ``server.backup_address`` line."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from wfga.model.config import ConfigError
from wfga.plan.nodeline import mark, merge_entries, node_config_line, placeholders_in


def merge_lists(sources: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, list[str]]:
    """Each node's entries over the sources, in line order; ConfigError when they cannot merge."""
    entries, problems = merge_entries(sources)
    if problems:
        raise ConfigError(problems)
    return entries


def merge(sources: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, str]:
    """Lines per node (see :func:`wfga.plan.nodeline.merge_entries` for the order and the rules)."""
    return {node: node_config_line(items) for node, items in merge_lists(sources).items()}


class PlaceholderError(Exception):
    """A node line would carry a placeholder address as if it were real."""


def safe_lines(entries: Mapping[str, list[str]], known: Collection[str], *, allow_placeholders: bool) -> dict[str, str]:
    """The lines to hand out: PlaceholderError on a placeholder address unless allowed, and then marked."""
    found = {node: placeholders_in(items, known) for node, items in entries.items()}
    found = {node: ips for node, ips in found.items() if ips}
    if found and not allow_placeholders:
        addresses = sorted({ip for ips in found.values() for ip in ips})
        raise PlaceholderError(
            f"{len(addresses)} placeholder address(es) of the offline plan in the lines of "
            f"{', '.join(found)} ({', '.join(addresses[:4])}{', ...' if len(addresses) > 4 else ''}); "
            "a node given one hands its clients a dead address. Use `pulumi stack output --json` of the "
            "deployed stacks, pin the EIPs (pinned_eips), or give --allow-placeholders to write them "
            "marked #PLACEHOLDER (the IM server then refuses the file)"
        )
    return {node: node_config_line(mark(items, known)) for node, items in entries.items()}
