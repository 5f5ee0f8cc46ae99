"""YAML for stack files with bounded work: any text in, a node tree or a :class:`YamlProblem` out.

PyYAML's own loaders recurse once per nesting level, expand aliases without limit and build
objects JSON cannot hold (dates, sets, bytes).  Here the event stream is folded into nodes
iteratively while the nesting depth, the node count and the characters *after* alias expansion
are counted, so a deep or "billion laughs" document stops within a few events.  Values are then decoded with the
JSON-compatible subset of YAML the Pulumi CLI passes to a program: null, booleans, integers,
floats, strings, lists and string-keyed mappings; timestamps stay strings, as the CLI keeps them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

# A stack file is a few kilobytes; these bounds are far above any real one and far below harm.
MAX_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_NODES = 200_000
# Characters of the values once aliases are expanded: a long string repeated by thousands of
# aliases stays under MAX_NODES yet would decode to hundreds of megabytes.
MAX_EXPANDED_CHARS = 4 * MAX_BYTES
# Integers longer than this stay text: Python refuses to convert very long digit strings, and no
# setting needs one.
MAX_INT_DIGITS = 40

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STD = "tag:yaml.org,2002:"
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_OCT = re.compile(r"0o[0-7]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?")
_SCALAR_TAGS = frozenset(f"{_STD}{t}" for t in ("str", "int", "float", "bool", "null"))
_MERGE = "<<"


class YamlProblem(Exception):
    """Why a document was refused, with the line and column (1-based) where it happened."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line is not None else ""
        return f"{where}{self.message}"


@dataclass(eq=False)
class Node:
    kind: Literal["scalar", "seq", "map"]
    tag: str | None
    line: int
    column: int
    start: int
    end: int = 0
    value: str = ""
    plain: bool = False
    items: list[Node] = field(default_factory=list)
    # Nodes in this subtree once aliases are expanded: what decoding it would cost.
    size: int = 1
    # Characters of its scalars once aliases are expanded.
    chars: int = 0

    @property
    def pairs(self) -> Iterator[tuple[Node, Node]]:
        return zip(self.items[::2], self.items[1::2], strict=True)


def _mark(event: Any) -> tuple[int, int]:
    return event.start_mark.line + 1, event.start_mark.column + 1


def _index(mark: Any) -> int:
    return int(mark.index)


def compose(text: str) -> Node | None:
    """The document's root node (None for an empty document), within the bounds above."""
    if len(text) > MAX_BYTES:
        raise YamlProblem(f"{len(text)} characters is more than a stack file needs (at most {MAX_BYTES})")
    stack: list[Node] = []
    # The latest node of each anchor name; an alias to one still open (on the stack) would loop.
    anchors: dict[str, Node] = {}
    open_nodes: set[int] = set()
    total = 0
    total_chars = 0
    root: Node | None = None
    documents = 0

    def attach(node: Node) -> None:
        nonlocal root
        if stack:
            stack[-1].items.append(node)
        else:
            root = node

    def count(n: int, chars: int, event: Any) -> None:
        nonlocal total, total_chars
        total += n
        total_chars += chars
        if total > MAX_NODES:
            raise YamlProblem(
                f"the document expands to more than {MAX_NODES} values (aliases repeating aliases?); "
                "write the values out instead",
                *_mark(event),
            )
        if total_chars > MAX_EXPANDED_CHARS:
            raise YamlProblem(
                f"the document expands to more than {MAX_EXPANDED_CHARS} characters (an alias repeating a long "
                "value?); write the values out instead",
                *_mark(event),
            )

    try:
        events: Iterator[Any] = yaml.parse(text, Loader=_Loader)
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise YamlProblem("a second YAML document (---); a stack file holds one", *_mark(event))
            elif isinstance(event, yaml.ScalarEvent):
                line, column = _mark(event)
                node = Node(
                    "scalar",
                    event.tag,
                    line,
                    column,
                    _index(event.start_mark),
                    _index(event.end_mark),
                    value=event.value,
                    plain=not event.style and event.tag in (None, "!") and event.implicit[0],
                    chars=len(event.value),
                )
                count(1, node.chars, event)
                if event.anchor:
                    anchors[event.anchor] = node
                attach(node)
            elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep", *_mark(event))
                kind: Literal["seq", "map"] = "seq" if isinstance(event, yaml.SequenceStartEvent) else "map"
                node = Node(kind, event.tag, *_mark(event), _index(event.start_mark))
                count(1, 0, event)
                if event.anchor:
                    anchors[event.anchor] = node
                open_nodes.add(id(node))
                stack.append(node)
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                node = stack.pop()
                node.end = _index(event.end_mark)
                node.size = 1 + sum(child.size for child in node.items)
                node.chars = sum(child.chars for child in node.items)
                open_nodes.discard(id(node))
                attach(node)
            elif isinstance(event, yaml.AliasEvent):
                target = anchors.get(str(event.anchor))
                if target is None:
                    raise YamlProblem(f"alias *{event.anchor} has no anchor &{event.anchor} before it", *_mark(event))
                if id(target) in open_nodes:
                    raise YamlProblem(f"alias *{event.anchor} refers to a value that contains it", *_mark(event))
                count(target.size, target.chars, event)
                attach(target)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = " ".join(str(part) for part in (err.context, err.problem) if part)
        if mark is None:
            raise YamlProblem(f"not valid YAML ({problem})") from None
        raise YamlProblem(f"not valid YAML: {problem}", mark.line + 1, mark.column + 1) from None
    except yaml.YAMLError as err:
        raise YamlProblem(f"not valid YAML ({err})") from None
    return root


