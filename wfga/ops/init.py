"""``wfga init``: the operator's own cluster and access points, written as Pulumi.yaml and stack files.

The demo ships a cluster in ``Pulumi.yaml`` and stacks around it.  ``init`` puts the operator's
cluster there instead and writes the stacks of one layout, from flags or, on a terminal, from a few
questions.  Nothing is written unless every stack it would write plans cleanly offline first: the
files are staged in a scratch copy of the project, each planned there (config model, port plan,
cloud rules, the region stacks' reference to the core stack), and only then put in place.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wfga.model.config import NAMESPACE, ConfigError
from wfga.offline.engine import plan_stack_file
from wfga.offline.runtime import OfflineError
from wfga.offline.stackfile import program_dir, program_problem, stack_path

# The stacks the repository ships as demos: `--remove-demos` deletes these files and no others.
DEMO_STACKS = ("demo", "core", "sg", "fra", "aws-demo", "mixed-demo", "vm-demo", "edge-demo", "av-demo")
# Access point keys a flag may set: the flag's key, the config key, and how to read the value.
AP_KEYS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "name": ("name", str),
    "region": ("region", str),
    "cidr": ("vpc_cidr", str),
    "zones": ("zones", lambda v: [z for z in v.split("+") if z]),
    "cloud": ("cloud", str),
    "link": ("link", str),
    "kind": ("kind", str),
    "idle_timeout_s": ("idle_timeout_s", int),
    "listener_quota": ("listener_quota", int),
    "cen_bandwidth_mbps": ("cen_bandwidth_mbps", int),
    "eip_bandwidth_mbps": ("eip_bandwidth_mbps", int),
}
VM_KEYS: dict[str, Callable[[str], Any]] = {"instance_type": str, "count": int, "distro": str}
REQUIRED_AP_KEYS = ("name", "region", "cidr", "zones")
# The link between an access point's cloud and the cluster's when the flag names none.
DEFAULT_LINK = {("alicloud", "alicloud"): "cen", ("aws", "aws"): "vpc-peering"}
HEADER = "# Written by `wfga init`; edit freely (every key: README.md, Configuration).\n"


class InitError(Exception):
    """Input init cannot use, or stacks that do not plan; every problem listed, nothing written."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass
class Answers:
    """Everything init needs, as given by flags or answered at the prompt."""

    cluster_name: str = ""
    cloud: str = ""
    region: str = ""
    vpc_id: str = ""
    cidr: str = ""
    route_tables: list[str] = field(default_factory=list)
    attach_vswitches: list[str] = field(default_factory=list)
    security_group: str = ""
    nodes: list[str] = field(default_factory=list)
    access_points: list[str] = field(default_factory=list)
    layout: str = "all-in-one"
    stack: str = "prod"
    org: str = "organization"


