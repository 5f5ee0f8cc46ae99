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


def test_lines_the_server_rejects_are_problems():
    conf = wfconf.parse(f"port 1883 # trailing comment\n  # indented comment\n{KEY}\t1.1.1.1:1:2:3\n leading 1\n")
    assert [p.split(":")[0] for p in conf.problems] == ["line 1", "line 2", "line 3", "line 4"]
    assert "first character" in conf.problems[0]
    assert "no space" in conf.problems[2]
    assert "whitespace" in conf.problems[3]
    assert conf.rejected == [1, 2, 3]  # an empty key is misread, not refused
    assert conf.get(KEY) is None


def test_tab_before_the_key_is_trimmed_like_java():
    assert wfconf.parse(f"\t{KEY} 1.1.1.1:1:2:3\n").get(KEY) == "1.1.1.1:1:2:3"


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


def test_rewrite_keeps_indentation_and_spacing_before_the_value():
    text = f"\t{KEY}   1.1.1.1:1:2:3   \nport 1\n"
    assert wfconf.set_value(text, KEY, "2.2.2.2:1:2:3") == f"\t{KEY}   2.2.2.2:1:2:3\nport 1\n"


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
