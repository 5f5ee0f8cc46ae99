"""Names of AWS load balancers and target groups: explicit, always valid, unique per account and region.

ELBv2 names are at most 32 characters of letters, digits and hyphens, with no hyphen first or last,
and unique per account and region among load balancers and among target groups.  Pulumi's
auto-names add a hyphen and 7 random characters to the resource name, which overflows 32 for
ordinary access point names (pulumi-aws issue 1317), and cutting a long name at 32 characters can
leave a trailing hyphen or make ``nlb-1`` and ``nlb-2`` equal.  So every name here is a readable
head cut to fit, then a hyphen and a short hash of everything that must tell two of them apart:
the Pulumi project and stack (two stacks may give an access point the same name in one account and
region), the access point, the load balancer and, for a target group, the node and service.  The
readable meaning lives in tags.

A target group's hash also covers every input that replaces it (terraform-provider-aws
``aws_lb_target_group``: port, protocol, VPC) and the load balancer it serves (an NLB's target group
serves one load balancer only): a replacement then carries a new name and can be created before the
old group is deleted, as Pulumi replaces.  A load balancer keeps its name across a replacement:
it is deleted first (``delete_before_replace``), since it holds EIPs the new one needs.
"""

from __future__ import annotations

import hashlib
import re

ELB_NAME_MAX = 32
HASH_CHARS = 8
PREFIX = "wfga-"
_HEAD_MAX = ELB_NAME_MAX - 1 - HASH_CHARS
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9-]+")


def elb_name(readable: str, *identity: str) -> str:
    """``wfga-<readable, cut>-<hash of identity>``: at most 32 characters, never a hyphen first or last."""
    digest = hashlib.sha256("\0".join(identity).encode("utf-8")).hexdigest()[:HASH_CHARS]
    head = (PREFIX + _NOT_ALLOWED.sub("-", readable))[:_HEAD_MAX].rstrip("-")
    return f"{head}-{digest}"


def load_balancer_name(project: str, stack: str, access_point: str, load_balancer: str) -> str:
    return elb_name(f"{access_point}-{load_balancer}", "lb", project, stack, access_point, load_balancer)


def target_group_name(
    project: str,
    stack: str,
    access_point: str,
    load_balancer: str,
    *,
    node: str,
    service: str,
    port: int,
    protocol: str,
    vpc: str,
) -> str:
    """``vpc`` names the VPC as the stack file does (its id, or the CIDR of the one wfga creates)."""
    return elb_name(
        f"{access_point}-{node}-{service}",
        "tg",
        project,
        stack,
        access_point,
        load_balancer,
        node,
        service,
        str(port),
        protocol,
        vpc,
    )
