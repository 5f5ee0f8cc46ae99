"""Human-readable renderings of an offline plan: summary, port map, node config, CSV."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from wfga.model.config import AWS_DEFAULT_EIPS_PER_REGION, Quotas
from wfga.offline.engine import Plan
from wfga.plan.nodeline import PLACEHOLDER_TAG, mark, node_config_line, placeholders_in

MARK = "*"


def as_written(plan: Plan) -> Plan:
    """The plan as ``wfga plan --json`` writes it: each ``node_config`` line marks its placeholder entries.

    ``node_config`` is the one output a reader would paste into a node as it stands; marked
    ``#PLACEHOLDER``, a pasted line makes the server refuse its file (see :mod:`wfga.plan.nodeline`).
    The entries themselves (``backup_addresses``, ``backup_entries``, ``port_map``) keep the bare
    addresses, listed under ``placeholders``, for the commands that read them and refuse them.
    """
    lines = plan.outputs.get("node_config")
    addresses = plan.outputs.get("backup_addresses")
    if not isinstance(lines, dict) or not isinstance(addresses, dict) or not plan.placeholders:
        return plan
    known = set(plan.placeholders)
    marked = {
        node: node_config_line(mark(addresses[node].split(","), known)) if node in addresses else line
        for node, line in lines.items()
    }
    return replace(plan, outputs={**plan.outputs, "node_config": marked})


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
    """Every placeholder address in ``text`` with a mark; pass a set when calling once per row."""
    known = placeholders if isinstance(placeholders, set | frozenset) else set(placeholders)
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
    children: dict[str, Counter[str]] = {}
    for r in plan.resources:
        children.setdefault(r.parent, Counter())[_short_type(r.type)] += 1
    lines = []
    for comp in components:
        kids = children.get(comp.urn, Counter())
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
    known = set(placeholders)
    grouped: dict[tuple[str, ...], list[str]] = {}
    for row in rows:
        key = tuple(str(row[c]) for c in PORT_MAP_COLUMNS if c not in ("zone", "public_ip"))
        grouped.setdefault(key, []).append(mark_placeholders(str(row["public_ip"]), known))
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


# What a stack creates that the clouds bill for, by region: (label, resource types).
BILLED: tuple[tuple[str, frozenset[str]], ...] = (
    ("NLBs", frozenset({"alicloud:nlb/loadBalancer:LoadBalancer", "aws:lb/loadBalancer:LoadBalancer"})),
    ("listeners", frozenset({"alicloud:nlb/listener:Listener", "aws:lb/listener:Listener"})),
    ("EIPs", frozenset({"alicloud:ecs/eipAddress:EipAddress", "aws:ec2/eip:Eip"})),
    ("VMs", frozenset({"alicloud:ecs/instance:Instance", "aws:ec2/instance:Instance"})),
    ("transit routers", frozenset({"alicloud:cen/transitRouter:TransitRouter"})),
    (
        "TR VPC attachments",
        frozenset({"alicloud:cen/transitRouterVpcAttachment:TransitRouterVpcAttachment"}),
    ),
    (
        "TR peer attachments",
        frozenset({"alicloud:cen/transitRouterPeerAttachment:TransitRouterPeerAttachment"}),
    ),
    ("VPC peerings", frozenset({"aws:ec2/vpcPeeringConnection:VpcPeeringConnection"})),
    ("CEN instances", frozenset({"alicloud:cen/instance:Instance"})),
    (
        "CDN domains",
        frozenset(
            {
                "alicloud:dcdn/domain:Domain",
                "alicloud:cdn/domainNew:DomainNew",
                "aws:cloudfront/distribution:Distribution",
            }
        ),
    ),
    ("Argo zones", frozenset({"cloudflare:index/argoSmartRouting:ArgoSmartRouting"})),
)
# Services without a region: CEN instances, CDNs and Cloudflare.
GLOBAL_TYPES = frozenset(
    {
        "alicloud:cen/instance:Instance",
        "alicloud:dcdn/domain:Domain",
        "alicloud:cdn/domainNew:DomainNew",
        "aws:cloudfront/distribution:Distribution",
        "cloudflare:index/argoSmartRouting:ArgoSmartRouting",
    }
)
GLOBAL = "(global)"


def _regions(plan: Plan) -> dict[str, str]:
    """Each resource's region: its own ``region`` input (pulumi-aws 7), else its provider's."""
    providers = {
        r.urn: str(r.inputs.get("region", "")) for r in plan.resources if r.type.startswith("pulumi:providers:")
    }
    found: dict[str, str] = {}
    for r in plan.resources:
        if r.type in GLOBAL_TYPES:
            found[r.urn] = GLOBAL
        elif r.inputs.get("region"):
            found[r.urn] = str(r.inputs["region"])
        else:
            found[r.urn] = providers.get(r.provider.rsplit("::", 1)[0], "") or "?"
    return found


def bill_of_materials(plan: Plan) -> list[dict[str, Any]]:
    """Per region, the count of each billed kind of resource the stack creates (pinned EIPs are not)."""
    regions = _regions(plan)
    counts: dict[str, Counter[str]] = {}
    for r in plan.resources:
        for label, types in BILLED:
            if r.custom and r.type in types:
                counts.setdefault(regions[r.urn], Counter())[label] += 1
    order = sorted(counts, key=lambda region: (region == GLOBAL, region))
    return [{"region": region, **{label: counts[region][label] for label, _ in BILLED}} for region in order]


_EIP_TYPES = {"aws:ec2/eip:Eip": "aws", "alicloud:ecs/eipAddress:EipAddress": "alicloud"}
_EIP_QUOTA_NAME = {
    "aws": "Service Quotas, Amazon EC2, 'EC2-VPC Elastic IPs'",
    "alicloud": "Quota Center, the EIP quota of the region",
}


def quota_warnings(plan: Plan, quotas: Quotas) -> list[str]:
    """EIPs the stack creates per cloud and region, above the account's quota (wfga:quotas).

    AWS's default is 5 per region; Alibaba Cloud's varies by account, so it is judged only where
    the stack gives it.  The account's other EIPs (pinned ones, other stacks) count too.
    """
    regions = _regions(plan)
    created: Counter[tuple[str, str]] = Counter(
        (_EIP_TYPES[r.type], regions[r.urn]) for r in plan.resources if r.custom and r.type in _EIP_TYPES
    )
    warnings = []
    for (cloud, region), count in sorted(created.items()):
        quota = quotas.eips(cloud, region)
        if quota is None or count <= quota:
            continue
        given = quotas.aws if cloud == "aws" else quotas.alicloud
        if region in given.regions:
            source = f"wfga:quotas.{cloud}.regions.{region}.eips"
        elif given.eips is not None:
            source = f"wfga:quotas.{cloud}.eips"
        else:
            source = f"AWS's default, {AWS_DEFAULT_EIPS_PER_REGION} per region"
        warnings.append(
            f"{cloud} {region}: this stack creates {count} EIPs, above the quota of {quota} ({source}); the "
            f"account's other EIPs there count too. Raise it ({_EIP_QUOTA_NAME[cloud]}) before `pulumi up`, "
            f"then set wfga:quotas.{cloud}.regions.{region}.eips"
        )
    return warnings


def bom_table(rows: list[dict[str, Any]]) -> str:
    labels = [label for label, _ in BILLED if any(row[label] for row in rows)]
    return table([[row["region"], *(str(row[label] or "-") for label in labels)] for row in rows], ["region", *labels])


def _node_section(plan: Plan, allow_placeholders: bool) -> list[str]:
    """Node lines to paste, unless a placeholder would be among them: then entries, or marked lines."""
    known = set(plan.placeholders)
    entries = {node: [e for e in value.split(",") if e] for node, value in plan.outputs["backup_addresses"].items()}
    if not any(placeholders_in(items, known) for items in entries.values()):
        return [
            "Node config (server.backup_address per node)",
            *(f"  {node}: {node_config_line(items)}" for node, items in entries.items()),
        ]
    if allow_placeholders:
        return [
            f"Node config (server.backup_address per node; {PLACEHOLDER_TAG}: not deployed, the server refuses it)",
            *(f"  {node}: {node_config_line(mark(items, known))}" for node, items in entries.items()),
        ]
    return [
        f"Backup entries per node ({MARK} placeholder: not a line to paste; `node-config` writes the lines from "
        "the deployed outputs)",
        *(f"  {node}: {mark_placeholders(','.join(items), known)}" for node, items in entries.items()),
    ]


def render_plan(plan: Plan, *, allow_placeholders: bool = False, quotas: Quotas | None = None) -> str:
    out = [f"wfga offline plan: stack {plan.stack} (mock runtime: no cloud was contacted)", ""]
    placeholders = set(plan.placeholders)
    out += ["Resources", resource_summary(plan), ""]
    bom = bill_of_materials(plan)
    if bom:
        out += ["Bill of materials (created by this stack, per region)", bom_table(bom), ""]
    warnings = quota_warnings(plan, quotas or Quotas())
    if warnings:
        out += ["Quota warnings", *(f"  ! {w}" for w in warnings), ""]
    outputs = plan.outputs
    if "cen" in outputs:
        out += ["CEN (core)", *(f"  {k}: {v}" for k, v in outputs["cen"].items()), ""]
    if "port_map" in outputs:
        out += ["Port map", port_map_table(outputs["port_map"], placeholders), ""]
    if "backup_addresses" in outputs:
        out += [*_node_section(plan, allow_placeholders), ""]
    if outputs.get("service_domains") or "object_storage" in outputs:
        out += ["Service domains and object storage", edge_table(outputs, placeholders), ""]
    if "media_config" in outputs:
        out += ["Media config (im-server wildfirechat.conf; add media.access_key and media.secret_key)"]
        out += [f"  {line}" for line in outputs["media_config"]]
        out.append("")
    if outputs.get("turn_servers"):
        out += ["TURN servers (audio/video; the apps add their region's with addIceServer)"]
        for ap, item in outputs["turn_servers"].items():
            per_call = item["link_kbps_per_call"]
            fits = item["calls_within_link"]
            out.append(
                f"  {ap}: per call {per_call['to_cluster']} kbit/s to the cluster, {per_call['from_cluster']} from it"
                + (f"; {fits} such calls fit the link" if fits is not None else "")
            )
            out += [f"    {mark_placeholders(url, plan.placeholders)}" for url in item["urls"]]
        out.append("")
    if outputs.get("janus_config"):
        out += ["Janus (janus.jcfg on every Janus server)"]
        out += [f"  {line.expandtabs(4)}" for line in outputs["janus_config"].splitlines() if not line.startswith("#")]
        out.append("")
    if plan.placeholders:
        out.append(
            f"{MARK} placeholder: the cloud assigns this address at deploy time; pin EIPs to know it now. "
            "Ids are placeholders too."
        )
    return "\n".join(out)
