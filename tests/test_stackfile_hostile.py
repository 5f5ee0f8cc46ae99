"""The stack-file loader is total: any bytes in, StackValues or a ConfigError out, within seconds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from wfga.cli import main
from wfga.model.config import ConfigError
from wfga.offline.stackfile import SECRET_PLACEHOLDER, load_stack
from wfga.offline.yamldoc import MAX_BYTES, MAX_DEPTH, MAX_EXPANDED_CHARS

LAUGHS = "\n".join(
    ["config:", "  other:lol:", '    a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"    {c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
)


def plan_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | str) -> tuple[int, str]:
    path = tmp_path / "Pulumi.hostile.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    started = time.monotonic()
    code = main(["plan", "--config-file", str(path), "--quiet"])
    elapsed = time.monotonic() - started
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    assert elapsed < 10, f"took {elapsed:.1f} s"
    return code, err


def load(tmp_path: Path, content: str) -> dict[str, object]:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(content, encoding="utf-8")
    return load_stack(path, PROJECT).values


def problems(tmp_path: Path, content: str) -> str:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, content)
    return str(err.value)


REFUSED: list[tuple[str, bytes | str, str]] = [
    ("config is a number", "config: 5\n", "config: expected a mapping of key: value, not a single value"),
    ("config is a list", "config: [1, 2]\n", "config: expected a mapping of key: value, not a list"),
    ("top level is a list", "- config\n", "expected a mapping at the top level"),
    ("latin-1 bytes", b"config:\n  wfga:layout: r\xe9gion\n", "line 2: not UTF-8 text (byte 0xe9)"),
    ("binary", bytes(range(256)) * 4, "not UTF-8 text"),
    ("a NUL byte in UTF-8 text", "config:\n  wfga:layout: core\x00\n", "line 2: binary data (a NUL byte)"),
    ("a kilobyte of brackets", "config:\n  other:x: " + "[" * 1000 + "]" * 1000 + "\n", "nest"),
    (
        "nesting under the limit of the parser but over ours",
        "config:\n  other:x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n",
        f"nested more than {MAX_DEPTH} levels deep",
    ),
    ("billion laughs under another namespace", LAUGHS, "expands to more than"),
    (
        "a long string repeated by thousands of aliases",
        'config:\n  other:x:\n    s: &s "' + "A" * 60_000 + '"\n    copies: [' + ", ".join(["*s"] * 5000) + "]\n",
        f"expands to more than {MAX_EXPANDED_CHARS} characters",
    ),
    ("recursive alias", "config:\n  other:x: &a [1, *a]\n", "alias *a refers to a value that contains it"),
    ("recursive alias in a mapping", "config:\n  wfga:cluster: &c {nodes: *c}\n", "alias *c refers to a value"),
    ("undefined alias", "config:\n  wfga:layout: *nowhere\n", "alias *nowhere has no anchor"),
    ("two documents", "config: {}\n---\nconfig: {}\n", "a second YAML document"),
    ("unclosed flow", "config: {wfga:layout: [\n", "not valid YAML"),
    ("tab indentation", "config:\n\twfga:layout: core\n", "not valid YAML"),
    (
        "duplicate top-level key",
        "config:\n  wfga:layout: region\n  wfga:layout: core\n",
        "wfga:layout: Pulumi.hostile.yaml line 3: set twice in config (first at line 2)",
    ),
    (
        "the same key with and without namespace",
        "config:\n  layout: region\n  wfga:layout: core\n",
        "wfga:layout: Pulumi.hostile.yaml line 3: set twice in config",
    ),
    (
        "duplicate key inside a value",
        "config:\n  wfga:cluster:\n    name: a\n    cloud: aws\n    name: b\n",
        "wfga:cluster.name: Pulumi.hostile.yaml line 5, column 5: duplicate key 'name' (first at line 3)",
    ),
    ("binary tag in our namespace", "config:\n  wfga:core_stack: !!binary aGVsbG8=\n", "tag !!binary: JSON cannot"),
    ("set tag in our namespace", "config:\n  wfga:access_points: !!set {a, b}\n", "tag !!set: JSON cannot hold it"),
    ("timestamp tag", "config:\n  wfga:layout: !!timestamp 2024-01-01\n", "tag !!timestamp"),
    ("local tag", "config:\n  wfga:layout: !Ref core\n", "tag !Ref"),
    ("python tag", "config:\n  wfga:layout: !!python/object:os.system core\n", "tag !!python/object:os.system"),
    ("a list as a key", "config:\n  ? [a, b]\n  : 1\n", "a key must be a word"),
    ("a bad explicit int", "config:\n  wfga:layout: !!int core\n", "'core' is not a valid !!int"),
]


@pytest.mark.parametrize(("case", "content", "expected"), REFUSED, ids=[c[0] for c in REFUSED])
def test_hostile_files_exit_2_with_where(tmp_path, capsys, case, content, expected):
    code, err = plan_file(tmp_path, capsys, content)
    assert code == 2, err
    assert expected in err


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path, capsys):
    code, err = plan_file(tmp_path, capsys, "config: {}\n" + "#" * MAX_BYTES)
    assert code == 2
    assert "more than a stack file needs" in err


def test_other_namespaces_pass_through_as_text_whatever_yaml_they_use(tmp_path):
    values = load(
        tmp_path,
        "config:\n"
        "  aws:blob: !!binary aGVsbG8=\n"
        "  aws:day: 2024-01-01\n"
        "  aws:set: !!set {a, b}\n"
        "  aws:tags:\n    team: im\n    since: 2024-01-01\n"
        "  alicloud:region: cn-hangzhou\n",
    )
    assert values["aws:blob"] == "aGVsbG8="
    assert values["aws:day"] == "2024-01-01"
    assert values["aws:set"] == "!!set {a, b}"
    assert values["aws:tags"] == "team: im\n    since: 2024-01-01"
    assert values["alicloud:region"] == "cn-hangzhou"


def test_our_namespace_decodes_as_json_would_hold_it(tmp_path):
    values = load(
        tmp_path,
        "config:\n"
        "  wfga:x:\n"
        "    day: 2024-01-01\n"
        "    no: no\n"
        "    octal: 0o17\n"
        "    hex: 0x1F\n"
        "    float: 1.5\n"
        "    inf: .inf\n"
        "    long: 1" + "0" * 60 + "\n"
        "    nothing: ~\n"
        "    yes: true\n"
        "    quoted: '80'\n"
        "    tagged: !!str 80\n",
    )
    assert values["wfga:x"] == {
        "day": "2024-01-01",
        "no": "no",
        "octal": 15,
        "hex": 31,
        "float": 1.5,
        "inf": ".inf",
        "long": "1" + "0" * 60,
        "nothing": None,
        "yes": True,
        "quoted": "80",
        "tagged": "80",
    }


def test_anchors_and_merge_keys_work_within_bounds(tmp_path):
    values = load(
        tmp_path,
        "config:\n"
        "  wfga:a: &base {cloud: alicloud, zones: [z1, z2]}\n"
        "  wfga:b:\n    <<: *base\n    cloud: aws\n"
        "  wfga:c: [*base, *base]\n",
    )
    assert values["wfga:b"] == {"cloud": "aws", "zones": ["z1", "z2"]}
    assert values["wfga:c"] == [values["wfga:a"], values["wfga:a"]]


def test_secure_values_are_secret_keys_with_a_placeholder(tmp_path):
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text("config:\n  wfga:cloudflare_api_token:\n    secure: v1:abc\n", encoding="utf-8")
    stack = load_stack(path, PROJECT)
    assert stack.values["wfga:cloudflare_api_token"] == SECRET_PLACEHOLDER
    assert stack.secret_keys == frozenset({"wfga:cloudflare_api_token"})


def test_every_problem_of_a_file_is_listed_at_once(tmp_path):
    text = problems(
        tmp_path,
        "config:\n  wfga:layout: !!binary eA==\n  wfga:cluster: {name: a, name: b}\n  wfga:layout: core\n",
    )
    assert "tag !!binary" in text
    assert "duplicate key 'name'" in text
    assert "set twice in config" in text


def test_an_empty_stack_file_is_the_project_config(tmp_path):
    assert load(tmp_path, "") == load(tmp_path, "config:\n")
    assert "wfga:cluster" in load(tmp_path, "")


@pytest.mark.parametrize("main_key", ["nowhere", "/etc", "Pulumi.yaml"])
def test_a_project_whose_main_holds_no_program_exits_2(tmp_path, capsys, main_key):
    # Pulumi.yaml's main named a folder without __main__.py: the plan ended in a FileNotFoundError.
    project = (PROJECT / "Pulumi.yaml").read_text(encoding="utf-8")
    (tmp_path / "Pulumi.yaml").write_text(project.replace("main: ../../..", f"main: {main_key}"), encoding="utf-8")
    stack = tmp_path / "Pulumi.t.yaml"
    stack.write_text("config:\n  wfga:layout: all-in-one\n", encoding="utf-8")
    code = main(["plan", "--config-file", str(stack), "--quiet"])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert f"{tmp_path / 'Pulumi.yaml'}: main: " in err
    assert "holds no __main__.py" in err
    assert "Traceback" not in err
