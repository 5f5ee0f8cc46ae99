"""The wfga policy pack: ``pulumi preview --policy-pack policy``; the rules live in wfga_policies."""

from pulumi_policy import EnforcementLevel, PolicyPack
from wfga_policies import PACK_NAME, policies

PolicyPack(name=PACK_NAME, policies=policies(), enforcement_level=EnforcementLevel.MANDATORY)
