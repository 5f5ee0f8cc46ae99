"""Read a stack's configuration the way the Pulumi CLI would: project config, then the stack file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfga.model.config import NAMESPACE, ConfigError, StackConfig, parse_stack_config
from wfga.offline.yamldoc import MAX_BYTES, Decoder, Node, YamlProblem, compose, source

SECRET_PLACEHOLDER = "[secret]"


@dataclass(frozen=True)
class StackValues:
    stack: str
    values: dict[str, Any]
    secret_keys: frozenset[str] = field(default_factory=frozenset)


def project_root(start: Path | None = None) -> Path:
    """Like the Pulumi CLI: the nearest Pulumi.yaml from ``start`` (default: the working directory) up.

    From a source checkout run elsewhere, the checkout itself.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return Path(__file__).resolve().parents[2]


def project_of(stack_file: Path) -> Path:
    """The project a stack file belongs to: the nearest Pulumi.yaml above it, else the working one."""
    here = stack_file.resolve().parent
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return project_root()


def program_dir(root: Path) -> Path:
    """Where the program (``__main__.py``) lives: Pulumi.yaml's ``main`` (relative to it), else the project."""
    if not (root / "Pulumi.yaml").is_file():
        return root
    _, document = _read_document(root / "Pulumi.yaml")
    pairs = document.pairs if document is not None else []
    main = next((v.value for k, v in pairs if k.kind == "scalar" and k.value == "main" and v.kind == "scalar"), "")
    if not main:
        return root
    folder = (root / main).resolve()
    return folder.parent if folder.suffix == ".py" else folder


def program_problem(root: Path) -> str | None:
    """What is wrong with where Pulumi.yaml's ``main`` points, said about the project's own file."""
    program = program_dir(root)
    if (program / "__main__.py").is_file():
        return None
    return (
        f"{root / 'Pulumi.yaml'}: main: {program} holds no __main__.py; point main at the folder of "
        "wfga's __main__.py (relative to Pulumi.yaml), or leave main out when the project is that folder"
    )


def _read_document(path: Path) -> tuple[str, Node | None]:
    """The file's text and root node; a mapping or nothing at the top, or a ConfigError."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError([f"{path}: {size} bytes is more than a stack file needs (at most {MAX_BYTES})"])
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError([f"{path}: cannot read ({err.strerror})"]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(
            [f"{path}: line {line}: not UTF-8 text (byte 0x{data[err.start]:02x}); save the file as UTF-8"]
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ConfigError([f"{path}: line {line}: binary data (a NUL byte); a stack file is YAML text"])
    try:
        root = compose(text)
    except YamlProblem as err:
        raise ConfigError([f"{path}: {err}"]) from None
    if root is not None and root.kind != "map":
        raise ConfigError([f"{path}: expected a mapping at the top level (config: ...), not a {_KIND[root.kind]}"])
    return text, root


_KIND = {"scalar": "single value", "seq": "list", "map": "mapping"}


def _config_entries(path: Path, text: str, root: Node | None, problems: list[str]) -> Iterator[tuple[str, Node]]:
    """The ``config:`` section's (namespaced key, value node) pairs, each key once."""
    if root is None:
        return
    section = next((value for key, value in root.pairs if key.kind == "scalar" and key.value == "config"), None)
    if section is None or (section.kind == "scalar" and section.plain and section.value in ("", "~", "null")):
        return
    if section.kind != "map":
        problems.append(
            f"{path}: line {section.line}: config: expected a mapping of key: value, not a {_KIND[section.kind]}"
        )
        return
    seen: dict[str, Node] = {}
    for key_node, value_node in section.pairs:
        if key_node.kind != "scalar":
            problems.append(f"{path}: line {key_node.line}: config: a key must be a word such as wfga:cluster")
            continue
        full = _namespaced(key_node.value)
        first = seen.get(full)
        if first is not None:
            problems.append(
                f"{full}: {path.name} line {key_node.line}: set twice in config (first at line {first.line}); keep one"
            )
            continue
        seen[full] = key_node
        yield full, value_node


def _value(path: Path, text: str, key: str, node: Node, problems: list[str]) -> Any:
    # Only wfga's own namespace is decoded; other namespaces belong to the providers and pass
    # through as the text they were written as, whatever YAML they use.
    if not key.startswith(f"{NAMESPACE}:"):
        return source(text, node)
    decoder = Decoder(path.name)
    value = decoder.decode(node, key)
    problems += decoder.problems
    return value


def _namespaced(key: str) -> str:
    # Pulumi puts keys without a namespace into the project's own, which is ours.
    return key if ":" in key else f"{NAMESPACE}:{key}"


