"""Read a stack's configuration the way the Pulumi CLI would: project config, then the stack file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wfga.model.config import NAMESPACE, ConfigError

SECRET_PLACEHOLDER = "[secret]"


@dataclass(frozen=True)
class StackValues:
    stack: str
    values: dict[str, Any]
    secret_keys: frozenset[str] = field(default_factory=frozenset)


def project_root() -> Path:
    # Like the Pulumi CLI: the nearest Pulumi.yaml from the working directory up; from a source
    # checkout run elsewhere, the checkout itself.
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return Path(__file__).resolve().parents[2]


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError([f"{path}: cannot read ({err.strerror})"]) from None
    except yaml.YAMLError as err:
        raise ConfigError([f"{path}: not valid YAML ({err})"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping at the top level"])
    return data


def _namespaced(key: str) -> str:
    # Pulumi puts keys without a namespace into the project's own, which is ours.
    return key if ":" in key else f"{NAMESPACE}:{key}"


def project_config(root: Path) -> dict[str, Any]:
    """Project-level values from Pulumi.yaml: plain scalars, or ``{value: ...}`` / ``{default: ...}``."""
    data = _load_yaml(root / "Pulumi.yaml").get("config") or {}
    values: dict[str, Any] = {}
    for key, decl in data.items():
        if isinstance(decl, dict) and "value" in decl:
            values[_namespaced(key)] = decl["value"]
        elif isinstance(decl, dict) and "default" in decl:
            values[_namespaced(key)] = decl["default"]
        elif not isinstance(decl, dict):
            values[_namespaced(key)] = decl
    return values


def stack_path(root: Path, stack: str) -> Path:
    return root / "stacks" / f"Pulumi.{stack}.yaml"


def stack_name_of(path: Path) -> str:
    name = path.name
    if name.startswith("Pulumi.") and name.endswith((".yaml", ".yml")):
        return name.split(".", 1)[1].rsplit(".", 1)[0]
    return path.stem


def load_stack(stack_file: Path, root: Path | None = None) -> StackValues:
    """Merge project config with the stack file; a stack value replaces the whole project value."""
    root = root or project_root()
    if not stack_file.is_file():
        known = sorted(stack_name_of(p) for p in (root / "stacks").glob("Pulumi.*.yaml"))
        raise ConfigError([f"{stack_file}: no such stack file; stacks here: {', '.join(known) or 'none'}"])
    values = project_config(root)
    secrets: set[str] = set()
    for key, value in (_load_yaml(stack_file).get("config") or {}).items():
        full = _namespaced(str(key))
        if isinstance(value, dict) and set(value) == {"secure"}:
            # Ciphertext needs the stack's secrets provider; the offline plan never decrypts.
            secrets.add(full)
            values[full] = SECRET_PLACEHOLDER
        else:
            values[full] = value
    return StackValues(stack=stack_name_of(stack_file), values=values, secret_keys=frozenset(secrets))
