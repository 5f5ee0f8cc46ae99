"""Read and rewrite ``wildfirechat.conf`` the way the IM server reads it, byte for byte otherwise.

The server (a moquette derivative, ``ConfigurationParser``) reads the file line by line:

* a line whose very first character is ``#`` is a comment;
* a ``#`` anywhere else makes the server reject the whole file (it throws ``ParseException``), so an
  end-of-line comment or an indented comment is fatal;
* a blank line is skipped;
* otherwise the key is everything before the first *space* (not tab) and the value the rest, both
  trimmed; a line without a space breaks the parser, and an indented line yields an empty key;
* a key given twice: the last one wins.

:func:`parse` mirrors those rules and reports the lines the server would trip on;
:func:`set_value` rewrites the value of one key and leaves every other byte alone.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BACKUP_ADDRESS_KEY = "server.backup_address"
ENCODING = "utf-8"
# Undecodable bytes survive a read/write round trip instead of failing or being replaced.
ERRORS = "surrogateescape"

_NEWLINE = re.compile(r"(\r\n|\r|\n)")
# Java's String.trim() drops every character up to U+0020, control characters included.
_JAVA_TRIM = "".join(chr(c) for c in range(0x21))
# Java's \s in String.matches: space, tab, newline, vertical tab, form feed, carriage return.
_JAVA_BLANK = re.compile(r"[ \t\n\x0b\f\r]*")


@dataclass(frozen=True)
class ConfLine:
    number: int
    text: str
    ending: str
    key: str | None = None
    value: str | None = None
    problem: str | None = None
    # The server refuses the whole file over this line, rather than just misreading it.
    fatal: bool = False


@dataclass(frozen=True)
class ConfFile:
    lines: tuple[ConfLine, ...]
    newline: str
    problems: tuple[str, ...] = field(default=())

    @property
    def rejected(self) -> list[int]:
        """Numbers of the lines that make the server refuse the file."""
        return [line.number for line in self.lines if line.fatal]

    def find(self, key: str) -> ConfLine | None:
        """The line the server takes the key from: the last one that sets it."""
        found = [line for line in self.lines if line.key == key]
        return found[-1] if found else None

    def get(self, key: str) -> str | None:
        line = self.find(key)
        return None if line is None else line.value

    def duplicates(self, key: str) -> list[int]:
        """Line numbers of earlier settings of the key that the last one overrides."""
        return [line.number for line in self.lines if line.key == key][:-1]


def split_lines(text: str) -> list[tuple[str, str]]:
    """``(content, ending)`` pairs, ending ``""`` only for a last line without a newline."""
    # The same terminators as Java's BufferedReader.readLine: \n, \r and \r\n.
    parts = _NEWLINE.split(text)
    pairs = list(zip(parts[0::2], [*parts[1::2], ""], strict=True))
    if pairs[-1] == ("", ""):
        pairs.pop()
    return pairs


def _parse_line(number: int, text: str, ending: str) -> ConfLine:
    hash_at = text.find("#")
    if hash_at == 0:
        return ConfLine(number, text, ending)
    if hash_at > 0:
        return ConfLine(
            number,
            text,
            ending,
            problem=f"line {number}: '#' is only allowed as the first character; the server rejects the file",
            fatal=True,
        )
    if _JAVA_BLANK.fullmatch(text):
        return ConfLine(number, text, ending)
    space = text.find(" ")
    if space < 0:
        return ConfLine(
            number,
            text,
            ending,
            problem=f"line {number}: no space between key and value; the server cannot parse it",
            fatal=True,
        )
    key, value = text[:space].strip(_JAVA_TRIM), text[space:].strip(_JAVA_TRIM)
    if not key:
        return ConfLine(
            number,
            text,
            ending,
            key=key,
            value=value,
            problem=f"line {number}: starts with whitespace, so the server reads no key from it",
        )
    return ConfLine(number, text, ending, key=key, value=value)


def _dominant_newline(pairs: list[tuple[str, str]]) -> str:
    counts = Counter(ending for _, ending in pairs if ending)
    return counts.most_common(1)[0][0] if counts else "\n"


def parse(text: str) -> ConfFile:
    pairs = split_lines(text)
    lines = tuple(_parse_line(i, content, ending) for i, (content, ending) in enumerate(pairs, start=1))
    return ConfFile(
        lines=lines,
        newline=_dominant_newline(pairs),
        problems=tuple(line.problem for line in lines if line.problem),
    )


def _rewritten(line: ConfLine, value: str) -> str:
    # Keep everything up to the value (key, indentation, the author's spacing) as written.
    space = line.text.find(" ")
    rest = line.text[space:]
    return line.text[:space] + rest[: len(rest) - len(rest.lstrip(_JAVA_TRIM))] + value


def set_value(text: str, key: str, value: str) -> str:
    """The file with ``key``'s effective line set to ``value``, or the key appended if absent.

    Only that one line changes: comments, blank lines, other keys, earlier duplicates and every
    line ending stay as they were.  An appended key uses the file's own newline style.
    """
    if any(c in value for c in "\r\n#"):
        raise ValueError(f"a value for {key} cannot contain a newline or '#'")
    conf = parse(text)
    target = conf.find(key)
    if target is None:
        ending = conf.newline
        prefix = text if not text or text.endswith(("\n", "\r")) else text + ending
        return f"{prefix}{key}  {value}{ending}"
    out: list[str] = []
    for line in conf.lines:
        content = _rewritten(line, value) if line is target else line.text
        out.append(content + line.ending)
    return "".join(out)


def read_text(data: bytes) -> str:
    return data.decode(ENCODING, ERRORS)


def to_bytes(text: str) -> bytes:
    return text.encode(ENCODING, ERRORS)


def entries(value: str) -> list[str]:
    """The comma-separated items of a ``server.backup_address`` value, blanks dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def _ports(entry: str) -> str:
    return entry.partition(":")[2]


