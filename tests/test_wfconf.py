"""wildfirechat.conf parsing as the IM server does it, and one-line rewrites that keep every other byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfga.ops import wfconf
from wfga.ops.wfconf import BACKUP_ADDRESS_KEY as KEY

SAMPLE = (
    "## WildFire IM\n"
    "#server.backup_address 9.9.9.9:1:2:3\n"
    "server.ip 0.0.0.0\n"
    "\n"
    "server.backup_address  1.1.1.1:81:1881:8081,2.2.2.2:81:1881:8081\n"
    "port 1883\n"
)


def test_parse_reads_keys_like_the_server():
    conf = wfconf.parse(SAMPLE)
    assert conf.get(KEY) == "1.1.1.1:81:1881:8081,2.2.2.2:81:1881:8081"
    assert conf.get("server.ip") == "0.0.0.0"
    assert conf.find(KEY) is not None
    assert conf.find(KEY).number == 5  # type: ignore[union-attr]
    assert conf.problems == ()
    assert conf.newline == "\n"


def test_commented_key_is_not_a_setting():
    conf = wfconf.parse("#server.backup_address 1.1.1.1:81:1881:8081\n")
    assert conf.get(KEY) is None


def test_last_duplicate_wins_and_earlier_ones_are_reported():
    conf = wfconf.parse(f"{KEY} 1.1.1.1:1:2:3\nport 1\n{KEY} 2.2.2.2:1:2:3\n")
    assert conf.get(KEY) == "2.2.2.2:1:2:3"
    assert conf.duplicates(KEY) == [1]


# What im-server's ConfigurationParser (commit debd4f1a onwards) does with each quirk, read from its
# source: (line, key it sets or None, value, whole file refused).
QUIRKS = [
    ("  # indented comment", None, None, False),
    ("\t#tab-indented comment", None, None, False),
    ("   ", None, None, False),
    ("  port 1883", "port", "1883", False),
    ("\tport 1883  ", "port", "1883", False),
    ("port   1883", "port", "1883", False),
    ("port\t 1883", "port", "1883", False),
    ("token.key abc#def", "token.key", "abc#def", False),
    ("  token.key abc#def  ", "token.key", "abc#def", False),
    ("a#b c", "a#b", "c", False),
    ("port 1883 # the long link", None, None, True),
    ("port 1883#x y", None, None, True),
    ("port  1883#x", None, None, True),
    ("port\t1883#x", None, None, True),
    ("port#1883", None, None, True),
    ("port", "port", "", False),
    ("port\t1883", "port\t1883", "", False),
]


@pytest.mark.parametrize(("line", "key", "value", "fatal"), QUIRKS)
def test_quirks_read_like_todays_parser(line, key, value, fatal):
    conf = wfconf.parse(line + "\n")
    (parsed,) = conf.lines
    assert (parsed.key, parsed.value, parsed.fatal) == (key, value, fatal)
    assert conf.rejected == ([1] if fatal else [])


def test_warnings_name_what_the_server_does():
    conf = wfconf.parse(f"port 1883 # the long link\n{KEY}\t1.1.1.1:1:2:3\ntoken.key abc#def\n  port 1\n#ok\n")
    assert [p.split(":")[0] for p in conf.problems] == ["line 1", "line 2", "line 3"]
    assert "exactly one space; the server rejects the file" in conf.problems[0]
    assert "whole line as a key with an empty value (a tab does not separate" in conf.problems[1]
    assert "keeps the '#' as part of 'token.key' = 'abc#def'" in conf.problems[2]
    assert conf.rejected == [1]
    assert conf.get(KEY) is None
    assert conf.get("port") == "1"


def test_an_indented_key_is_read_now_and_noted_for_older_servers():
    conf = wfconf.parse(f"  {KEY} 1.1.1.1:1:2:3\n  # comment\n")
    assert conf.get(KEY) == "1.1.1.1:1:2:3"
    assert conf.problems == ()
    assert conf.older == (
        "line 1: a server older than im-server debd4f1a (2021-08) reads this indented line as a key with no value",
        "line 2: a server older than im-server debd4f1a (2021-08) refuses the file over this '#'",
    )


def test_lines_older_servers_read_alike_get_no_note():
    # A tab before the key was trimmed with the key even before; a lone indented word has no space.
    assert wfconf.parse(f"\t{KEY} 1.1.1.1:1:2:3\n port\n#c\n").older == ()


def test_java_split_drops_trailing_empty_fields():
    assert wfconf.java_split_fields("a b") == 2
    assert wfconf.java_split_fields("a  b") == 3
    assert wfconf.java_split_fields("a b  ") == 2
    assert wfconf.java_split_fields("ab") == 1


_quirky = st.text(alphabet=st.sampled_from("ab #\t:."), max_size=10)
_pad = st.text(alphabet=st.sampled_from(" \t\x0b\f"), max_size=3)


@given(_quirky, _pad, _pad)
def test_blanks_around_a_line_never_change_its_reading(line, left, right):
    plain, padded = wfconf.parse(line + "\n").lines, wfconf.parse(left + line + right + "\n").lines
    assert [(x.key, x.value, x.fatal) for x in plain] == [(x.key, x.value, x.fatal) for x in padded]


@given(_quirky)
def test_refused_exactly_when_a_late_hash_meets_other_than_one_space(line):
    trimmed = line.strip(" \t")
    refused = "#" in trimmed[1:] and not trimmed.startswith("#") and trimmed.count(" ") != 1
    assert (wfconf.parse(line).rejected == [1]) == refused


def test_split_lines_keeps_every_terminator():
    assert wfconf.split_lines("a\r\nb\rc\nd") == [("a", "\r\n"), ("b", "\r"), ("c", "\n"), ("d", "")]
    assert wfconf.split_lines("") == []
    assert wfconf.split_lines("a\n") == [("a", "\n")]


def test_set_value_changes_only_that_line():
    new = wfconf.set_value(SAMPLE, KEY, "3.3.3.3:81:1881:8081")
    assert new == SAMPLE.replace(
        "1.1.1.1:81:1881:8081,2.2.2.2:81:1881:8081",
        "3.3.3.3:81:1881:8081",
    )


def test_set_value_keeps_crlf_and_comments():
    text = "# comment\r\nserver.ip 0.0.0.0\r\nserver.backup_address 1.1.1.1:81:1881:8081\r\nport 1883\r\n"
    new = wfconf.set_value(text, KEY, "4.4.4.4:81:1881:8081")
    assert new == text.replace("1.1.1.1", "4.4.4.4")
    assert new.count("\r\n") == 4
    assert "\n" not in new.replace("\r\n", "")


def test_missing_key_is_appended_with_the_files_newline_style():
    text = "# comment\r\nport 1883\r\n"
    new = wfconf.set_value(text, KEY, "5.5.5.5:81:1881:8081")
    assert new == text + f"{KEY}  5.5.5.5:81:1881:8081\r\n"
    assert wfconf.parse(new).get(KEY) == "5.5.5.5:81:1881:8081"


def test_missing_key_after_a_last_line_without_newline():
    new = wfconf.set_value("port 1883", KEY, "5.5.5.5:81:1881:8081")
    assert new == f"port 1883\n{KEY}  5.5.5.5:81:1881:8081\n"


def test_rewrite_keeps_indentation_and_spacing_around_the_value():
    text = f"\t{KEY}   1.1.1.1:1:2:3   \nport 1\n"
    assert wfconf.set_value(text, KEY, "2.2.2.2:1:2:3") == f"\t{KEY}   2.2.2.2:1:2:3   \nport 1\n"


def test_rewrite_of_an_indented_key_and_of_a_key_alone():
    assert wfconf.set_value(f"  {KEY} 1.1.1.1:1:2:3\n", KEY, "2.2.2.2:1:2:3") == f"  {KEY} 2.2.2.2:1:2:3\n"
    new = wfconf.set_value(f"{KEY}\t\n", KEY, "2.2.2.2:1:2:3")
    assert new == f"{KEY}  2.2.2.2:1:2:3\t\n"
    assert wfconf.parse(new).get(KEY) == "2.2.2.2:1:2:3"


def test_rewrite_replaces_a_value_that_swallowed_a_hash():
    text = f"{KEY} 1.1.1.1:1:2:3#old\n"
    new = wfconf.set_value(text, KEY, "2.2.2.2:1:2:3")
    assert new == f"{KEY} 2.2.2.2:1:2:3\n"
    assert wfconf.parse(new).problems == ()


def test_rewrite_touches_the_effective_duplicate_only():
    text = f"{KEY} 1.1.1.1:1:2:3\n{KEY} 2.2.2.2:1:2:3\n"
    assert wfconf.set_value(text, KEY, "3.3.3.3:1:2:3") == f"{KEY} 1.1.1.1:1:2:3\n{KEY} 3.3.3.3:1:2:3\n"


@pytest.mark.parametrize("bad", ["1.1.1.1:1:2:3\nport 2", "1.1.1.1:1:2:3 # x"])
def test_values_that_would_corrupt_the_file_are_refused(bad):
    with pytest.raises(ValueError, match="newline or '#'"):
        wfconf.set_value(SAMPLE, KEY, bad)


def test_undecodable_bytes_survive_a_rewrite():
    data = b"# caf\xe9 latin-1 comment\nserver.backup_address 1.1.1.1:1:2:3\n"
    new = wfconf.to_bytes(wfconf.set_value(wfconf.read_text(data), KEY, "2.2.2.2:1:2:3"))
    assert new == data.replace(b"1.1.1.1", b"2.2.2.2")


_text = st.text(alphabet=st.sampled_from("ab #.:\t=12"), max_size=12)
_setting = st.builds(
    lambda indent, gap, value: f"{indent}{KEY}{gap}{value}",
    st.sampled_from(["", "\t"]),
    st.sampled_from([" ", "  ", "\t "]),
    _text,
)
_line = st.one_of(_text, _setting)
_ending = st.sampled_from(["\n", "\r\n", "\r"])


@given(st.lists(st.tuples(_line, _ending), max_size=8), st.booleans())
def test_every_other_line_is_kept_byte_for_byte(lines, final_newline):
    text = "".join(content + ending for content, ending in lines)
    if not final_newline and text:
        text = text[: -len(lines[-1][1])]
    new = wfconf.set_value(text, KEY, "9.9.9.9:1:2:3")
    before, after = wfconf.split_lines(text), wfconf.split_lines(new)
    target = wfconf.parse(text).find(KEY)
    if target is None:
        assert new.startswith(text)
        assert wfconf.parse(new).get(KEY) == "9.9.9.9:1:2:3"
    else:
        assert len(after) == len(before)
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        assert changed in ([], [target.number - 1])


def test_compare_entries_in_sync_and_drift():
    same = wfconf.compare_entries(["a:1:2:3", "b:1:2:3"], ["a:1:2:3", "b:1:2:3"], set())
    assert same.in_sync
    drift = wfconf.compare_entries(["a:1:2:3", "c:1:2:3"], ["a:1:2:3", "b:1:2:3"], set())
    assert (drift.missing, drift.unexpected, drift.in_sync) == (("b:1:2:3",), ("c:1:2:3",), False)


def test_reordered_entries_are_drift_but_not_missing():
    drift = wfconf.compare_entries(["b:1:2:3", "a:1:2:3"], ["a:1:2:3", "b:1:2:3"], set())
    assert drift.reordered
    assert not drift.missing
    assert not drift.in_sync


def test_placeholders_match_any_address_on_the_same_ports():
    placeholders = {"198.51.100.1"}
    ok = wfconf.compare_entries(["47.0.0.1:81:1881:8081"], ["198.51.100.1:81:1881:8081"], placeholders)
    assert ok.in_sync
    wrong_ports = wfconf.compare_entries(["47.0.0.1:82:1882:8082"], ["198.51.100.1:81:1881:8081"], placeholders)
    assert wrong_ports.missing == ("198.51.100.1:81:1881:8081",)


def test_exact_matches_are_taken_before_placeholders():
    placeholders = {"198.51.100.1"}
    drift = wfconf.compare_entries(
        ["203.0.113.9:81:1881:8081", "47.0.0.1:81:1881:8081"],
        ["198.51.100.1:81:1881:8081", "203.0.113.9:81:1881:8081"],
        placeholders,
    )
    assert not drift.missing
    assert not drift.unexpected
    assert drift.reordered


def test_entries_ignore_blanks():
    assert wfconf.entries(" a:1:2:3 , ,b:1:2:3,") == ["a:1:2:3", "b:1:2:3"]
