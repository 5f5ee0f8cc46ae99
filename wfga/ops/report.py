"""Human-readable renderings of an offline plan: summary, port map, node config, CSV."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from wfga.offline.engine import Plan

MARK = "*"
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")

PORT_MAP_COLUMNS = (
    "access_point",
    "load_balancer",
    "zone",
    "public_ip",
    "public_port",
    "node",
    "service",
    "target_ip",
    "target_port",
)


def mark_placeholders(text: str, placeholders: Iterable[str]) -> str:
    known = set(placeholders)
    return _IPV4.sub(lambda m: m.group(0) + MARK if m.group(0) in known else m.group(0), text)


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def _short_type(type_: str) -> str:
    return type_.rsplit(":", 1)[-1]


def resource_summary(plan: Plan) -> str:
    components = [r for r in plan.resources if not r.custom and r.type.startswith("wfga:")]
    lines = []
    for comp in components:
        kids = Counter(_short_type(r.type) for r in plan.children(comp.urn))
        detail = ", ".join(f"{n} {t}" for t, n in sorted(kids.items()))
        lines.append(f"  {_short_type(comp.type)} {comp.name}: {sum(kids.values())} resources ({detail})")
    top = Counter(
        f"Provider {r.type.rsplit(':', 1)[-1]}" if r.type.startswith("pulumi:providers:") else _short_type(r.type)
        for r in plan.resources
        if r.custom and "::pulumi:pulumi:Stack::" in r.parent
    )
    if top:
        lines.append("  top level: " + ", ".join(f"{n} {t}" for t, n in sorted(top.items())))
    protected = sum(1 for r in plan.resources if r.protect)
    lines.append(f"  total: {sum(1 for r in plan.resources if r.custom)} resources, {protected} protected")
    return "\n".join(lines)


def port_map_table(rows: list[dict[str, Any]], placeholders: Iterable[str] = ()) -> str:
    """One line per listener; the addresses of its load balancer's zones share it."""
    grouped: dict[tuple[str, ...], list[str]] = {}
    for row in rows:
        key = tuple(str(row[c]) for c in PORT_MAP_COLUMNS if c not in ("zone", "public_ip"))
        grouped.setdefault(key, []).append(mark_placeholders(str(row["public_ip"]), placeholders))
    header = [c.replace("_", " ") for c in PORT_MAP_COLUMNS if c not in ("zone", "public_ip")]
    return table(
        [[*key[:2], " ".join(ips), *key[2:]] for key, ips in grouped.items()], [*header[:2], "public ips", *header[2:]]
    )


def port_map_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=PORT_MAP_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row[c] for c in PORT_MAP_COLUMNS})
    return out.getvalue()


def edge_table(outputs: dict[str, Any], placeholders: Iterable[str]) -> str:
    """One line per accelerated host: its role, the DNS record it needs, and whether wfga writes it."""
    known = set(placeholders)
    hosts = [(host, item.get("role", ""), item) for host, item in (outputs.get("service_domains") or {}).items()]
    storage = outputs.get("object_storage")
    if storage is not None:
        for host, item in storage["hosts"].items():
            hosts.append((host, f"media: {', '.join(item['buckets'])}", item))
        if storage.get("upload_front"):
            hosts.append((storage["upload"]["host"], "upload", storage["upload_front"]))
    rows = []
    for host, role, item in hosts:
        record = item["dns_record"]
        value = record["value"] + (MARK if record["value"] in known else "")
        kind = f"{record['type']}{' proxied' if record['proxied'] else ''}"
        dns = f"wfga, zone {item['dns_zone']}" if item["dns_zone"] else "create it yourself"
        rows.append([host, role, item["provider"], item["origin"], kind, value, dns])
    table_text = table(rows, ["host", "role", "provider", "origin", "record", "points to", "dns record by"])
    if storage is not None:
        upload = storage["upload"]
        table_text += (
            f"\n  uploads (media.server_host): {upload['host']}, ports {upload['port']} / {upload['ssl_port']} (SSL)"
        )
    return table_text


def render_plan(plan: Plan) -> str:
    out = [f"wfga offline plan: stack {plan.stack} (mock runtime: no cloud was contacted)", ""]
    out += ["Resources", resource_summary(plan), ""]
    outputs = plan.outputs
    if "cen" in outputs:
        out += ["CEN (core)", *(f"  {k}: {v}" for k, v in outputs["cen"].items()), ""]
    if "port_map" in outputs:
        out += ["Port map", port_map_table(outputs["port_map"], plan.placeholders), ""]
    if "node_config" in outputs:
        out += ["Node config (server.backup_address per node)"]
        out += [
            f"  {node}: {mark_placeholders(line, plan.placeholders)}" for node, line in outputs["node_config"].items()
        ]
        out.append("")
    if outputs.get("service_domains") or "object_storage" in outputs:
        out += ["Service domains and object storage", edge_table(outputs, plan.placeholders), ""]
    if "media_config" in outputs:
        out += ["Media config (im-server wildfirechat.conf; add media.access_key and media.secret_key)"]
        out += [f"  {line}" for line in outputs["media_config"]]
        out.append("")
    if plan.placeholders:
        out.append(
            f"{MARK} placeholder: the cloud assigns this address at deploy time; pin EIPs to know it now. "
            "Ids are placeholders too."
        )
    return "\n".join(out)
