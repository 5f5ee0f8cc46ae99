"""``wfga diff``: what a change does to every node's ``server.backup_address`` and to the resources.

Both sides are offline plans (``wfga plan --json``).  A side is a stack of the working tree, a stack
file, a saved plan JSON, or ``REF:STACK``: the stack as of a git ref, planned by that ref's own code
in a temporary export of its tree (``git archive``), with this interpreter.

Per node the change is

* ``none``: the line is unchanged;
* ``additive``: entries were only added (or reordered): every address a node hands out today keeps
  working, so nodes can be reconfigured after the deployment, at leisure;
* ``disruptive``: an existing entry disappears, moves to another node or service, or its address
  changes: the node must be reconfigured in the same change or clients get dead or wrong addresses.

Cloud-assigned addresses are placeholders in an offline plan, so entries are compared by the EIP
resource behind a placeholder address, not by the placeholder itself.  Which input change forces a
replacement is the provider's decision; :data:`REPLACE_ON` knows the few that matter here and
``pulumi preview --diff`` stays the authority.  Inputs a resource lists in ``ignore_changes`` are
not compared, as the engine keeps their deployed values.

A VM access point forwards a new entry only once its VMs run the new nginx config: an entry added
on a VM is additive when that VM's config delivery (Cloud Assistant invocation, Systems Manager
association) runs in the same change, and disruptive otherwise.  A VM that is replaced, rebooted
or re-imaged (user data or image not ignored) drops every link through it: disruptive.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from wfga.model.config import ConfigError
from wfga.offline.engine import Plan, StackPlanner
from wfga.offline.stackfile import program_dir, stack_name_of, stack_path
from wfga.ops.report import MARK, mark_placeholders

Impact = Literal["none", "additive", "disruptive"]
Action = Literal["create", "update", "replace", "delete"]

EXIT_CODES: dict[Impact, int] = {"none": 0, "additive": 1, "disruptive": 3}
EXIT_BAD_INPUT = 2
_RANK: dict[Impact, int] = {"none": 0, "additive": 1, "disruptive": 2}

EIP_TYPES = {"alicloud:ecs/eipAddress:EipAddress": "ipAddress", "aws:ec2/eip:Eip": "publicIp"}
AWS_LB = "aws:lb/loadBalancer:LoadBalancer"
AWS_TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LOAD_BALANCER_TYPES = {"alicloud:nlb/loadBalancer:LoadBalancer", AWS_LB}
LISTENER_TYPES = {"alicloud:nlb/listener:Listener", "aws:lb/listener:Listener"}
VM_TYPES = {"alicloud:ecs/instance:Instance", "aws:ec2/instance:Instance"}
# An update of these reboots (ECS), stops/starts (EC2) or re-images a VM (SDK docstrings).
VM_RESTART_INPUTS = frozenset({"userData", "userDataBase64", "imageId"})
# The resource that runs a VM's config delivery, and how it is named in the diff.
DELIVERY_TYPES = {
    "alicloud:ecs/ecsInvocation:EcsInvocation": "Cloud Assistant command",
    "aws:ssm/association:Association": "Systems Manager document",
}

# Inputs the providers mark ForceNew (alicloud: terraform-provider-alicloud schemas; aws: the
# aws_eip / aws_lb / aws_lb_target_group / aws_lb_listener schemas, unverified against 7.x).  A change
# to one of them replaces the resource: a replaced EIP gets a new address, a replaced load balancer or
# listener drops every connection on it.  An AWS NLB's subnets and security groups follow the
# provider's own rule instead (:func:`_aws_nlb_forcing`).
REPLACE_ON: dict[str, frozenset[str]] = {
    "alicloud:ecs/eipAddress:EipAddress": frozenset(
        {
            "highDefinitionMonitorLogStatus",
            "instanceChargeType",
            "internetChargeType",
            "ipAddress",
            "isp",
            "netmode",
            "paymentType",
            "publicIpAddressPoolId",
            "securityProtectionTypes",
            "zone",
        }
    ),
    "alicloud:nlb/loadBalancer:LoadBalancer": frozenset(
        {"addressIpVersion", "loadBalancerType", "resourceGroupId", "vpcId"}
    ),
    # resource_alicloud_nlb_listener.go: an NLB listener's port or protocol never changes in place.
    "alicloud:nlb/listener:Listener": frozenset(
        {"endPort", "listenerPort", "listenerProtocol", "loadBalancerId", "startPort"}
    ),
    "aws:ec2/eip:Eip": frozenset(
        {"address", "customerOwnedIpv4Pool", "domain", "ipamPoolId", "networkBorderGroup", "publicIpv4Pool", "region"}
    ),
    "aws:lb/loadBalancer:LoadBalancer": frozenset(
        {"customerOwnedIpv4Pool", "internal", "loadBalancerType", "name", "namePrefix", "region"}
    ),
    "aws:lb/targetGroup:TargetGroup": frozenset(
        {"ipAddressType", "name", "namePrefix", "port", "protocol", "protocolVersion", "region", "targetType", "vpcId"}
    ),
    "aws:lb/listener:Listener": frozenset({"loadBalancerArn", "region"}),
    "aws:ec2/instance:Instance": frozenset({"ami", "availabilityZone", "region", "subnetId"}),
    # terraform-provider-alicloud: every argument of alicloud_ecs_command and alicloud_ecs_invocation.
    "alicloud:ecs/command:Command": frozenset(
        {"commandContent", "description", "enableParameter", "name", "timeout", "type", "workingDir"}
    ),
    "alicloud:ecs/ecsInvocation:EcsInvocation": frozenset(
        {"commandId", "frequency", "instanceIds", "parameters", "repeatMode", "timed", "username"}
    ),
    # terraform-provider-aws: aws_ssm_document `name`; aws_ssm_association `name` (the document), `instance_id`.
    "aws:ssm/document:Document": frozenset({"name", "region"}),
    "aws:ssm/association:Association": frozenset({"instanceId", "name", "region"}),
}


class DiffInputError(Exception):
    """A side of the diff cannot be read or planned; printed as is, exit 2."""


@dataclass(frozen=True)
class NodeChange:
    node: str
    impact: Impact
    before: list[str]
    after: list[str]
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    readdressed: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    # Public ports that now forward elsewhere: {"address": "<EIP name or IP>:port", "from": "node/service",
    # "to": "node/service"}; the reasons say it once per node and cause.
    moved: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ResourceChange:
    action: Action
    type: str
    name: str
    key: str
    inputs: list[str] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class PlanDiff:
    stack: str
    base: str
    head: str
    nodes: list[NodeChange]
    resources: list[ResourceChange]
    notes: list[str]
    placeholders: list[str] = field(default_factory=list)

    @property
    def impact(self) -> Impact:
        impacts: list[Impact] = [n.impact for n in self.nodes]
        if any(r.action == "replace" and r.type in LOAD_BALANCER_TYPES | LISTENER_TYPES for r in self.resources):
            impacts.append("disruptive")
        if any(_restarts_vm(r) for r in self.resources):
            impacts.append("disruptive")
        return max(impacts, key=_RANK.__getitem__, default="none")

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.impact]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "impact": self.impact}


def empty_plan(stack: str) -> dict[str, Any]:
    return {"stack": stack, "resources": [], "outputs": {}, "placeholders": []}


def resource_key(urn: str) -> str:
    """The URN without stack and project, so a plan compares with one of a differently named stack."""
    parts = urn.split("::")
    return "::".join(parts[2:]) if len(parts) >= 4 else urn


def _provider_key(provider: str) -> str:
    # A provider reference is "<urn>::<id>"; the id is a placeholder, the URN is what matters.
    return resource_key(provider.rsplit("::", 1)[0]) if provider else ""


class _Addresses:
    """Maps a placeholder address to the EIP resource that owns it, so probing order never matters."""

    def __init__(self, plan: Mapping[str, Any]) -> None:
        placeholders = set(plan.get("placeholders", []))
        self.owner: dict[str, str] = {}
        for res in plan.get("resources", []):
            attr = EIP_TYPES.get(res["type"])
            ip = res.get("state", {}).get(attr) if attr else None
            if isinstance(ip, str) and ip in placeholders:
                self.owner[ip] = resource_key(res["urn"])

    def canonical(self, entry: str) -> str:
        ip, _, ports = entry.partition(":")
        owner = self.owner.get(ip)
        return f"<{owner}>:{ports}" if owner else entry

    def eip_of(self, entry: str) -> str | None:
        return self.owner.get(entry.partition(":")[0])


def _entries(plan: Mapping[str, Any]) -> dict[str, list[str]]:
    lines: Mapping[str, str] = plan.get("outputs", {}).get("backup_addresses", {})
    return {node: [e for e in line.split(",") if e] for node, line in lines.items()}


def _forwards(plan: Mapping[str, Any], addresses: _Addresses) -> dict[str, tuple[str, str]]:
    """(canonical public ip:port) -> (node, service) from the port map."""
    rows: Sequence[Mapping[str, Any]] = plan.get("outputs", {}).get("port_map", [])
    return {
        addresses.canonical(f"{row['public_ip']}:{row['public_port']}"): (str(row["node"]), str(row["service"]))
        for row in rows
    }


def _node_change(
    node: str,
    before: list[str],
    after: list[str],
    *,
    base_addr: _Addresses,
    head_addr: _Addresses,
    replaced_eips: set[str],
) -> NodeChange:
    before_c = [base_addr.canonical(e) for e in before]
    after_c = [head_addr.canonical(e) for e in after]
    removed = [e for e, c in zip(before, before_c, strict=True) if c not in after_c]
    added = [e for e, c in zip(after, after_c, strict=True) if c not in before_c]
    readdressed = [
        e for e, c in zip(before, before_c, strict=True) if c in after_c and base_addr.eip_of(e) in replaced_eips
    ]
    reasons: list[str] = []
    if not before and after:
        reasons.append("new node: configure its backup_address (nothing breaks before that)")
    elif before and not after:
        reasons.append("node removed: all its access-point entries are deleted; take it out of service in this change")
    if removed and after:
        reasons.append(f"{len(removed)} existing {'entry disappears' if len(removed) == 1 else 'entries disappear'}")
    if readdressed:
        reasons.append("an EIP behind an entry is replaced, so its address changes")
    if removed or readdressed:
        return NodeChange(node, "disruptive", before, after, added, removed, readdressed, reasons)
    if added:
        if before and after_c[: len(before_c)] != before_c:
            reasons.append("new entries are not all at the end: the line's order changes, old entries keep working")
        return NodeChange(node, "additive", before, after, added, [], [], reasons)
    if before_c != after_c:
        return NodeChange(node, "additive", before, after, [], [], [], ["same entries in another order"])
    return NodeChange(node, "none", before, after)


def _listens_ws(plan: Mapping[str, Any]) -> bool | None:
    """Whether the plan has ws listeners; None when it has no listener to tell by."""
    rows: Sequence[Mapping[str, Any]] = plan.get("outputs", {}).get("port_map", [])
    return any(row["service"] == "ws" for row in rows) if rows else None


def web_switch_note(base: Mapping[str, Any], head: Mapping[str, Any]) -> str | None:
    """Name a change of the cluster's ``web_clients`` for what it does, if the two plans show one."""
    before, after = _listens_ws(base), _listens_ws(head)
    if before is None or after is None or before == after:
        return None
    if before:
        return (
            "web_clients switched off: every ws listener is deleted and entries keep a ws port with nothing "
            "behind it (web clients lose these backup addresses); an NLB now carries quota/2 nodes instead of "
            "quota/3, so a node whose slot lands on another load balancer gets new addresses (disruptive above)"
        )
    return (
        "web_clients switched on: ws listeners are created behind the ws port every entry already names; an NLB "
        "now carries quota/3 nodes instead of quota/2, so a node whose slot lands on another load balancer "
        "gets new addresses (disruptive above)"
    )