def _pairs(items: Sequence[str], flag: str, problems: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            problems.append(f"{flag} {item}: expected KEY=VALUE")
        else:
            out[key.strip()] = value.strip()
    return out


def _nodes(items: Sequence[str], problems: list[str]) -> list[dict[str, Any]]:
    nodes = []
    for position, item in enumerate(items, start=1):
        name, sep, rest = item.partition("=")
        address, _, slot = rest.partition("@")
        if not sep or not name or not address:
            problems.append(f"--node {item}: expected NAME=IP or NAME=IP@SLOT, e.g. im-1=172.16.0.11")
            continue
        try:
            number = int(slot) if slot else position
        except ValueError:
            problems.append(f"--node {item}: the slot after @ must be a number")
            continue
        nodes.append({"name": name.strip(), "slot": number, "private_ip": address.strip()})
    return nodes


def _access_point(spec: str, cluster_cloud: str, problems: list[str]) -> dict[str, Any] | None:
    fields = _pairs([p for p in spec.split(",") if p], "--access-point", problems)
    unknown = sorted(set(fields) - set(AP_KEYS) - set(VM_KEYS))
    missing = [k for k in REQUIRED_AP_KEYS if k not in fields]
    if unknown or missing:
        known = ", ".join([*AP_KEYS, *VM_KEYS])
        what = "; ".join(
            part
            for part in (
                f"unknown {', '.join(unknown)}" if unknown else "",
                f"missing {', '.join(missing)}" if missing else "",
            )
            if part
        )
        problems.append(f"--access-point {spec}: {what} (keys: {known})")
        return None
    ap: dict[str, Any] = {}
    vm: dict[str, Any] = {}
    for key, value in fields.items():
        try:
            if key in VM_KEYS:
                vm[key] = VM_KEYS[key](value)
            else:
                target, read = AP_KEYS[key]
                ap[target] = read(value)
        except ValueError:
            problems.append(f"--access-point {spec}: {key}={value} is not a number")
            return None
    ap.setdefault("cloud", cluster_cloud)
    link = DEFAULT_LINK.get((ap["cloud"], cluster_cloud))
    if "link" not in ap and link is None:
        problems.append(
            f"--access-point {spec}: a {ap['cloud']} access point over a {cluster_cloud} cluster needs "
            "link=existing (and an existing VPC: edit the stack file after init)"
        )
        return None
    ap.setdefault("link", link)
    if vm:
        ap.setdefault("kind", "vm")
        ap["vm"] = vm
    return ap


def cluster_of(answers: Answers) -> dict[str, Any]:
    """The ``wfga:cluster`` value; InitError listing every flag that cannot be used."""
    problems: list[str] = []
    for flag, value in (
        ("--cluster-name", answers.cluster_name),
        ("--cloud", answers.cloud),
        ("--region", answers.region),
        ("--vpc-id", answers.vpc_id),
        ("--cidr", answers.cidr),
    ):
        if not value:
            problems.append(f"{flag}: required")
    if not answers.route_tables:
        problems.append("--route-table: give the cluster VPC's route table(s) that get the return routes")
    if not answers.nodes:
        problems.append("--node: give every IM node as NAME=IP (repeat)")
    cluster: dict[str, Any] = {
        "name": answers.cluster_name,
        "cloud": answers.cloud,
        "region": answers.region,
        "vpc_id": answers.vpc_id,
        "cidr": answers.cidr,
        "route_table_ids": list(answers.route_tables),
    }
    vswitches = _pairs(answers.attach_vswitches, "--attach-vswitch", problems)
    if vswitches:
        cluster["attach_vswitches"] = vswitches
    if answers.security_group:
        cluster["security_group_id"] = answers.security_group
    cluster["nodes"] = _nodes(answers.nodes, problems)
    if problems:
        raise InitError(problems)
    return cluster


def stack_files(answers: Answers, cluster: dict[str, Any], project: str) -> dict[str, dict[str, Any]]:
    """Stack name -> the stack file's content, for the chosen layout."""
    problems: list[str] = []
    aps = [_access_point(spec, cluster["cloud"], problems) for spec in answers.access_points]
    if not answers.access_points:
        problems.append("--access-point: give at least one, e.g. name=sg,region=ap-southeast-1,cidr=10.21.0.0/16,...")
    if answers.layout not in ("all-in-one", "region"):
        problems.append(f"--layout {answers.layout}: all-in-one or region")
    if problems:
        raise InitError(problems)
    points = [ap for ap in aps if ap is not None]
    if answers.layout == "all-in-one":
        return {answers.stack: {f"{NAMESPACE}:access_points": points}}
    stacks: dict[str, dict[str, Any]] = {}
    if any(ap["link"] == "cen" for ap in points):
        stacks["core"] = {f"{NAMESPACE}:layout": "core"}
    for ap in points:
        config: dict[str, Any] = {f"{NAMESPACE}:layout": "region"}
        if ap["link"] == "cen":
            config[f"{NAMESPACE}:core_stack"] = f"{answers.org}/{project}/core"
        config[f"{NAMESPACE}:access_points"] = [ap]
        stacks[ap["name"]] = config
    return stacks


def _dump(data: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=110)


def project_text(existing: dict[str, Any], cluster: dict[str, Any]) -> str:
    """Pulumi.yaml with every key of the project's kept and the cluster replaced."""
    data = dict(existing)
    data.setdefault("name", "wfga")
    config = dict(existing.get("config") or {})
    # Object values in Pulumi.yaml need the `value:` form.
    config[f"{NAMESPACE}:cluster"] = {"value": cluster}
    data["config"] = config
    return _dump(data)


def _read_project(root: Path) -> dict[str, Any]:
    path = root / "Pulumi.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except yaml.YAMLError as err:
        raise InitError([f"{path}: not valid YAML ({err}); fix or remove it first"]) from None
    return data if isinstance(data, dict) else {}


def validate(root: Path, project: str, stacks: dict[str, str]) -> None:
    """Plan every stack in a scratch project holding the new files; InitError with every problem."""
    # Once, about the project's own Pulumi.yaml: every stack below would fail on it, in the scratch copy.
    problem = program_problem(root)
    if problem:
        raise InitError([problem])
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="wfga-init-") as tmp:
        scratch = Path(tmp)
        data = yaml.safe_load(project)
        # The scratch project runs the real project's program.
        data["main"] = str(program_dir(root))
        (scratch / "Pulumi.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        (scratch / "stacks").mkdir()
        for name, text in stacks.items():
            stack_path(scratch, name).write_text(text, encoding="utf-8")
        for name in stacks:
            try:
                plan_stack_file(stack_path(scratch, name), scratch)
            except ConfigError as err:
                problems += [f"stack {name}: {p}" for p in err.problems]
            except OfflineError as err:
                problems.append(f"stack {name}: {err}")
    if problems:
        raise InitError(problems)


@dataclass(frozen=True)
class Written:
    files: list[Path]
    removed: list[Path]
    others: list[str]


def run(root: Path, answers: Answers, *, force: bool = False, remove_demos: bool = False) -> Written:
    """Validate, then write Pulumi.yaml and the stack files; InitError when anything is wrong."""
    existing = _read_project(root)
    cluster = cluster_of(answers)
    project_name = str(existing.get("name") or "wfga")
    stacks = {name: _dump({"config": config}) for name, config in stack_files(answers, cluster, project_name).items()}
    demos = [stack_path(root, name) for name in DEMO_STACKS if stack_path(root, name).is_file()]
    doomed = set(demos) if remove_demos else set()
    taken = [
        str(stack_path(root, name).relative_to(root))
        for name in stacks
        if stack_path(root, name).is_file() and stack_path(root, name) not in doomed
    ]
    if taken and not force:
        raise InitError(
            [
                f"{', '.join(taken)}: already there; give --force to replace, --remove-demos to replace the "
                "shipped demos, or other names (--stack, access point names)"
            ]
        )
    project = project_text(existing, cluster)
    validate(root, project, stacks)
    (root / "Pulumi.yaml").write_text(project, encoding="utf-8")
    for path in doomed:
        path.unlink()
    (root / "stacks").mkdir(exist_ok=True)
    files = [root / "Pulumi.yaml"]
    for name, text in stacks.items():
        stack_path(root, name).write_text(text, encoding="utf-8")
        files.append(stack_path(root, name))
    others = sorted(p.name for p in (root / "stacks").glob("Pulumi.*.yaml") if p not in files)
    return Written(files, sorted(p for p in doomed if not p.exists()), others)


# --- the prompt ------------------------------------------------------------------------------------

Ask = Callable[[str], str]


def _ask_list(ask: Ask, question: str) -> list[str]:
    items: list[str] = []
    while True:
        answer = ask(f"{question} (empty line: done): ").strip()
        if not answer:
            return items
        items.append(answer)


def prompt(answers: Answers, ask: Ask) -> Answers:
    """Ask for what the flags left out; one question per missing value."""
    questions = (
        ("cluster_name", "Cluster name (lower-case letters, digits, dashes)"),
        ("cloud", "Cluster cloud (alicloud or aws)"),
        ("region", "Cluster region (e.g. cn-hangzhou)"),
        ("vpc_id", "Cluster VPC id"),
        ("cidr", "Cluster VPC CIDR (e.g. 172.16.0.0/16)"),
    )
    for attr, question in questions:
        if not getattr(answers, attr):
            setattr(answers, attr, ask(f"{question}: ").strip())
    if not answers.route_tables:
        answers.route_tables = ask("Cluster route table ids, space-separated: ").split()
    if answers.cloud == "alicloud" and not answers.attach_vswitches:
        answers.attach_vswitches = _ask_list(ask, "vSwitch for the CEN attachment as ZONE=VSW (two zones)")
    if not answers.security_group:
        answers.security_group = ask("Cluster security group id (empty: none): ").strip()
    if not answers.nodes:
        answers.nodes = _ask_list(ask, "IM node as NAME=IP (slots follow the order)")
    if not answers.access_points:
        answers.access_points = _ask_list(
            ask, "Access point as name=..,region=..,cidr=..,zones=A+B (e.g. name=sg,region=ap-southeast-1,...)"
        )
    return answers
