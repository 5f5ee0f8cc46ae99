"""How the offline plan scales: wfga's plan against the bare SDK floor, whole processes, interleaved.

``python -m bench.plan_scale`` generates stacks with N nodes (slots 1..N) and six access points
(four Alibaba NLB linked by CEN, two AWS NLB in VPCs already routed to the cluster; a VM access
point's user data outgrows the clouds' 16 KB limit beyond about 15 nodes, so none takes part), plans
each with ``python -m wfga plan --config-file STACK --json PLAN`` (the human report goes to
/dev/null, so its cost counts), and builds the floor from that plan: ``bench.plan_floor``
registers the same resources (type tokens, names, inputs, parents, providers, dependencies) with
the bare SDK under its own mock runtime.  Plan and floor run alternately as separate processes,
``--repeats`` times each; the table shows the minimum and median wall time, their ratio, the peak
RSS of each process (its own ``ru_maxrss``) and the per-resource slope between consecutive sizes.
A last row plans one Alibaba NLB access point in front of ``--wide`` nodes.

Both sides run with the garbage collector as each process sets it (Python's defaults for the
floor).  The machine is shared: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SIZES = (10, 40, 100, 200, 400)
QUICK_SIZES = (10, 40, 100)
WIDE_NODES = 2000


def _node(slot: int) -> dict[str, Any]:
    return {"name": f"im-{slot}", "slot": slot, "private_ip": f"172.16.{slot // 200}.{10 + slot % 200}"}


def _cluster(nodes: int) -> dict[str, Any]:
    return {
        "name": "hz",
        "cloud": "alicloud",
        "region": "cn-hangzhou",
        "vpc_id": "vpc-bp1benchcluster0000001",
        "cidr": "172.16.0.0/16",
        "route_table_ids": ["vtb-bp1benchcluster000001"],
        "attach_vswitches": {"cn-hangzhou-h": "vsw-bp1benchh", "cn-hangzhou-i": "vsw-bp1benchi"},
        "security_group_id": "sg-bp1benchcluster0000001",
        "nodes": [_node(slot) for slot in range(1, nodes + 1)],
    }


def _alicloud_nlb(name: str, region: str, cidr: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "cloud": "alicloud",
        "region": region,
        "kind": "nlb",
        "link": "cen",
        "vpc_cidr": cidr,
        "zones": [f"{region}a", f"{region}b"],
        **extra,
    }


def _aws_nlb(name: str, region: str, cidr: str) -> dict[str, Any]:
    # Over an Alibaba Cloud cluster an AWS access point takes link existing: a VPC already routed.
    zones = [f"{region}a", f"{region}b"]
    return {
        "name": name,
        "cloud": "aws",
        "region": region,
        "kind": "nlb",
        "link": "existing",
        "vpc_cidr": cidr,
        "vpc_id": f"vpc-bench{name}",
        "subnets": {zone: f"subnet-bench{zone}" for zone in zones},
        "route_table_id": f"rtb-bench{name}",
        "zones": zones,
        "idle_timeout_s": 1200,
    }


def six_access_points() -> list[dict[str, Any]]:
    return [
        _alicloud_nlb("sg", "ap-southeast-1", "10.21.0.0/16"),
        _alicloud_nlb("fra", "eu-central-1", "10.22.0.0/16"),
        _alicloud_nlb("sv", "us-west-1", "10.24.0.0/16"),
        _aws_nlb("va", "us-east-1", "10.41.0.0/16"),
        _aws_nlb("dub", "eu-west-1", "10.42.0.0/16"),
        _alicloud_nlb("tyo", "ap-northeast-1", "10.23.0.0/16"),
    ]


def stack_config(nodes: int, wide: bool = False) -> dict[str, Any]:
    """N x 6, or (wide) one Alibaba NLB access point whose port ranges leave room for N nodes."""
    points = (
        [_alicloud_nlb("sg", "ap-southeast-1", "10.21.0.0/16", port_base={"short": 10000, "long": 20000, "ws": 30000})]
        if wide
        else six_access_points()
    )
    return {"config": {"wfga:cluster": _cluster(nodes), "wfga:access_points": points}}


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    max_rss_kb: int


FLOORS = ("bare", "typed")


@dataclass
class Case:
    label: str
    nodes: int
    access_points: int
    resources: int = 0
    plan: list[Run] = field(default_factory=list)
    floors: dict[str, list[Run]] = field(default_factory=dict)

    def summary(self, floor: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"case": self.label, "resources": self.resources, "repeats": len(self.plan)}
        out.update(_figures("plan", self.plan))
        runs = self.floors.get(floor or "")
        if runs:
            out["floor"] = floor
            out.update(_figures("floor", runs))
            out["ratio_min"] = out["plan_min_s"] / out["floor_min_s"]
            out["ratio_median"] = out["plan_median_s"] / out["floor_median_s"]
            out["cpu_ratio"] = out["plan_cpu_min_s"] / out["floor_cpu_min_s"]
            out["rss_ratio"] = out["plan_max_rss_mb"] / out["floor_max_rss_mb"]
        return out


def _figures(side: str, runs: list[Run]) -> dict[str, float]:
    return {
        f"{side}_min_s": min(r.seconds for r in runs),
        f"{side}_median_s": statistics.median(r.seconds for r in runs),
        f"{side}_cpu_min_s": min(r.cpu_seconds for r in runs),
        f"{side}_max_rss_mb": max(r.max_rss_kb for r in runs) / 1024,
    }


def timed(cmd: Sequence[str]) -> Run:
    """Wall time, CPU time and peak RSS of the process alone (wait4 reports that child only)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            message = err.read().decode(errors="replace")
            raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{message}")
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def sdk_modules(types: set[str]) -> list[str]:
    """The SDK packages and modules a plan's resource types come from.

    Only those: the program imports an SDK it registers nothing of at a few milliseconds at most
    (pulumi_cloudflare, 1.5-2 s and over 100 MB, only for a Cloudflare edge; docs/benchmarks.md), so
    a floor importing every SDK would flatter the plan.
    """
    modules = set()
    for type_ in types:
        package, module, _ = type_.split(":", 2)
        if package == "pulumi" and module == "providers":
            package = type_.rsplit(":", 1)[1]
        elif package in ("pulumi", "wfga"):
            continue
        modules.add(f"pulumi_{package}")
        top = module.split("/", 1)[0]
        if top not in ("index", "providers"):
            modules.add(f"pulumi_{package}.{top}")
    return sorted(modules)