@dataclass(frozen=True)
class Drift:
    """How a node's entries differ from the expected ones; placeholders match any address."""

    actual: tuple[str, ...]
    expected: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    reordered: bool

    @property
    def in_sync(self) -> bool:
        return not (self.missing or self.unexpected or self.reordered)


def compare_entries(actual: Sequence[str], expected: Sequence[str], placeholders: Collection[str]) -> Drift:
    """Match expected entries to actual ones, exact matches first, then placeholders by their ports.

    A placeholder stands for an address the cloud assigns at deploy time, so only its ports can be
    checked against a real file.
    """
    free = set(range(len(actual)))
    match: dict[int, int] = {}
    for i, want in enumerate(expected):
        found = next((j for j in sorted(free) if actual[j] == want), None)
        if found is not None:
            match[i] = found
            free.discard(found)
    for i, want in enumerate(expected):
        if i in match or want.partition(":")[0] not in placeholders:
            continue
        found = next((j for j in sorted(free) if _ports(actual[j]) == _ports(want)), None)
        if found is not None:
            match[i] = found
            free.discard(found)
    missing = tuple(want for i, want in enumerate(expected) if i not in match)
    unexpected = tuple(actual[j] for j in sorted(free))
    reordered = not missing and not unexpected and any(i != j for i, j in match.items())
    return Drift(tuple(actual), tuple(expected), missing, unexpected, reordered)


def describe(conf: ConfFile, drift: Drift, source: str, placeholders: Collection[str]) -> str:
    """A report of one node's file against the expected entries, for people."""

    def shown(items: Sequence[str]) -> str:
        marked = [f"*:{_ports(e)}" if e.partition(":")[0] in placeholders else e for e in items]
        return ",".join(marked) or "(none)"

    line = conf.find(BACKUP_ADDRESS_KEY)
    out = []
    if line is None:
        out.append(f"  {BACKUP_ADDRESS_KEY}: missing (the community server has no such key; global access needs pro)")
    else:
        out.append(f"  {BACKUP_ADDRESS_KEY}: line {line.number}")
        earlier = conf.duplicates(BACKUP_ADDRESS_KEY)
        if earlier:
            out.append(f"  also set on line {', '.join(map(str, earlier))}; the server takes the last one")
    out.append(f"  file:       {shown(drift.actual)}")
    out.append(f"  expected:   {shown(drift.expected)}  ({source})")
    if any(e.partition(":")[0] in placeholders for e in drift.expected):
        out.append("  (* = an address the cloud assigns at deploy time: only its ports are compared)")
    if drift.missing:
        out.append(f"  missing:    {shown(drift.missing)}")
    if drift.unexpected:
        out.append(f"  unexpected: {shown(drift.unexpected)}")
    if drift.reordered:
        out.append("  same entries in another order")
    out += [f"  warning: {problem}" for problem in conf.problems]
    if conf.newline != "\n":
        out.append("  warning: Windows line endings; WildFire's own sample says such files break on Linux")
    if conf.rejected:
        lines = ", ".join(map(str, conf.rejected))
        out.append(f"REJECTED: the IM server refuses this file over line {lines}; fix by hand (--fix does not)")
    out.append("in sync" if drift.in_sync else "DRIFT: run with --fix to rewrite only that line")
    return "\n".join(out)


def write_atomically(path: Path, text: str) -> None:
    """Replace the file in one step, keeping its permissions; a crash leaves the old file intact."""
    tmp = path.with_name(f".{path.name}.wfga-tmp")
    tmp.write_bytes(to_bytes(text))
    shutil.copymode(path, tmp)
    os.replace(tmp, path)
