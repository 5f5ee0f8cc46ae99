"""Stack outputs as plain data: what operators paste into wildfirechat.conf and what tools read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfga.model.config import StackConfig
from wfga.plan.nodeline import backup_address, node_config_line
from wfga.plan.portplan import AccessPointPlan, backup_entries, port_map_rows


def node_outputs(
    cfg: StackConfig, plans: list[AccessPointPlan], addresses: Mapping[tuple[str, str, str], str]
) -> dict[str, Any]:
    entries = backup_entries(cfg.cluster, plans, addresses)
    flat = {node: [item["entry"] for item in items] for node, items in entries.items()}
    return {
        "backup_addresses": {node: backup_address(items) for node, items in flat.items()},
        "node_config": {node: node_config_line(items) for node, items in flat.items()},
        "backup_entries": entries,
        "port_map": port_map_rows(plans, addresses),
    }