def _topological(resources: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Parents, providers and dependencies first; otherwise the plan's own order."""
    by_urn = {r["urn"]: r for r in resources}
    done: set[str] = set()

    def visit(urn: str) -> Iterator[dict[str, Any]]:
        stack = [(urn, False)]
        while stack:
            current, expanded = stack.pop()
            if current in done or current not in by_urn:
                continue
            if expanded:
                done.add(current)
                yield by_urn[current]
                continue
            stack.append((current, True))
            res = by_urn[current]
            provider = res["provider"].rsplit("::", 1)[0] if res["provider"] else ""
            before = [res["parent"], provider, *res["dependencies"]]
            stack += [(u, False) for u in reversed(before) if u and u not in done]

    for res in resources:
        yield from visit(res["urn"])


def write_replay(plan_path: Path, replay_path: Path) -> int:
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    resources = plan["resources"]
    keep = ("urn", "type", "name", "parent", "dependencies", "protect", "provider", "inputs", "custom")
    with replay_path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"project": "wfga", "stack": plan["stack"]}) + "\n")
        for module in sdk_modules({r["type"] for r in resources}):
            out.write(json.dumps({"import": module}) + "\n")
        for res in _topological(resources):
            out.write(json.dumps({k: res[k] for k in keep}) + "\n")
        out.write(json.dumps({"outputs": plan["outputs"]}) + "\n")
    return len(resources)


def measure(case: Case, stack: dict[str, Any], work: Path, repeats: int, floors: Sequence[str]) -> Case:
    stack_file = work / f"Pulumi.{case.label}.yaml"
    stack_file.write_text(yaml.safe_dump(stack, sort_keys=False), encoding="utf-8")
    plan_json, replay = work / f"{case.label}.json", work / f"{case.label}.replay.jsonl"
    plan_cmd = [sys.executable, "-m", "wfga", "plan", "--config-file", str(stack_file), "--json", str(plan_json)]
    floor_cmds = {
        kind: [sys.executable, "-m", "bench.plan_floor", str(replay), *(["--generic"] if kind == "bare" else [])]
        for kind in floors
    }
    for i in range(repeats):
        case.plan.append(timed(plan_cmd))
        if i == 0:
            case.resources = write_replay(plan_json, replay)
        report = [f"plan {case.plan[-1].seconds:.2f} s"]
        for kind, cmd in floor_cmds.items():
            case.floors.setdefault(kind, []).append(timed(cmd))
            report.append(f"{kind} floor {case.floors[kind][-1].seconds:.2f} s")
        print(f"  {case.label} run {i + 1}/{repeats}: {', '.join(report)}", file=sys.stderr, flush=True)
    return case