def _shown_address(canonical: str) -> str:
    """``<urn key>:port`` as ``<EIP name>:port``: the resource name is what a reviewer recognises."""
    if canonical.startswith("<"):
        owner, _, port = canonical[1:].rpartition(">:")
        return f"{owner.rsplit('::', 1)[-1]}:{port}"
    return canonical


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}{'es' if word.endswith('s') else 's'}"


def moved_reasons(moves: Sequence[Mapping[str, str]]) -> list[str]:
    """One reason per cause (the node the ports now forward to), with the count, ports and addresses."""
    groups: dict[str, list[Mapping[str, str]]] = {}
    for move in moves:
        was, now = move["from"].split("/")[0], move["to"].split("/")[0]
        groups.setdefault(now if now != was else "", []).append(move)
    reasons = []
    for now, items in groups.items():
        was = items[0]["from"].split("/")[0]
        where = f"now forward to {now}, not {was}" if now else f"now forward to other services of {was}"
        ports = sorted({int(m["address"].rpartition(":")[2]) for m in items})
        hosts = list(dict.fromkeys(m["address"].rpartition(":")[0] for m in items))
        reasons.append(
            f"{_plural(len(items), 'public port')} {where}: {_plural(len(ports), 'port')} "
            f"({', '.join(map(str, ports))}) on {_plural(len(hosts), 'address')} ({', '.join(hosts)})"
        )
    return reasons


