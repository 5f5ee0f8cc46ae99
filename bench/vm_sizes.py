"""Measure: how big a VM access point's user data and config delivery are, against each cloud's limit.

Not a test (``tests/test_cloudinit.py`` asserts the 200-node limits).  Pure rendering, no network:
one single-VM access point carrying N nodes (``tests.vm_delivery.big_stack``: eleven-character node
names on scattered addresses), for each N and distribution.

    .venv/bin/python -m bench.vm_sizes --nodes 16 50 200
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Sequence

from tests.vm_delivery import vm_mappings
from wfga.model.config import Distro
from wfga.plan.cloudinit import (
    CLOUD_ASSISTANT_CONTENT_LIMIT,
    EC2_USER_DATA_LIMIT,
    ECS_USER_DATA_LIMIT,
    SSM_DOCUMENT_LIMIT,
    pack_user_data,
    render_user_data,
    render_vm_delivery,
)

DISTROS: tuple[Distro, ...] = ("debian", "amazon-linux")


def measure(nodes: int, distro: Distro) -> dict[str, int]:
    mappings = vm_mappings(nodes)
    text = render_user_data(mappings, distro=distro)
    packed = pack_user_data(text)
    script = render_vm_delivery(mappings, distro=distro).script
    return {
        "nodes": nodes,
        "listeners": len(mappings),
        "cloud_config": len(text.encode()),
        "gzip": len(base64.b64decode(packed)),
        "base64": len(packed),
        "delivery_script": len(script.encode()),
        "cloud_assistant_base64": len(base64.b64encode(script.encode())),
        "ssm_document": len(json.dumps({"runCommand": script.splitlines()}).encode()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[16, 50, 200])
    args = parser.parse_args(argv)
    print(
        f"limits: EC2 user data {EC2_USER_DATA_LIMIT} B (gzip), ECS user data {ECS_USER_DATA_LIMIT} B (base64), "
        f"Cloud Assistant {CLOUD_ASSISTANT_CONTENT_LIMIT} B (base64), SSM document {SSM_DOCUMENT_LIMIT} B"
    )
    columns = ["distro", "nodes", "listeners", "cloud-config", "gzip (EC2)", "base64 (ECS)", "delivery"]
    columns += ["Cloud Assistant", "SSM"]
    print("| " + " | ".join(columns) + " |")
    print("|" + " --- |" * len(columns))
    for distro in DISTROS:
        for n in args.nodes:
            m = measure(n, distro)
            print(
                f"| {distro} | {n} | {m['listeners']} | {m['cloud_config']} | {m['gzip']} "
                f"({m['gzip'] / EC2_USER_DATA_LIMIT:.0%}) | {m['base64']} ({m['base64'] / ECS_USER_DATA_LIMIT:.0%}) "
                f"| {m['delivery_script']} | {m['cloud_assistant_base64']} "
                f"({m['cloud_assistant_base64'] / CLOUD_ASSISTANT_CONTENT_LIMIT:.0%}) | {m['ssm_document']} "
                f"({m['ssm_document'] / SSM_DOCUMENT_LIMIT:.0%}) |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
