"""One service domain (the licensed IM domain, an API domain, or the private store's upload front) behind a
dynamically accelerating CDN."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_alicloud as alicloud

from wfga.model.edge import DnsZone
from wfga.model.edge import ServiceDomain as ServiceDomainConfig
from wfga.plan.edge import cloudflare_service_plan, cloudfront_service_plan, dcdn_plan, dns_record, edge_summary

from .service_domain_parts import (
    EdgeProviders,
    cdn_cname,
    cloudflare_proxied,
    cloudfront_for,
)

DCDN_REVIEW = pulumi.CustomTimeouts(create="24h")


@dataclass(frozen=True)
class ServiceDomainArgs:
    config: ServiceDomainConfig
    zone: DnsZone | None
    providers: EdgeProviders


class ServiceDomain(pulumi.ComponentResource):
    """The CDN resources of one host and, where its zone is managed here, its DNS records."""

    summary: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, args: ServiceDomainArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:service_domain:ServiceDomain", name, None, opts)
        sd = args.config
        record = dns_record(args.zone, sd.name)
        target: pulumi.Input[str]
        if sd.provider == "cloudflare":
            assert args.zone is not None  # validated: a proxied record lives in its cloudflare zone
            plan = cloudflare_service_plan(sd)
            cloudflare_proxied(name, plan, args.zone, self, args.providers)
            record_type, target = plan.record_type, plan.content
        elif sd.provider == "alicloud-dcdn":
            record_type, target = "CNAME", self._dcdn(name, sd, args.providers)
        else:
            distribution = cloudfront_for(
                name,
                sd.name,
                cloudfront_service_plan(sd),
                acm_certificate_arn=sd.acm_certificate_arn,
                record=record,
                parent=self,
                providers=args.providers,
            )
            record_type, target = "CNAME", distribution.domain_name
        if record is not None and record_type == "CNAME" and sd.provider != "cloudflare":
            cdn_cname(name, record, target, self, args.providers)
        self.summary = pulumi.Output.from_input(target).apply(
            lambda value: {
                "role": sd.role,
                **edge_summary(sd.name, sd.provider, sd.origin, record_type=record_type, target=value, record=record),
            }
        )
        self.register_outputs({"summary": self.summary})

    def _dcdn(self, name: str, sd: ServiceDomainConfig, providers: EdgeProviders) -> pulumi.Output[str]:
        plan = dcdn_plan(sd)
        opts = pulumi.ResourceOptions(parent=self, provider=providers.alicloud)
        domain = alicloud.dcdn.Domain(
            f"{name}-dcdn",
            domain_name=plan.domain,
            scope=plan.scope,
            scene=plan.scene,
            sources=[
                alicloud.dcdn.DomainSourceArgs(
                    type=plan.source.type,
                    content=plan.source.content,
                    port=plan.source.port,
                    priority="20",
                    weight="10",
                )
            ],
            ssl_protocol="on",
            cert_type="cas",
            cert_id=plan.cert_id,
            cert_region=plan.cert_region,
            # An origin outside Alibaba Cloud is reviewed for up to a working day before the domain
            # leaves `checking`; the provider gives up after 30 minutes by default.
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(custom_timeouts=DCDN_REVIEW)),
        )
        for function in plan.functions:
            alicloud.dcdn.DomainConfig(
                f"{name}-dcdn-{function.key}",
                domain_name=domain.domain_name,
                function_name=function.name,
                function_args=[
                    alicloud.dcdn.DomainConfigFunctionArgArgs(arg_name=key, arg_value=value)
                    for key, value in function.args
                ],
                opts=opts,
            )
        return domain.cname
