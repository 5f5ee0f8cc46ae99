"""What a VM access point's resources carry to the VM: its packed user data and its config delivery.

The delivery is read by running it, not by parsing it: the shell writes the files under a scratch
root (``WFGA_ROOT``) with ``nginx``, ``systemctl`` and ``cloud-init`` replaced by recorders.
"""

from __future__ import annotations

import base64
import json
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wfga.model.config import parse_stack_config
from wfga.offline.engine import Plan, ResourceRecord
from wfga.plan.cloudinit import APPLY_SCRIPT, LIMITS_DROP_IN, STAGED_CONF, SYSCTL_FILE, unpack_user_data
from wfga.plan.portplan import PortMapping, plan_stack

INSTANCES = ("alicloud:ecs/instance:Instance", "aws:ec2/instance:Instance")
DELIVERED = (STAGED_CONF, SYSCTL_FILE, LIMITS_DROP_IN, APPLY_SCRIPT)

RECORDER = """#!/bin/sh
echo "${0##*/} $*" >> "$CALLS"
if [ "${0##*/} $1" = "nginx -t" ]; then exit "$NGINX_T"; fi
if [ "${0##*/} $1" = "systemctl is-active" ]; then exit "$ACTIVE"; fi
exit 0
"""


def user_data_of(instance: ResourceRecord | dict[str, Any]) -> dict[str, Any]:
    """The cloud-config an instance boots with, unpacked from its base64 gzip input."""
    inputs = instance.inputs if isinstance(instance, ResourceRecord) else instance["inputs"]
    packed = inputs.get("userData") or inputs["userDataBase64"]
    text = unpack_user_data(packed)
    assert text.startswith("#cloud-config\n")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def written_files(instance: ResourceRecord | dict[str, Any]) -> dict[str, str]:
    return {f["path"]: f["content"] for f in user_data_of(instance)["write_files"]}


@dataclass(frozen=True)
class DeliveryResources:
    """The resources that deliver one VM's config: (command, invocation) or (document, association)."""

    definition: dict[str, Any]
    run: dict[str, Any]
    script: str


def _as_dict(record: ResourceRecord | dict[str, Any]) -> dict[str, Any]:
    if isinstance(record, ResourceRecord):
        return {"name": record.name, "type": record.type, "id": record.id, "inputs": record.inputs}
    return record


def delivery_for(plan: Plan | dict[str, Any], instance_id: str) -> DeliveryResources:
    """The delivery that runs on the instance ``instance_id``, and the script it runs."""
    resources = [_as_dict(r) for r in (plan.resources if isinstance(plan, Plan) else plan["resources"])]
    runs = [
        r
        for r in resources
        if (r["type"] == "alicloud:ecs/ecsInvocation:EcsInvocation" and instance_id in r["inputs"]["instanceIds"])
        or (
            r["type"] == "aws:ssm/association:Association"
            and any(instance_id in t["values"] for t in r["inputs"]["targets"] if t["key"] == "InstanceIds")
        )
    ]
    assert len(runs) == 1, f"{len(runs)} deliveries run on {instance_id}"
    (run,) = runs
    if run["type"] == "aws:ssm/association:Association":
        (doc,) = [
            r
            for r in resources
            if r["type"] == "aws:ssm/document:Document" and r["inputs"]["name"] == run["inputs"]["name"]
        ]
        content = json.loads(doc["inputs"]["content"])
        assert content["schemaVersion"] == "2.2"
        (step,) = content["mainSteps"]
        assert step["action"] == "aws:runShellScript"
        return DeliveryResources(doc, run, "\n".join(step["inputs"]["runCommand"]) + "\n")
    (command,) = [
        r for r in resources if r["type"] == "alicloud:ecs/command:Command" and r["id"] == run["inputs"]["commandId"]
    ]
    assert command["inputs"]["type"] == "RunShellScript"
    return DeliveryResources(command, run, base64.b64decode(command["inputs"]["commandContent"]).decode())


@dataclass(frozen=True)
class DeliveryRun:
    returncode: int
    calls: list[str]
    stderr: str
    root: Path

    def file(self, path: str) -> str:
        return (self.root / path.lstrip("/")).read_text()


def run_with_recorders(script: str, tmp: Path, *, active: bool = True, config_ok: bool = True) -> DeliveryRun:
    """Run a delivery with nginx, systemctl and cloud-init recorded, files landing under ``tmp/root``."""
    fakes = tmp / "bin"
    fakes.mkdir(parents=True, exist_ok=True)
    for name in ("nginx", "systemctl", "cloud-init"):
        fake = fakes / name
        fake.write_text(RECORDER)
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    root = tmp / "root"
    (root / "etc" / "nginx").mkdir(parents=True, exist_ok=True)  # the package's directory
    calls = tmp / "calls"
    path = tmp / "delivery.sh"
    path.write_text(script)
    env = {
        "PATH": f"{fakes}:/usr/bin:/bin",
        "WFGA_ROOT": str(root),
        "CALLS": str(calls),
        "ACTIVE": "0" if active else "3",
        "NGINX_T": "0" if config_ok else "1",
    }
    result = subprocess.run(["/bin/sh", str(path)], env=env, capture_output=True, text=True, timeout=60, check=False)
    recorded = calls.read_text().splitlines() if calls.exists() else []
    return DeliveryRun(result.returncode, recorded, result.stderr, root)


def instances(plan: Plan) -> list[ResourceRecord]:
    """The VMs by name (resources register in no fixed order)."""
    return sorted((r for r in plan.resources if r.type in INSTANCES), key=lambda r: r.name)


def big_stack(nodes: int) -> dict[str, Any]:
    """A stack with ``nodes`` nodes behind one single-VM access point; addresses spread over a /16.

    Names of eleven characters and scattered addresses: less for gzip to fold than ``im-N`` on
    consecutive addresses.
    """
    return {
        "wfga:cluster": {
            "name": "big",
            "cloud": "alicloud",
            "region": "cn-hangzhou",
            "vpc_id": "vpc-big",
            "cidr": "172.16.0.0/16",
            "route_table_ids": ["vtb-big"],
            "nodes": [
                {"name": f"im-node-{i:03d}", "slot": i, "private_ip": f"172.16.{(i * 37) % 256}.{(i * 53) % 250 + 2}"}
                for i in range(1, nodes + 1)
            ],
        },
        "wfga:access_points": [
            {
                "name": "fra",
                "cloud": "aws",
                "region": "eu-central-1",
                "kind": "vm",
                "link": "existing",
                "vpc_cidr": "10.22.0.0/16",
                "vpc_id": "vpc-0big0000000000001",
                "route_table_id": "rtb-0big0000000000001",
                "subnets": {"eu-central-1a": "subnet-0big000000000001"},
                "zones": ["eu-central-1a"],
                "vm": {"instance_type": "c7i.large", "distro": "amazon-linux"},
            }
        ],
    }


def vm_mappings(nodes: int) -> list[PortMapping]:
    (ap_plan,) = plan_stack(parse_stack_config(big_stack(nodes)))
    (vm,) = ap_plan.load_balancers
    return list(vm.mappings)
