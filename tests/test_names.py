"""AWS load balancer and target group names: always valid, distinct where the cloud needs them distinct."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from wfga.plan.names import ELB_NAME_MAX, elb_name, load_balancer_name, target_group_name

# What the config allows in names (wfga.model.config Name), and a little more to be sure.
names = st.from_regex(r"[a-z][a-z0-9-]{0,30}[a-z0-9]", fullmatch=True)
ELB_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")


@given(st.text(max_size=80), st.lists(st.text(max_size=40), max_size=6))
def test_every_name_fits_32_characters_of_the_allowed_set_without_an_outer_hyphen(readable, identity):
    name = elb_name(readable, *identity)
    assert len(name) <= ELB_NAME_MAX
    assert ELB_NAME.fullmatch(name), name
    assert name.startswith("wfga-")  # never "internal-", which ELB reserves
    assert elb_name(readable, *identity) == name  # a pure function of its inputs: every plan agrees


@given(names, names, names)
def test_nlb_1_and_2_and_two_stacks_never_share_a_name(project, stack, access_point):
    own = {load_balancer_name(project, stack, access_point, lb) for lb in ("nlb-1", "nlb-2", "nlb-3")}
    assert len(own) == 3
    other = {load_balancer_name(project, stack + "-b", access_point, lb) for lb in ("nlb-1", "nlb-2", "nlb-3")}
    assert own.isdisjoint(other)


def test_a_long_access_point_name_keeps_a_readable_head_and_loses_only_the_tail():
    ap = "frankfurt-edge-production-2024"  # 30 characters, as the config allows up to 32
    one, two = (load_balancer_name("wfga", "prod", ap, lb) for lb in ("nlb-1", "nlb-2"))
    assert one[:23] == two[:23] == "wfga-frankfurt-edge-pro"
    assert one != two
    # A cut that leaves a hyphen at the end of the head drops it.
    cut = elb_name("frankfurt-edge-pr-x", "a")
    assert cut == f"wfga-frankfurt-edge-pr-{elb_name('', 'a')[-8:]}"
    assert "--" not in cut


def _group(**changes: object) -> str:
    args: dict[str, object] = {"port": 1883, "protocol": "TCP", "vpc": "10.41.0.0/16"}
    args.update(changes)
    lb = str(args.pop("lb", "nlb-1"))
    return target_group_name("wfga", "prod", "fra", lb, node="im-1", service="long", **args)  # type: ignore[arg-type]


def test_a_target_group_gets_a_new_name_whenever_it_is_replaced():
    # Port, protocol and VPC replace a target group; an NLB's group serves one load balancer only.
    # A new name lets Pulumi create the replacement before deleting the old group.
    base = _group()
    assert base.startswith("wfga-fra-im-1-long-")
    changed = [_group(port=1884), _group(protocol="TLS"), _group(vpc="10.42.0.0/16"), _group(lb="nlb-2")]
    assert len({base, *changed}) == 5
    assert _group() == base
