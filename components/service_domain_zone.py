"""Zone-wide Cloudflare settings and rules that the proxied hosts of one zone depend on.

A zone has at most one entry point ruleset per phase, so the cache rules and the configuration
rules of every proxied host in the zone live in one ruleset each, owned here.  That ruleset replaces
whatever rules the zone already had in that phase (docs/edge.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

from wfga.plan.edge import CACHE_PHASE, CONFIG_PHASE, CloudflarePlan, CloudflareZonePlan


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
        if plan.hosts:
            cloudflare.Ruleset(
                f"{name}-cache-rules",
                zone_id=plan.zone.zone_id,
                kind="zone",
                phase=CACHE_PHASE,
                name="wfga cache rules",
                description="wfga: per proxied host, bypass (service domains) or cache everything (media)",
                rules=[_cache_rule(host) for host in plan.hosts],
                opts=child,
            )
            cloudflare.Ruleset(
                f"{name}-config-rules",
                zone_id=plan.zone.zone_id,
                kind="zone",
                phase=CONFIG_PHASE,
                name="wfga configuration rules",
                description="wfga: per proxied host, the SSL mode towards its origin",
                rules=[_config_rule(host) for host in plan.hosts],
                opts=child,
            )
        self.register_outputs(
            {
                "zone": plan.zone.name,
                "argo": plan.argo,
                "plain_http_hosts": list(plan.plain_http_hosts),
                "proxied_hosts": [host.name for host in plan.hosts],
            }
        )


def _cache_rule(host: CloudflarePlan) -> cloudflare.RulesetRuleArgs:
    parameters = cloudflare.RulesetRuleActionParametersArgs(cache=host.cache)
    if host.cache and host.edge_ttl_s is not None:
        parameters = cloudflare.RulesetRuleActionParametersArgs(
            cache=True,
            edge_ttl=cloudflare.RulesetRuleActionParametersEdgeTtlArgs(mode="override_origin", default=host.edge_ttl_s),
        )
    return cloudflare.RulesetRuleArgs(
        ref=host.ref,
        description=f"wfga {host.name}: {'cache' if host.cache else 'bypass the cache'}",
        expression=host.expression,
        action="set_cache_settings",
        action_parameters=parameters,
        enabled=True,
    )


def _config_rule(host: CloudflarePlan) -> cloudflare.RulesetRuleArgs:
    return cloudflare.RulesetRuleArgs(
        ref=host.ref,
        description=f"wfga {host.name}: SSL {host.ssl}",
        expression=host.expression,
        action="set_config",
        action_parameters=cloudflare.RulesetRuleActionParametersArgs(ssl=host.ssl),
        enabled=True,
    )
