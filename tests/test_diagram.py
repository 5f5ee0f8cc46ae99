"""The Mermaid diagram of a plan: regions, access points, links, load balancers, nodes."""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.conftest import stack_plan
from wfga.cli import main
from wfga.ops import diagram

_ID = r"[A-Za-z0-9_]+"
_LABEL = r'"[^"]*"'
_GRAMMAR = [
    re.compile(r"flowchart LR"),
    re.compile(r"%%.*"),
    re.compile(rf"subgraph {_ID}\[{_LABEL}\]"),
    re.compile(r"end"),
    re.compile(rf"{_ID}\[{_LABEL}\]"),
    re.compile(rf"{_ID}\(\[{_LABEL}\]\)"),
    re.compile(rf"{_ID} (-->|==>|-\.->)(\|{_LABEL}\|)? {_ID}"),
]


def check_syntax(source: str) -> tuple[set[str], list[tuple[str, str]]]:
    """The subset of Mermaid flowchart syntax the renderer emits; returns defined ids and edges."""
    defined: set[str] = set()
    edges: list[tuple[str, str]] = []
    depth = 0
    for line in source.splitlines():
        text = line.strip()
        assert any(g.fullmatch(text) for g in _GRAMMAR), f"unexpected Mermaid line: {line!r}"
        if text.startswith("subgraph "):
            depth += 1
            defined.add(text.split()[1].split("[")[0])
        elif text == "end":
            depth -= 1
        elif (edge := re.fullmatch(rf"({_ID}) \S+ ({_ID})", re.sub(r"\|[^|]*\|", "", text))) is not None:
            edges.append((edge.group(1), edge.group(2)))
        elif re.match(rf"{_ID}[\[(]", text):
            defined.add(re.match(_ID, text).group(0))  # type: ignore[union-attr]
        assert depth >= 0
    assert depth == 0
    assert all(a in defined and b in defined for a, b in edges), "an edge names an undefined node"
    return defined, edges


def demo() -> dict[str, Any]:
    return stack_plan("demo").to_json()


def test_demo_diagram_has_regions_access_points_links_and_nodes():
    source = diagram.render(demo())
    defined, edges = check_syntax(source)
    assert {"region_ap_southeast_1", "region_eu_central_1", "region_cn_hangzhou"} <= defined
    assert {"ap_sg", "ap_fra", "lb_sg_nlb_1", "lb_fra_nlb_1", "cluster"} <= defined
    assert {f"node_im_{i}" for i in range(1, 7)} <= defined
    assert ("ap_sg", "cluster") in edges
    assert ("ap_fra", "cluster") in edges
    assert sum(1 for a, _ in edges if a.startswith("lb_")) == 12  # 2 access points x 6 nodes
    assert 'lb_sg_nlb_1 -->|"81 / 1881 / 8081"| node_im_1' in source
    assert 'ap_sg ==>|"CEN"| cluster' in source


def test_cluster_sits_in_its_region_and_placeholders_are_marked():
    source = diagram.render(demo())
    region = source.index('subgraph region_cn_hangzhou["cn-hangzhou"]')
    assert source.index("subgraph cluster[") > region
    assert re.search(r"\d+\.\d+\.\d+\.\d+\*", source)
    assert "%% * = placeholder address" in source


def test_without_a_cen_link_the_link_is_existing_and_the_cluster_stands_alone():
    plan = demo()
    plan["resources"] = [r for r in plan["resources"] if "cen" not in r["type"]]
    source = diagram.render(plan)
    check_syntax(source)
    assert 'ap_sg ==>|"existing link"| cluster' in source
    assert "region_cn_hangzhou" not in source


def test_quotes_in_labels_cannot_break_out():
    plan = copy.deepcopy(demo())
    plan["stack"] = 'x"y'
    plan["outputs"]["access_points"]["sg"]["region"] = 'ap-"evil'
    source = diagram.render(plan)
    check_syntax(source)
    assert '"ap-#quot;evil"' in source


def test_plan_writes_a_markdown_diagram(tmp_path, capsys):
    out = tmp_path / "demo.md"
    assert main(["plan", "demo", "--quiet", "--diagram", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# wfga stack demo\n\n```mermaid\nflowchart LR\n")
    assert text.endswith("```\n")
    raw = tmp_path / "demo.mmd"
    assert main(["plan", "demo", "--quiet", "--diagram", str(raw)]) == 0
    assert raw.read_text() == diagram.render(demo())
    assert capsys.readouterr().out == ""