def _resource_changes(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[ResourceChange]:
    old = {resource_key(r["urn"]): r for r in base.get("resources", []) if r.get("custom")}
    new = {resource_key(r["urn"]): r for r in head.get("resources", []) if r.get("custom")}
    changes: list[ResourceChange] = []
    for key, res in new.items():
        if key not in old:
            changes.append(ResourceChange("create", res["type"], res["name"], key))
    for key, res in old.items():
        if key not in new:
            note = "protected: `pulumi up` refuses to delete it until it is unprotected" if res.get("protect") else ""
            changes.append(ResourceChange("delete", res["type"], res["name"], key, note=note))
            continue
        other = new[key]
        before_in, after_in = res.get("inputs", {}), other.get("inputs", {})
        ignored = set(other.get("ignore_changes", []))
        keys = sorted(
            k for k in set(before_in) | set(after_in) if k not in ignored and before_in.get(k) != after_in.get(k)
        )
        provider_moved = _provider_key(res.get("provider", "")) != _provider_key(other.get("provider", ""))
        if provider_moved:
            keys.append("(provider)")
        if bool(res.get("protect")) != bool(other.get("protect")):
            keys.append("(protect)")
        if not keys:
            continue
        forcing = sorted(REPLACE_ON.get(res["type"], frozenset()) & set(keys))
        if res["type"] == AWS_LB:
            forcing = sorted(set(forcing) | set(_aws_nlb_forcing(before_in, after_in)))
        if forcing or provider_moved:
            why = ", ".join(forcing + (["provider"] if provider_moved else []))
            note = f"replaced: {why} changes"
            if other.get("delete_before_replace"):
                note += "; the old one is deleted first"
            changes.append(ResourceChange("replace", res["type"], res["name"], key, keys, note))
        else:
            changes.append(ResourceChange("update", res["type"], res["name"], key, keys))
    order: dict[Action, int] = {"replace": 0, "delete": 1, "create": 2, "update": 3}
    return sorted(changes, key=lambda c: (order[c.action], c.type, c.name))


def _aws_nlb_forcing(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What replaces an AWS network load balancer among its subnets and security groups.

    terraform-provider-aws ``customizeDiffLoadBalancerNLB``: subnets may only be added (a removed or
    changed mapping replaces the NLB), and security groups can be neither added to an NLB created
    without any nor all removed.
    """
    if before.get("loadBalancerType", "network") != "network" or after.get("loadBalancerType", "network") != "network":
        return []
    forcing = []
    for key in ("subnetMappings", "subnets"):
        old, new = list(before.get(key) or []), list(after.get(key) or [])
        if old != new and any(item not in new for item in old):
            forcing.append(key)
    old_groups, new_groups = before.get("securityGroups") or [], after.get("securityGroups") or []
    if bool(old_groups) != bool(new_groups):
        forcing.append("securityGroups")
    return forcing


def _names(resources: Sequence[ResourceChange], limit: int = 6) -> str:
    shown = ", ".join(r.name for r in resources[:limit])
    return shown + (f" and {len(resources) - limit} more" if len(resources) > limit else "")


def _replacement_notes(resources: Sequence[ResourceChange], head: Mapping[str, Any]) -> list[str]:
    deletes_first = {resource_key(r["urn"]) for r in head.get("resources", []) if r.get("delete_before_replace")}
    replaced = [r for r in resources if r.action == "replace"]
    notes = []
    for r in replaced:
        if r.type not in LOAD_BALANCER_TYPES:
            continue
        if r.key in deletes_first:
            notes.append(
                f"load balancer {r.name} is replaced, the old one deleted first (it holds the EIPs and the name "
                "the new one takes): every connection through its addresses drops and they answer nothing until "
                "the new load balancer is active; the EIPs are separate, protected resources and keep their "
                "addresses"
            )
        else:
            notes.append(
                f"load balancer {r.name} is replaced: every connection through its addresses drops during the change"
            )
    # Listeners and target groups come in dozens: one note per kind and reason.
    groups: dict[tuple[str, str], list[ResourceChange]] = {}
    for r in replaced:
        if r.type in LISTENER_TYPES or r.type == AWS_TARGET_GROUP:
            groups.setdefault((r.type, r.note.removeprefix("replaced: ")), []).append(r)
    for (type_, why), changes in groups.items():
        if type_ in LISTENER_TYPES:
            notes.append(
                f"{len(changes)} listener(s) replaced ({why}): {_names(changes)}; the cloud changes this only by "
                "deleting and re-creating a listener, so connections through it drop"
            )
        else:
            notes.append(
                f"{len(changes)} target group(s) replaced ({why}): {_names(changes)}; each new group is created "
                "first, its listener is pointed at it and the old group deleted"
            )
    return notes


def _restarts_vm(r: ResourceChange) -> bool:
    return r.type in VM_TYPES and (
        r.action == "replace" or (r.action == "update" and bool(VM_RESTART_INPUTS & set(r.inputs)))
    )


def _deliveries(head: Mapping[str, Any], resources: Sequence[ResourceChange]) -> dict[str, str]:
    """Instance id -> what delivers its new nginx config in this change (created or replaced delivery)."""
    running = {r.key for r in resources if r.type in DELIVERY_TYPES and r.action in ("create", "replace")}
    names = {r.get("id"): r.get("inputs", {}).get("name", r["name"]) for r in head.get("resources", [])}
    result: dict[str, str] = {}
    for res in head.get("resources", []):
        if resource_key(res["urn"]) not in running:
            continue
        inputs = res.get("inputs", {})
        if res["type"] == "aws:ssm/association:Association":
            targets = [v for t in inputs.get("targets", []) if t.get("key") == "InstanceIds" for v in t["values"]]
            what = f"{DELIVERY_TYPES[res['type']]} {inputs.get('name')}"
        else:
            targets = list(inputs.get("instanceIds", []))
            what = f"{DELIVERY_TYPES[res['type']]} {names.get(inputs.get('commandId'), '?')}"
        for instance_id in targets:
            result[instance_id] = what
    return result


def _vm_entries(
    nodes: list[NodeChange], head: Mapping[str, Any], resources: Sequence[ResourceChange]
) -> tuple[list[NodeChange], list[str]]:
    """Entries added on a VM are additive only if that VM's config delivery runs in this change."""
    vms = {r.get("id"): r["name"] for r in head.get("resources", []) if r["type"] in VM_TYPES}
    aps: Mapping[str, Any] = head.get("outputs", {}).get("access_points", {})
    vm_of = {
        ip: lb["id"]
        for ap in aps.values()
        for lb in ap.get("load_balancers", {}).values()
        for ip in lb.get("public_ips", [])
        if lb.get("id") in vms
    }
    deliveries = _deliveries(head, resources)
    notes = [f"{what} runs on VM {vms.get(vm, vm)}" for vm, what in sorted(deliveries.items())]
    result = []
    for n in nodes:
        reasons, stranded = [], False
        for e in n.added:
            vm = vm_of.get(e.partition(":")[0])
            if vm is None:
                continue
            if vm in deliveries:
                reasons.append(f"{e} forwards once {deliveries[vm]} runs on VM {vms[vm]}")
            else:
                stranded = True
                reasons.append(f"{e}: VM {vms[vm]} gets no new nginx config in this change, so it would not forward")
        impact: Impact = "disruptive" if stranded else n.impact
        result.append(replace(n, impact=impact, reasons=n.reasons + reasons) if reasons else n)
    return result, notes


def compare(base: Mapping[str, Any], head: Mapping[str, Any], base_label: str, head_label: str) -> PlanDiff:
    """The diff of two plans in ``wfga plan --json`` form."""
    base_addr, head_addr = _Addresses(base), _Addresses(head)
    resources = _resource_changes(base, head)
    replaced_eips = {r.key for r in resources if r.action == "replace" and r.type in EIP_TYPES}
    before_all, after_all = _entries(base), _entries(head)
    nodes = [
        _node_change(
            node,
            before_all.get(node, []),
            after_all.get(node, []),
            base_addr=base_addr,
            head_addr=head_addr,
            replaced_eips=replaced_eips,
        )
        for node in [*before_all, *(n for n in after_all if n not in before_all)]
    ]
    old_fw, new_fw = _forwards(base, base_addr), _forwards(head, head_addr)
    moved: dict[str, list[dict[str, str]]] = {}
    for address, target in old_fw.items():
        now = new_fw.get(address)
        if now is not None and now != target:
            moved.setdefault(target[0], []).append(
                {"address": _shown_address(address), "from": "/".join(target), "to": "/".join(now)}
            )
    nodes = [
        replace(n, impact="disruptive", reasons=n.reasons + moved_reasons(moved[n.node]), moved=moved[n.node])
        if n.node in moved
        else n
        for n in nodes
    ]
    nodes, delivery_notes = _vm_entries(nodes, head, resources)
    switch = web_switch_note(base, head)
    notes = [switch] if switch else []
    notes += _replacement_notes(resources, head)
    notes += [
        f"VM {r.name} is {'replaced' if r.action == 'replace' else 'rebooted'} ({', '.join(r.inputs)}): "
        "every link through it drops"
        for r in resources
        if _restarts_vm(r)
    ]
    notes += delivery_notes
    notes += [f"EIP {r.name} is replaced: its address changes" for r in resources if r.key in replaced_eips]
    notes += [
        f"{'EIP' if r.type in EIP_TYPES else 'load balancer'} {r.name} is deleted" + (f" ({r.note})" if r.note else "")
        for r in resources
        if r.action == "delete" and (r.type in EIP_TYPES or r.type in LOAD_BALANCER_TYPES)
    ]
    stack = str(head.get("stack") or base.get("stack") or "")
    placeholders = sorted(set(base.get("placeholders", [])) | set(head.get("placeholders", [])))
    return PlanDiff(stack, base_label, head_label, nodes, resources, notes, placeholders)


# --- reading the two sides -------------------------------------------------------------------------


def _read_plan_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DiffInputError(f"{path}: cannot read a plan ({err})") from None
    if not isinstance(data, dict) or "resources" not in data or "outputs" not in data:
        raise DiffInputError(f"{path}: not a plan; write one with `python -m wfga plan STACK --json FILE`")
    return data


def _git(root: Path, *args: str) -> bytes:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    except OSError as err:
        raise DiffInputError(f"cannot run git ({err.strerror})") from None
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip()
        raise DiffInputError(f"git {' '.join(args)} failed: {message}")
    return proc.stdout


def code_files(project: Path) -> dict[str, bytes]:
    """What a plan's program is made of, by path: its ``__main__.py`` and the two packages it imports."""
    code = program_dir(project)
    program = code / "__main__.py"
    files = {"__main__.py": program.read_bytes() if program.is_file() else b""}
    for package in ("wfga", "components"):
        for path in sorted((code / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[path.relative_to(code).as_posix()] = path.read_bytes()
    return files


# Run inside a git ref's exported tree: its own wfga plans every stack asked for, one process for
# all of them, each stack's errors kept apart.
_PLAN_STACKS = """
import contextlib, gc, io, json, os, sys, traceback
gc.disable()
from wfga.cli import main
out = sys.argv[1]
status = {}
for stack in sys.argv[2:]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(["plan", stack, "--json", os.path.join(out, stack + ".json"), "--quiet"])
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
    status[stack] = [code, err.getvalue()]
with open(os.path.join(out, "status.json"), "w", encoding="utf-8") as f:
    json.dump(status, f)
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
"""


class RefTree:
    """A git ref's tree exported to a temporary directory; plans its stacks with its own code.

    When that code is byte for byte the working tree's, its stacks are planned in this process
    (sharing plans with the working tree's side through ``cache``); otherwise one child process
    runs the ref's own code for all the stacks asked for.
    """

    def __init__(self, root: Path, ref: str, directory: Path, cache: dict[str, Plan] | None = None) -> None:
        self.ref = ref
        try:
            _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except DiffInputError:
            raise DiffInputError(
                f"git ref {ref!r} is not a commit here; fetch it first (e.g. git fetch origin main)"
            ) from None
        # The whole tree, from the top: in a subdirectory `git archive` would export only that
        # subdirectory, and the program (Pulumi.yaml's `main`) may sit above the project.
        prefix = _git(root, "rev-parse", "--show-prefix").decode().strip()
        top = Path(_git(root, "rev-parse", "--show-toplevel").decode().strip())
        archive = _git(top, "archive", "--format=tar", ref)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(directory, filter="data")
        self.project = directory / prefix
        self.shares_code = code_files(self.project) == code_files(root)
        self.planner = StackPlanner(self.project, code=root, cache=cache) if self.shares_code else None

    def stacks(self) -> list[str]:
        return sorted(stack_name_of(p) for p in (self.project / "stacks").glob("Pulumi.*.yaml"))

    def plan(self, stack: str) -> dict[str, Any]:
        return self.start([stack]).result()[stack]

    def start(self, stacks: Sequence[str]) -> PendingPlans:
        """Begin planning ``stacks``; with the ref's own code the child process runs meanwhile."""
        plans = {stack: empty_plan(stack) for stack in stacks if not stack_path(self.project, stack).is_file()}
        present = [stack for stack in stacks if stack not in plans]
        if self.planner is not None or not present:
            return PendingPlans(self, plans, present, None)
        out = self.project / ".wfga-diff"
        out.mkdir(exist_ok=True)
        # The ref's own code, not ours: its program's directory first, nothing of this tree's.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = str(program_dir(self.project))
        proc = subprocess.Popen(
            [sys.executable, "-c", _PLAN_STACKS, str(out), *present],
            cwd=self.project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        return PendingPlans(self, plans, present, proc)


class PendingPlans:
    """A ref's plans under way: in a child process, or (same code as here) planned on ``result``."""

    def __init__(
        self,
        tree: RefTree,
        plans: dict[str, dict[str, Any]],
        stacks: list[str],
        proc: subprocess.Popen[str] | None,
    ) -> None:
        self._tree, self._plans, self._stacks, self._proc = tree, plans, stacks, proc

    def result(self) -> dict[str, dict[str, Any]]:
        tree, plans = self._tree, self._plans
        if self._proc is None:
            if tree.planner is not None:
                for stack in self._stacks:
                    plans[stack] = _planned(tree.planner, stack_path(tree.project, stack), f"{stack} at {tree.ref}")
            return plans
        _, stderr = self._proc.communicate()
        out = tree.project / ".wfga-diff"
        try:
            status: dict[str, list[Any]] = json.loads((out / "status.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise DiffInputError(
                f"planning {', '.join(self._stacks)} at {tree.ref} failed (exit {self._proc.returncode}):\n"
                f"{stderr.strip()}"
            ) from None
        for stack in self._stacks:
            code, errors = status[stack]
            if code != 0:
                raise DiffInputError(f"planning stack {stack} at {tree.ref} failed (exit {code}):\n{errors.strip()}")
            plans[stack] = _read_plan_json(out / f"{stack}.json")
        return plans

    def cancel(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.communicate()


def _planned(planner: StackPlanner, stack_file: Path, what: str) -> dict[str, Any]:
    try:
        return planner.plan_file(stack_file).to_json()
    except ConfigError as err:
        raise DiffInputError(f"planning stack {what} failed:\n{err}") from None


@contextmanager
def ref_tree(root: Path, ref: str, cache: dict[str, Plan] | None = None) -> Iterator[RefTree]:
    with tempfile.TemporaryDirectory(prefix="wfga-diff-") as tmp:
        yield RefTree(root, ref, Path(tmp), cache)


def is_path(spec: str) -> bool:
    # Not "contains a slash": refs do too (origin/main:demo).
    return spec.endswith((".yaml", ".yml", ".json")) or Path(spec).is_file()


def load_side(spec: str, root: Path, cache: dict[str, Plan] | None = None) -> tuple[dict[str, Any], str]:
    """A plan and its label from STACK, a stack file, a plan JSON file or REF:STACK.

    A saved plan JSON is read as it is, never planned again.
    """
    planner = StackPlanner(root, cache=cache)
    if is_path(spec):
        path = Path(spec)
        if path.suffix == ".json":
            return _read_plan_json(path), spec
        return planner.plan_file(path.resolve()).to_json(), spec
    if ":" in spec:
        ref, stack = spec.rsplit(":", 1)
        if not ref or not stack:
            raise DiffInputError(f"{spec!r}: expected REF:STACK, e.g. origin/main:demo")
        with ref_tree(root, ref, cache) as tree:
            if stack not in tree.stacks():
                return empty_plan(stack), f"{spec} (absent at {ref}: new stack)"
            return tree.plan(stack), spec
    return planner.plan_file(stack_path(root, spec)).to_json(), spec


def run(root: Path, sides: Sequence[str], base_ref: str | None, all_stacks: bool) -> list[PlanDiff]:
    """The diffs the command line asks for; DiffInputError when the arguments do not fit together."""
    if all_stacks:
        if base_ref is None or sides:
            raise DiffInputError("--all compares every stack with --base-ref REF and takes no other argument")
        return diff_all(root, base_ref)
    if base_ref is not None:
        if len(sides) != 1:
            raise DiffInputError("with --base-ref give exactly one stack name, e.g. --base-ref origin/main demo")
        sides = [f"{base_ref}:{sides[0]}", sides[0]]
    if len(sides) != 2:
        raise DiffInputError(
            "give BASE and HEAD (e.g. origin/main:demo demo), --base-ref REF STACK, or --base-ref REF --all"
        )
    # One process, one cache: a side that plans exactly what the other did is not planned again.
    cache: dict[str, Plan] = {}
    base, base_label = load_side(sides[0], root, cache)
    head, head_label = load_side(sides[1], root, cache)
    return [compare(base, head, base_label, head_label)]


def diff_all(root: Path, ref: str) -> list[PlanDiff]:
    """Every stack of the working tree or of ``ref``: a stack only on one side is all created or deleted.

    Each stack is planned once per side (once in all when neither it, nor what it reads, nor the
    code changed); the ref's side in a child process of its own when its code differs, meanwhile.
    """
    cache: dict[str, Plan] = {}
    planner = StackPlanner(root, cache=cache)
    with ref_tree(root, ref, cache) as tree:
        here = sorted(stack_name_of(p) for p in (root / "stacks").glob("Pulumi.*.yaml"))
        there = tree.stacks()
        stacks = sorted(set(here) | set(there))
        pending = tree.start(stacks)
        try:
            heads = {
                stack: _planned(planner, stack_path(root, stack), stack) if stack in here else empty_plan(stack)
                for stack in stacks
            }
        except BaseException:
            pending.cancel()
            raise
        bases = pending.result()
    diffs = []
    for stack in stacks:
        head_label = stack if stack in here else f"{stack} (deleted in the working tree)"
        base_label = f"{ref}:{stack}" if stack in there else f"{ref}:{stack} (absent: new stack)"
        diffs.append(compare(bases[stack], heads[stack], base_label, head_label))
    return diffs


# --- rendering -------------------------------------------------------------------------------------

PLACEHOLDER_NOTE = (
    f"{MARK} placeholder address of the offline plan; entries are compared by the EIP behind it, "
    "the cloud assigns the real address"
)
_SYMBOL: dict[Action, str] = {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}
_VERDICT: dict[Impact, str] = {
    "none": "none: no node needs reconfiguring",
    "additive": "additive: entries are only added; reconfigure nodes after deploying, at leisure",
    "disruptive": "DISRUPTIVE: reconfigure the nodes below in the same change",
}


def _counts(resources: Sequence[ResourceChange]) -> str:
    return ", ".join(
        f"{sum(1 for r in resources if r.action == a)} to {a}" for a in ("create", "update", "replace", "delete")
    )


def render_text(diff: PlanDiff) -> str:
    out = [f"wfga diff: stack {diff.stack}: {diff.base} -> {diff.head}", f"impact: {_VERDICT[diff.impact]}", ""]
    changed = [n for n in diff.nodes if n.impact != "none"]
    unchanged = [n.node for n in diff.nodes if n.impact == "none"]
    if diff.nodes:
        out.append("Nodes (server.backup_address)")
    for n in changed:
        out.append(f"  {n.node}: {n.impact}")
        out.append(f"    before: {','.join(n.before) or '(none)'}")
        out.append(f"    after:  {','.join(n.after) or '(none)'}")
        for sign, what, entries in (("-", "removed", n.removed), ("+", "added", n.added)):
            if entries:
                out.append(f"    {sign} {len(entries)} {what}: {', '.join(entries)}")
        if n.readdressed:
            out.append(f"    ! {len(n.readdressed)} get a new address: {', '.join(n.readdressed)}")
        out += [f"    why: {r}" for r in n.reasons]
    if unchanged:
        out.append(f"  unchanged: {', '.join(unchanged)}")
    if diff.nodes:
        out.append("")
    out.append(f"Resources: {_counts(diff.resources)}")
    for group in _resource_groups(diff.resources):
        r = group[0]
        detail = f" ({', '.join(r.inputs)})" if r.inputs else ""
        note = f"  [{r.note}]" if r.note else ""
        count = f"{len(group)} x " if len(group) > 1 else ""
        out.append(f"  {_SYMBOL[r.action]:>3} {count}{r.type}  {', '.join(g.name for g in group)}{detail}{note}")
    if diff.notes:
        out += ["", "Notes"]
        for text, names in _note_groups(diff.notes, [r.name for r in diff.resources]):
            out.append(f"  - {len(names)} x: {text}" if len(names) > 1 else f"  - {text}")
            if len(names) > 1:
                out.append(f"      {NAME}: {', '.join(names)}")
    return _marked("\n".join(out), diff, markdown=False)


NAME = "NAME"


def _resource_groups(resources: Sequence[ResourceChange]) -> list[list[ResourceChange]]:
    """Changes alike but for the name (action, type, inputs, note), in first-seen order."""
    groups: dict[tuple[str, str, tuple[str, ...], str], list[ResourceChange]] = {}
    for r in resources:
        groups.setdefault((r.action, r.type, tuple(r.inputs), r.note), []).append(r)
    return list(groups.values())


def _note_groups(notes: Sequence[str], names: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Notes that say the same of different resources, once: (note with NAME, the names); others as they are."""
    by_length = sorted(set(names), key=len, reverse=True)
    groups: dict[str, list[str]] = {}
    for note in notes:
        name = next((n for n in by_length if f" {n} " in f" {note} "), None)
        if name is None:
            groups.setdefault(note, [])
            continue
        template = f" {note} ".replace(f" {name} ", f" {NAME} ", 1).strip()
        groups.setdefault(template, []).append(name)
    return [
        (template if len(found) > 1 else template.replace(NAME, found[0], 1) if found else template, found)
        for template, found in groups.items()
    ]


def _marked(text: str, diff: PlanDiff, *, markdown: bool) -> str:
    marked = mark_placeholders(text, diff.placeholders)
    if marked == text:
        return text
    # A line starting with "*" would be a list item in Markdown.
    escape = "\\" if markdown else ""
    return f"{marked}\n\n{escape}{PLACEHOLDER_NOTE}"


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def render_markdown(diff: PlanDiff) -> str:
    out = [
        f"### wfga diff `{diff.stack}`: {diff.impact}",
        "",
        f"{_code(diff.base)} → {_code(diff.head)}",
        "",
        f"**Impact**: {_VERDICT[diff.impact]} (exit {diff.exit_code})",
        "",
    ]
    if diff.nodes:
        out += ["| node | impact | removed | added | why |", "| --- | --- | --- | --- | --- |"]
        for n in diff.nodes:
            removed = "<br>".join(_code(e) for e in [*n.removed, *(f"{e} (new address)" for e in n.readdressed)])
            added = "<br>".join(_code(e) for e in n.added)
            impact = f"**{n.impact}**" if n.impact == "disruptive" else n.impact
            out.append(f"| {n.node} | {impact} | {removed} | {added} | {'; '.join(n.reasons)} |")
        changed = [n for n in diff.nodes if n.impact != "none"]
        if changed:
            out += ["", "<details><summary>server.backup_address before and after</summary>", "", "```text"]
            for n in changed:
                out += [f"{n.node} before: {','.join(n.before)}", f"{n.node} after:  {','.join(n.after)}"]
            out += ["```", "", "</details>"]
        out.append("")
    out.append(f"**Resources**: {_counts(diff.resources)}")
    if diff.resources:
        out += ["", "<details><summary>resource changes</summary>", ""]
        out += ["| action | type | name | inputs | note |", "| --- | --- | --- | --- | --- |"]
        for r in diff.resources:
            out.append(f"| {r.action} | `{r.type}` | `{r.name}` | {', '.join(r.inputs)} | {r.note} |")
        out += ["", "</details>"]
    if diff.notes:
        out.append("")
        for note, names in _note_groups(diff.notes, [r.name for r in diff.resources]):
            many = len(names) > 1
            out.append(
                f"- {len(names)} x: {note} ({NAME}: {', '.join(_code(n) for n in names)})" if many else f"- {note}"
            )
    return _marked("\n".join(out), diff, markdown=True) + "\n"


def render(diffs: Sequence[PlanDiff], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([d.to_json() for d in diffs], indent=2) + "\n"
    if fmt == "markdown":
        return "\n".join(render_markdown(d) for d in diffs)
    return "\n\n".join(render_text(d) for d in diffs) + "\n"


def worst_exit(diffs: Sequence[PlanDiff]) -> int:
    return max((d.exit_code for d in diffs), default=0)
