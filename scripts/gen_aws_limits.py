#!/usr/bin/env python3
"""Write wfga/offline/aws_limits.json: the AWS API limits the cloud rules use, read from botocore.

botocore ships the service models AWS publishes (min, max, enum, pattern and the documentation
of every API parameter); tflint-ruleset-aws builds its rules from the same models.  Numbers that
the models only state in prose (name lengths, the NLB idle timeout range, the user-data size) are
taken from that prose by a pattern that must match exactly once, so a reworded model fails here
instead of silently changing a rule.  The plan itself never imports botocore: it reads the JSON.

    .venv/bin/python scripts/gen_aws_limits.py          # rewrite the file
    .venv/bin/python scripts/gen_aws_limits.py --check  # exit 1 if the file is stale
"""

from __future__ import annotations

import html
import itertools
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "wfga" / "offline" / "aws_limits.json"

# The shape fields that are constraints (botocore's own names).
_SHAPE_FIELDS = ("min", "max", "enum", "pattern")


@dataclass(frozen=True)
class Extract:
    """A number stated in a parameter's documentation: ``field`` <- the first group of ``pattern``."""

    field: str
    pattern: str


@dataclass(frozen=True)
class Param:
    service: str
    shape: str
    member: str
    extracts: tuple[Extract, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.service}:{self.shape}.{self.member}"


_NAME_32 = (
    Extract("max_length", r"can have a maximum of (\d+) characters"),
    Extract("charset", r"must contain only (alphanumeric characters or hyphens)"),
    Extract("edges", r"(must not begin or end with a hyphen)"),
)
_EC2_CHARSET = Extract("charset", r"(?:Valid|Allowed) characters(?: are|:) (a-z, A-Z, 0-9, spaces, and \S+)")

PARAMS: tuple[Param, ...] = (
    Param("elbv2", "CreateTargetGroupInput", "Name", _NAME_32),
    Param(
        "elbv2",
        "CreateLoadBalancerInput",
        "Name",
        (*_NAME_32, Extract("reserved_prefix", r'must not begin with "([^"]+)"')),
    ),
    Param("elbv2", "CreateLoadBalancerInput", "Type"),
    Param("elbv2", "CreateLoadBalancerInput", "Scheme"),
    Param("elbv2", "CreateLoadBalancerInput", "IpAddressType"),
    Param("elbv2", "CreateTargetGroupInput", "Protocol"),
    Param("elbv2", "CreateTargetGroupInput", "Port"),
    Param("elbv2", "CreateTargetGroupInput", "TargetType"),
    Param("elbv2", "CreateTargetGroupInput", "HealthCheckProtocol"),
    Param(
        "elbv2",
        "CreateTargetGroupInput",
        "HealthCheckIntervalSeconds",
        (
            Extract(
                "default_tcp", r"If the target group protocol is TCP, [A-Z_, ]+ or HTTPS, the default is (\d+) seconds"
            ),
        ),
    ),
    Param(
        "elbv2",
        "CreateTargetGroupInput",
        "HealthCheckTimeoutSeconds",
        (Extract("default_tcp", r"protocol of TCP, TLS or HTTPS, the default is (\d+) seconds"),),
    ),
    Param("elbv2", "CreateTargetGroupInput", "HealthyThresholdCount"),
    Param("elbv2", "CreateTargetGroupInput", "UnhealthyThresholdCount"),
    Param("elbv2", "CreateListenerInput", "Protocol"),
    Param("elbv2", "CreateListenerInput", "Port"),
    Param(
        "elbv2",
        "ListenerAttribute",
        "Key",
        (
            Extract("tcp_idle_timeout_min", r"tcp\.idle_timeout\.seconds - .*? The valid range is (\d+)-\d+ seconds"),
            Extract("tcp_idle_timeout_max", r"tcp\.idle_timeout\.seconds - .*? The valid range is \d+-(\d+) seconds"),
        ),
    ),
    Param("ec2", "RequestLaunchTemplateData", "UserData", (Extract("max_kb", r"User data is limited to (\d+) KB"),)),
    Param(
        "ec2",
        "CreateSecurityGroupRequest",
        "GroupName",
        (
            Extract("max_length", r"Up to (\d+) characters in length"),
            Extract("reserved_prefix", r"Can't start with (\S+) \."),
            _EC2_CHARSET,
        ),
    ),
    Param(
        "ec2",
        "CreateSecurityGroupRequest",
        "Description",
        (Extract("max_length", r"Up to (\d+) characters in length"), _EC2_CHARSET),
    ),
    Param("ec2", "IpRange", "Description", (Extract("max_length", r"Up to (\d+) characters in length"), _EC2_CHARSET)),
)


def _text(documentation: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", documentation))).strip()


def _sentences(text: str, spans: list[tuple[int, int]]) -> str:
    """The sentences of ``text`` that hold the matched spans: what the rule quotes as its source."""
    bounds = [0] + [m.end() for m in re.finditer(r"(?<=[.:]) (?=[A-Z])", text)] + [len(text)]
    keep: list[str] = []
    for start, end in itertools.pairwise(bounds):
        if any(start <= s < end or start < e <= end for s, e in spans):
            sentence = text[start:end].strip()
            if sentence not in keep:
                keep.append(sentence)
    return " ".join(keep)


def _number(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def build() -> dict[str, Any]:
    import botocore  # noqa: PLC0415 - only this script needs botocore, never the plan
    from botocore.loaders import Loader  # noqa: PLC0415

    loader = Loader()
    models: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for param in PARAMS:
        model = models.setdefault(param.service, loader.load_service_model(param.service, "service-2"))
        member = model["shapes"][param.shape]["members"][param.member]
        target = model["shapes"][member["shape"]]
        entry: dict[str, Any] = {"operation_shape": param.shape, "type": target["type"]}
        entry.update({f: target[f] for f in _SHAPE_FIELDS if f in target})
        text = _text(member.get("documentation") or target.get("documentation", ""))
        spans: list[tuple[int, int]] = []
        for extract in param.extracts:
            found = list(re.finditer(extract.pattern, text))
            if len(found) != 1:
                raise SystemExit(f"{param.key}: /{extract.pattern}/ matched {len(found)} times in: {text}")
            entry[extract.field] = _number(found[0].group(1))
            spans.append(found[0].span())
        if spans:
            entry["doc"] = _sentences(text, spans)
        limits[param.key] = entry
    return {
        "generated_by": "scripts/gen_aws_limits.py",
        "botocore": botocore.__version__,
        "limits": limits,
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render(build())
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.is_file() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run scripts/gen_aws_limits.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(PARAMS)} parameters)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