def render(cases: list[Case], floor: str | None) -> str:
    head = (
        "| case | resources | plan s (min / median) | floor s (min / median) | ratio (min / median) "
        "| CPU s plan / floor (ratio) | peak RSS MB plan / floor (ratio) | slope ms per resource plan / floor |"
    )
    lines = [head, "|" + " --- |" * 8]
    previous: dict[str, Any] | None = None
    for case in cases:
        s = case.summary(floor)
        has_floor = "floor_min_s" in s
        slope = ""
        if previous is not None and case.access_points == 6 and s["resources"] > previous["resources"]:
            added = s["resources"] - previous["resources"]
            slope = f"{(s['plan_min_s'] - previous['plan_min_s']) / added * 1000:.2f}"
            if has_floor:
                slope += f" / {(s['floor_min_s'] - previous['floor_min_s']) / added * 1000:.2f}"
        plan = f"{s['plan_min_s']:.2f} / {s['plan_median_s']:.2f}"
        if has_floor:
            floor_s = f"{s['floor_min_s']:.2f} / {s['floor_median_s']:.2f}"
            ratio = f"{s['ratio_min']:.2f} / {s['ratio_median']:.2f}"
            cpu = f"{s['plan_cpu_min_s']:.2f} / {s['floor_cpu_min_s']:.2f} ({s['cpu_ratio']:.2f})"
            rss = f"{s['plan_max_rss_mb']:.0f} / {s['floor_max_rss_mb']:.0f} ({s['rss_ratio']:.2f})"
        else:
            floor_s, ratio = "-", "-"
            cpu, rss = f"{s['plan_cpu_min_s']:.2f} / -", f"{s['plan_max_rss_mb']:.0f} / -"
        lines.append(f"| {case.label} | {s['resources']:,} | {plan} | {floor_s} | {ratio} | {cpu} | {rss} | {slope} |")
        if case.access_points == 6:
            previous = s
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plan_scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", help=f"N of the N x 6 stacks (default {SIZES})")
    parser.add_argument("--repeats", type=int, default=5, help="runs of plan and of floor per size (default 5)")
    parser.add_argument("--wide", type=int, default=WIDE_NODES, help="nodes of the one-access-point case; 0: skip")
    parser.add_argument("--wide-repeats", type=int, default=3, help="runs of the wide case (default 3)")
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}, 2 repeats, no wide case")
    parser.add_argument(
        "--floor",
        nargs="*",
        choices=FLOORS,
        default=["bare"],
        help="floors to run: bare (pulumi.CustomResource; default), typed (the SDKs' classes); none: plan alone",
    )
    parser.add_argument("--json", metavar="PATH", help="also write every run's figures here")
    parser.add_argument("--keep", metavar="DIR", help="write stacks, plans and replays here and keep them")
    args = parser.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    repeats, wide, wide_repeats = (2, 0, 0) if args.quick else (args.repeats, args.wide, args.wide_repeats)
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="wfga-plan-scale-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            cases.append(measure(Case(f"{n}x6", n, 6), stack_config(n), work, repeats, args.floor))
        if wide:
            case = Case(f"{wide}x1", wide, 1)
            cases.append(measure(case, stack_config(wide, wide=True), work, wide_repeats, args.floor))
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)
    for floor in args.floor or [None]:
        print(f"\nagainst the {floor} floor" if floor else "\nplan alone")
        print(render(cases, floor))
    if args.json:
        runs = [
            {
                "case": c.label,
                "resources": c.resources,
                "plan_runs": [vars(r) for r in c.plan],
                **{f"{kind}_floor_runs": [vars(r) for r in runs] for kind, runs in c.floors.items()},
                "summaries": [c.summary(kind) for kind in c.floors] or [c.summary()],
            }
            for c in cases
        ]
        Path(args.json).write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
