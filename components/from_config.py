"""Not a component: plans one access point from the user-facing models for its component's Args.

Behind each access point's ``Args.from_config``, so a program that composes an access point itself
passes the same models a stack file is parsed into, and gets the same checks and messages.
"""

from __future__ import annotations

import pulumi

from wfga.model.config import AccessPoint, Cluster, ConfigError
from wfga.plan.portplan import AccessPointPlan, plan_alone


def plan_for(component: str, cloud: str, kind: str, cluster: Cluster, access_point: AccessPoint) -> AccessPointPlan:
    """The access point's plan, or a RunError (printed without a traceback) naming the mistake."""
    if (access_point.cloud, access_point.kind) != (cloud, kind):
        raise pulumi.RunError(
            f"{component}: access point {access_point.name} is cloud {access_point.cloud}, kind "
            f"{access_point.kind}; this component builds cloud {cloud}, kind {kind}"
        )
    try:
        return plan_alone(cluster, access_point)
    except ConfigError as err:
        raise pulumi.RunError(str(err)) from None
