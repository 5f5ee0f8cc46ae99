"""Zone-wide Cloudflare settings that the service domains of one zone depend on."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

from wfga.plan.edge import CloudflareZonePlan


@dataclass(frozen=True)
class ServiceDomainZoneArgs:
    plan: CloudflareZonePlan
    provider: cloudflare.Provider


class ServiceDomainZone(pulumi.ComponentResource):
    def __init__(self, name: str, args: ServiceDomainZoneArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:service_domain_zone:ServiceDomainZone", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        plan = args.plan
        assert plan.zone.zone_id is not None  # validated for cloudflare zones
        if plan.argo:
            cloudflare.ArgoSmartRouting(f"{name}-argo", zone_id=plan.zone.zone_id, value="on", opts=child)
        if plan.always_use_https_off:
            # The setting is zone-wide and no rule can exempt one host from it; a redirect of port 80
            # would break every native client of the hosts in plan.plain_http_hosts.
            cloudflare.ZoneSetting(
                f"{name}-always-use-https",
                zone_id=plan.zone.zone_id,
                setting_id="always_use_https",
                value="off",
                opts=child,
            )
        self.register_outputs(
            {"zone": plan.zone.name, "argo": plan.argo, "plain_http_hosts": list(plan.plain_http_hosts)}
        )
