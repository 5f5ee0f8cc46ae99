"""A Mermaid flowchart of a plan: regions, access points, their links, load balancers and nodes.

Pure: it reads only the plan JSON (``wfga plan --json``).  GitHub renders Mermaid in Markdown, so
:func:`render_markdown` wraps the graph in a fenced block for a ``.md`` file or a PR comment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

PLACEHOLDER_MARK = "*"
CEN_LINK_TYPE = "wfga:cen_link:CenLink"
PEER_ATTACHMENT_TYPE = "alicloud:cen/transitRouterPeerAttachment:TransitRouterPeerAttachment"


def mermaid_id(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", p) for p in parts)


def label(*lines: str) -> str:
    """A quoted Mermaid label; quotes inside become entities so they cannot end the label."""
    return '"' + "<br/>".join(line.replace('"', "#quot;") for line in lines) + '"'


def _cluster_region(resources: Sequence[Mapping[str, Any]]) -> str | None:
    # The peer attachment of every CEN link names the cluster's region; nothing else in a plan does.
    for res in resources:
        if res.get("type") == PEER_ATTACHMENT_TYPE:
            region = res.get("inputs", {}).get("peerTransitRouterRegionId")
            if isinstance(region, str):
                return region
    return None


def _nodes(port_map: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """node -> {"ip": target ip, service: target port} from the port map, in order of appearance."""
    nodes: dict[str, dict[str, str]] = {}
    for row in port_map:
        info = nodes.setdefault(str(row["node"]), {"ip": str(row["target_ip"])})
        info[str(row["service"])] = str(row["target_port"])
    return nodes


def _public_ports(port_map: Sequence[Mapping[str, Any]], ap: str, lb: str, node: str) -> str:
    ports = {
        str(row["service"]): str(row["public_port"])
        for row in port_map
        if row["access_point"] == ap and row["load_balancer"] == lb and row["node"] == node
    }
    return " / ".join(ports[s] for s in ("short", "long", "ws") if s in ports)


def render(plan: Mapping[str, Any]) -> str:
    """The Mermaid source for the plan (``flowchart LR``)."""
    outputs: Mapping[str, Any] = plan.get("outputs", {})
    resources: Sequence[Mapping[str, Any]] = plan.get("resources", [])
    access_points: Mapping[str, Mapping[str, Any]] = outputs.get("access_points", {})
    port_map: Sequence[Mapping[str, Any]] = outputs.get("port_map", [])
    placeholders = set(plan.get("placeholders", []))
    cen_links = {r.get("name") for r in resources if r.get("type") == CEN_LINK_TYPE}
    cluster_region = _cluster_region(resources)
    nodes = _nodes(port_map)

    def address(ip: str) -> str:
        return ip + PLACEHOLDER_MARK if ip in placeholders else ip

    lines = ["flowchart LR", f"  %% wfga stack {plan.get('stack', '')}: offline plan"]
    if placeholders & {
        ip for ap in access_points.values() for lb in ap["load_balancers"].values() for ip in lb["public_ips"]
    }:
        lines.append(f"  %% {PLACEHOLDER_MARK} = placeholder address: the cloud assigns it at deploy time")
    lines.append(f"  clients([{label('clients')}])")
    regions = list(
        dict.fromkeys([*(str(ap["region"]) for ap in access_points.values()), *filter(None, [cluster_region])])
    )
    cluster_id = mermaid_id("cluster")
    for region in regions:
        lines.append(f"  subgraph {mermaid_id('region', region)}[{label(region)}]")
        for name, ap in access_points.items():
            if ap["region"] != region:
                continue
            lines.append(f"    subgraph {mermaid_id('ap', name)}[{label(f'access point {name}')}]")
            for lb_key, lb in ap["load_balancers"].items():
                zones = [address(ip) for ip in lb["public_ips"]]
                lines.append(f"      {mermaid_id('lb', name, lb_key)}[{label(lb_key, *zones)}]")
            lines.append("    end")
        if region == cluster_region:
            lines += _cluster_lines(cluster_id, nodes, indent="    ")
        lines.append("  end")
    if cluster_region is None and nodes:
        lines += _cluster_lines(cluster_id, nodes, indent="  ")
    for name, ap in access_points.items():
        ap_id = mermaid_id("ap", name)
        lines.append(f"  clients -.-> {ap_id}")
        link = "CEN" if name in cen_links else "existing link"
        lines.append(f"  {ap_id} ==>|{label(link)}| {cluster_id}")
        for lb_key, lb in ap["load_balancers"].items():
            for node in lb["nodes"]:
                ports = _public_ports(port_map, name, lb_key, node)
                lines.append(f"  {mermaid_id('lb', name, lb_key)} -->|{label(ports)}| {mermaid_id('node', node)}")
    return "\n".join(lines) + "\n"


def _cluster_lines(cluster_id: str, nodes: Mapping[str, Mapping[str, str]], indent: str) -> list[str]:
    lines = [f"{indent}subgraph {cluster_id}[{label('IM cluster')}]"]
    for node, info in nodes.items():
        ports = " / ".join(f":{info[s]}" for s in ("short", "long", "ws") if s in info)
        lines.append(f"{indent}  {mermaid_id('node', node)}[{label(node, info['ip'], ports)}]")
    lines.append(f"{indent}end")
    return lines


def render_markdown(plan: Mapping[str, Any]) -> str:
    return f"# wfga stack {plan.get('stack', '')}\n\n```mermaid\n{render(plan)}```\n"