def _project_values(path: Path, problems: list[str]) -> dict[str, Any]:
    text, root = _read_document(path)
    values: dict[str, Any] = {}
    for key, decl in _config_entries(path, text, root, problems):
        if decl.kind == "map":
            # A declaration: `value:` sets it, `default:` too; `type:` alone leaves it unset.
            inner = {k.value: v for k, v in decl.pairs if k.kind == "scalar"}
            node = inner.get("value", inner.get("default"))
            if node is not None:
                values[key] = _value(path, text, key, node, problems)
        else:
            values[key] = _value(path, text, key, decl, problems)
    return values


def project_config(root: Path) -> dict[str, Any]:
    """Project-level values from Pulumi.yaml: plain scalars, or ``{value: ...}`` / ``{default: ...}``."""
    problems: list[str] = []
    values = _project_values(root / "Pulumi.yaml", problems)
    if problems:
        raise ConfigError(problems)
    return values


def stack_path(root: Path, stack: str) -> Path:
    return root / "stacks" / f"Pulumi.{stack}.yaml"


def stack_name_of(path: Path) -> str:
    name = path.name
    if name.startswith("Pulumi.") and name.endswith((".yaml", ".yml")):
        return name.split(".", 1)[1].rsplit(".", 1)[0]
    return path.stem


def load_stack(stack_file: Path, root: Path | None = None) -> StackValues:
    """Merge project config with the stack file; a stack value replaces the whole project value.

    Total: whatever bytes either file holds, the result is a StackValues or a ConfigError.
    """
    root = root or project_root()
    if stack_file.exists() and not stack_file.is_file():
        raise ConfigError([f"{stack_file}: not a stack file (a directory or a device); give a Pulumi.STACK.yaml file"])
    if not stack_file.is_file():
        known = sorted(stack_name_of(p) for p in (root / "stacks").glob("Pulumi.*.yaml"))
        raise ConfigError([f"{stack_file}: no such stack file; stacks here: {', '.join(known) or 'none'}"])
    problems: list[str] = []
    values = _project_values(root / "Pulumi.yaml", problems)
    secrets: set[str] = set()
    text, document = _read_document(stack_file)
    for key, node in _config_entries(stack_file, text, document, problems):
        if node.kind == "map" and [k.value for k, _ in node.pairs] == ["secure"]:
            # Ciphertext needs the stack's secrets provider; the offline plan never decrypts.
            secrets.add(key)
            values[key] = SECRET_PLACEHOLDER
        else:
            values[key] = _value(stack_file, text, key, node, problems)
    if problems:
        raise ConfigError(problems)
    return StackValues(stack=stack_name_of(stack_file), values=values, secret_keys=frozenset(secrets))


def project_name(root: Path) -> str:
    _, document = _read_document(root / "Pulumi.yaml")
    found = next((v for k, v in document.pairs if k.value == "name"), None) if document is not None else None
    return found.value if found is not None and found.kind == "scalar" else NAMESPACE


def _referenced(name: str, root: Path) -> StackConfig | str:
    """The configuration of the stack ``organization/project/stack`` names, or why there is none."""
    _, project, stack = name.split("/")
    own = project_name(root)
    if project != own:
        return f"{name} names project {project}, but this project is {own}; write <org>/{own}/<stack>"
    path = stack_path(root, stack)
    if not path.is_file():
        known = ", ".join(sorted(stack_name_of(p) for p in (root / "stacks").glob("Pulumi.*.yaml"))) or "none"
        return f"this project has no stack {stack} (stacks: {known}); check the spelling"
    try:
        values = load_stack(path, root)
        return parse_stack_config(values.values, values.secret_keys)
    except ConfigError as err:
        return f"the core stack {stack} is itself invalid ({len(err.problems)} problems); plan it to see them"


def core_stack_problems(cfg: StackConfig, root: Path) -> list[str]:
    """What is wrong with ``wfga:core_stack``, found from the files before any StackReference.

    The referenced stack must be a stack of this project that exports ``cen`` (a core stack)
    and describes the same cluster, or the region stack would link to the wrong network.
    """
    if cfg.core_stack is None:
        return []
    key = f"{NAMESPACE}:core_stack"
    core = _referenced(cfg.core_stack, root)
    if isinstance(core, str):
        return [f"{key}: {core}"]
    stack = cfg.core_stack.rsplit("/", 1)[-1]
    if core.core_stack is not None or not (core.layout == "core" or any(ap.link == "cen" for ap in core.access_points)):
        return [
            f"{key}: stack {stack} has no cen output (layout {core.layout}, no CEN of its own); "
            "point at the stack with wfga:layout core"
        ]
    differ = [f for f in ("cloud", "region", "vpc_id", "cidr") if getattr(cfg.cluster, f) != getattr(core.cluster, f)]
    if differ:
        theirs = ", ".join(f"{f} {getattr(core.cluster, f)}" for f in differ)
        mine = ", ".join(str(getattr(cfg.cluster, f)) for f in differ)
        return [
            f"{key}: stack {stack} describes another cluster ({theirs}; here {mine}); "
            "a region stack links to its core stack's cluster"
        ]
    return []
