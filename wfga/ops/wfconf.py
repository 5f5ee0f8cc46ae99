"""Read and rewrite ``wildfirechat.conf`` the way the IM server reads it, byte for byte otherwise.

The model is im-server's ``ConfigurationParser`` (a moquette derivative) as changed by im-server
commit debd4f1a (2021-08-05, "special characters in the config file") and unchanged since. For each
line the server:

* trims it first (Java ``String.trim``: every character up to U+0020 at both ends), so indentation
  and trailing blanks never matter and an indented ``#`` line is a comment too;
* skips it when it is empty or starts with ``#``;
* when a ``#`` appears later in the line, splits the line on single spaces and throws
  ``ParseException`` (refusing the whole file) unless that gives exactly two fields; with exactly
  one space the line is an ordinary setting whose value keeps the ``#`` (there are no end-of-line
  comments);
* otherwise takes the key up to the first space and the value after it, both trimmed; a line with
  no space at all (a tab does not count) sets the whole line as a key with an empty value;
* lets the last setting of a key win.

Before that commit the server did not trim: any ``#`` after column 0 was fatal, and a line indented
with a space became a key with an empty value.  The pro server's parser is closed source; we assume
it shares today's public one and, for the lines where the two differ, say that an older server
reads them otherwise.

:func:`parse` mirrors those rules and reports the lines the server would trip on or misread;
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
# The commit whose parser this module follows (see the module docstring).
PARSER_COMMIT = "im-server debd4f1a (2021-08)"


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
    # How a server older than PARSER_COMMIT reads the line, where that differs.
    older: str | None = None


@dataclass(frozen=True)
class ConfFile:
    lines: tuple[ConfLine, ...]
    newline: str
    problems: tuple[str, ...] = field(default=())

    @property
    def rejected(self) -> list[int]:
        """Numbers of the lines that make the server refuse the file."""
        return [line.number for line in self.lines if line.fatal]

    @property
    def older(self) -> tuple[str, ...]:
        """What an older server would do differently, one note per line concerned."""
        return tuple(f"line {line.number}: {line.older}" for line in self.lines if line.older)

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


def java_split_fields(line: str) -> int:
    """How many items Java's ``line.split(" ")`` returns: trailing empty strings are dropped."""
    parts = line.split(" ")
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return len(parts)


def _older_reading(text: str) -> str | None:
    """How the parser before PARSER_COMMIT (no trim) differs on this untrimmed line, if it does."""
    hash_at = text.find("#")
    if hash_at > 0:
        return f"a server older than {PARSER_COMMIT} refuses the file over this '#'"
    if hash_at < 0 and text.startswith(" ") and " " in text.strip(_JAVA_TRIM):
        return f"a server older than {PARSER_COMMIT} reads this indented line as a key with no value"
    return None


def _parse_line(number: int, text: str, ending: str) -> ConfLine:
    older = _older_reading(text)
    line = text.strip(_JAVA_TRIM)
    hash_at = line.find("#")
    if hash_at == 0 or not line:
        return ConfLine(number, text, ending, older=older)
    if hash_at > 0 and java_split_fields(line) != 2:
        return ConfLine(
            number,
            text,
            ending,
            problem=(
                f"line {number}: a '#' after the start of a line is only accepted in a 'key value' line with "
                "exactly one space; the server rejects the file"
            ),
            fatal=True,
            older=older,
        )
    space = line.find(" ")
    key, value = (line[:space].strip(_JAVA_TRIM), line[space:].strip(_JAVA_TRIM)) if space > 0 else (line, "")
    problem = None
    if hash_at > 0:
        problem = (
            f"line {number}: the server keeps the '#' as part of {key!r} = {value!r} "
            "(there are no end-of-line comments)"
        )
    elif space < 0:
        tab = " (a tab does not separate key and value)" if "\t" in line else ""
        problem = f"line {number}: no space, so the server reads the whole line as a key with an empty value{tab}"
    return ConfLine(number, text, ending, key=key, value=value, problem=problem, older=older)


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
    # Only the value's characters change: indentation, key, spacing and trailing blanks stay.
    text = line.text
    start = len(text) - len(text.lstrip(_JAVA_TRIM))
    end = len(text.rstrip(_JAVA_TRIM))
    space = text.find(" ", start, end)
    if space < 0:
        # A key alone on its line: the value needs a separator.
        return f"{text[:end]}  {value}{text[end:]}"
    gap = text[space:end]
    return text[: space + len(gap) - len(gap.lstrip(_JAVA_TRIM))] + value + text[end:]


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
    """A report of one node's file against the expected entries, for people; the verdict is the caller's."""

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
    out += [f"  note: {note}" for note in conf.older]
    if conf.newline != "\n":
        out.append("  warning: Windows line endings; WildFire's own sample says such files break on Linux")
    if conf.rejected:
        lines = ", ".join(map(str, conf.rejected))
        out.append(f"REJECTED: the IM server refuses this file over line {lines}")
    return "\n".join(out)


def replace_line(text: str, number: int, content: str) -> str:
    """The file with line ``number`` (1-based) replaced by ``content``; its line ending and every other byte kept."""
    if any(c in content for c in "\r\n"):
        raise ValueError("a line cannot contain a newline")
    pairs = split_lines(text)
    return "".join((content if i == number else line) + ending for i, (line, ending) in enumerate(pairs, start=1))


def write_atomically(path: Path, text: str) -> None:
    """Replace the file in one step, keeping its permissions; a crash leaves the old file intact."""
    tmp = path.with_name(f".{path.name}.wfga-tmp")
    tmp.write_bytes(to_bytes(text))
    shutil.copymode(path, tmp)
    os.replace(tmp, path)
