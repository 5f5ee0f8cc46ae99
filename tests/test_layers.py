"""The layers of wfga/ import only downwards: model <- plan <- offline <- ops <- cli."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["model", "plan", "offline", "ops", "cli"]


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else module


def _wfga_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "wfga":
                found |= {f"wfga.{alias.name}" for alias in node.names}
            elif node.module.startswith("wfga."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("wfga.")}
    return found


def test_each_layer_imports_only_the_layers_below() -> None:
    violations = []
    for layer in ORDER:
        files = [ROOT / "wfga" / "cli.py"] if layer == "cli" else sorted((ROOT / "wfga" / layer).glob("*.py"))
        assert files, layer
        allowed = set(ORDER[: ORDER.index(layer) + 1])
        for path in files:
            for module in _wfga_imports(path):
                if _layer(module) not in allowed:
                    violations.append(f"{path.relative_to(ROOT)} imports {module}")
    assert violations == []


def test_components_use_the_pure_layers_only() -> None:
    # Components translate plans into resources; the offline engine and the operator tools sit
    # above them and must stay out of a `pulumi up`.
    violations = [
        f"{path.name} imports {module}"
        for path in sorted((ROOT / "components").glob("*.py"))
        for module in _wfga_imports(path)
        if _layer(module) not in {"model", "plan"}
    ]
    assert violations == []


def test_the_rule_sees_a_violation() -> None:
    # Guards the checker itself: an upward import is found.
    probe = ROOT / "wfga" / "model" / "config.py"
    assert "wfga.model.images" in _wfga_imports(probe)
    assert _layer("wfga.ops.diff") == "ops"