def source(text: str, node: Node) -> str:
    """A node as written, for values passed through without being decoded."""
    if node.kind == "scalar":
        return node.value
    return text[node.start : node.end].rstrip()


def key_text(node: Node) -> str:
    if node.kind != "scalar":
        raise YamlProblem("a key must be a plain word, not a list or a mapping", node.line, node.column)
    return node.value


def scalar(node: Node) -> Any:
    """A scalar as JSON would hold it; YAML 1.2 core rules for plain scalars, strings otherwise."""
    tag, text = node.tag, node.value
    if tag not in (None, "!") and tag not in _SCALAR_TAGS:
        raise YamlProblem(
            f"tag {_short(tag)}: JSON cannot hold it; write the value without the tag", node.line, node.column
        )
    if tag == f"{_STD}str" or (tag is None and not node.plain) or tag == "!":
        return text
    for kind, convert in _RESOLVERS:
        if tag in (None, f"{_STD}{kind}"):
            found, value = convert(text)
            if found:
                return value
    if tag is not None:
        raise YamlProblem(f"{text!r} is not a valid {_short(tag)}", node.line, node.column)
    return text


def _null(text: str) -> tuple[bool, Any]:
    return text in _NULL, None


def _bool(text: str) -> tuple[bool, Any]:
    return text in _BOOL, _BOOL.get(text)


def _int(text: str) -> tuple[bool, Any]:
    if len(text.lstrip("+-")) > MAX_INT_DIGITS:
        return False, None
    if _INT.fullmatch(text):
        return True, int(text)
    if _HEX.fullmatch(text) or _OCT.fullmatch(text):
        return True, int(text, 0)
    return False, None


def _float(text: str) -> tuple[bool, Any]:
    if not _FLOAT.fullmatch(text):
        return False, None
    number = float(text)
    return math.isfinite(number), number


_RESOLVERS: tuple[tuple[str, Callable[[str], tuple[bool, Any]]], ...] = (
    ("null", _null),
    ("bool", _bool),
    ("int", _int),
    ("float", _float),
)


def _short(tag: str) -> str:
    return f"!!{tag.removeprefix(_STD)}" if tag.startswith(_STD) else tag


@dataclass
class Decoder:
    """Decodes nodes into JSON values, collecting every problem with its key path."""

    source_name: str
    problems: list[str] = field(default_factory=list)

    def problem(self, path: str, node: Node, message: str) -> None:
        self.problems.append(f"{path}: {self.source_name} line {node.line}, column {node.column}: {message}")

    def decode(self, node: Node, path: str) -> Any:
        if node.kind == "scalar":
            try:
                return scalar(node)
            except YamlProblem as err:
                self.problem(path, node, err.message)
                return None
        if node.tag not in (None, "!", f"{_STD}seq", f"{_STD}map"):
            self.problem(path, node, f"tag {_short(node.tag)}: JSON cannot hold it; write the value without the tag")
            return None
        if node.kind == "seq":
            return [self.decode(item, f"{path}[{i}]") for i, item in enumerate(node.items)]
        return self.mapping(node, path)

    def mapping(self, node: Node, path: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, Node] = {}
        merged: list[Node] = []
        for key_node, value_node in node.pairs:
            try:
                key = key_text(key_node)
            except YamlProblem as err:
                self.problem(path, key_node, err.message)
                continue
            if key == _MERGE and key_node.plain:
                merged += value_node.items if value_node.kind == "seq" else [value_node]
                continue
            first = seen.get(key)
            if first is not None:
                self.problem(
                    _join(path, key),
                    key_node,
                    f"duplicate key {key!r} (first at line {first.line}); a key may appear once in a mapping",
                )
                continue
            seen[key] = key_node
            result[key] = self.decode(value_node, _join(path, key))
        for source_node in merged:
            # `<<: *defaults` fills in keys the mapping does not set itself.
            if source_node.kind != "map":
                self.problem(path, source_node, "a merge key (<<) takes a mapping or a list of mappings")
                continue
            for key, value in self.mapping(source_node, path).items():
                result.setdefault(key, value)
        return result


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path and not path.endswith(":") else f"{path}{key}"
