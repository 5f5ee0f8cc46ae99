"""The CDN in front of im-server's object storage, and its DNS record where the zone is managed here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_alicloud as alicloud

from wfga.model.edge import DnsZone
from wfga.model.edge import ObjectStorage as ObjectStorageConfig
from wfga.plan.edge import (
    alicloud_cdn_plan,
    cloudflare_storage_plan,
    cloudfront_storage_plan,
    dns_record,
    edge_summary,
    media_config_lines,
    storage_origin,
)

from .service_domain_parts import (
    EdgeProviders,
    cdn_cname,
    cloudflare_proxied,
    cloudfront_for,
)


@dataclass(frozen=True)
class ObjectStorageArgs:
    config: ObjectStorageConfig
    zone: DnsZone | None
    providers: EdgeProviders


class ObjectStorage(pulumi.ComponentResource):
    """wfga never owns the bucket or the store, only the CDN that serves them."""

    summary: pulumi.Output[dict[str, Any]]
    media_config: list[str]

    def __init__(self, name: str, args: ObjectStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:object_storage:ObjectStorage", name, None, opts)
        storage = args.config
        cdn = storage.cdn
        record = dns_record(args.zone, cdn.domain)
        target: pulumi.Input[str]
        if cdn.provider == "cloudflare":
            assert args.zone is not None  # validated: a proxied record lives in its cloudflare zone
            plan = cloudflare_storage_plan(storage)
            cloudflare_proxied(name, plan, args.zone, self, args.providers)
            record_type, target = plan.record_type, plan.content
        elif cdn.provider == "alicloud-cdn":
            record_type, target = "CNAME", self._alicloud_cdn(name, storage, args.providers)
        else:
            distribution = cloudfront_for(
                name,
                cdn.domain,
                cloudfront_storage_plan(storage),
                acm_certificate_arn=cdn.acm_certificate_arn,
                record=record,
                parent=self,
                providers=args.providers,
            )
            record_type, target = "CNAME", distribution.domain_name
        if record is not None and cdn.provider != "cloudflare":
            cdn_cname(name, record, target, self, args.providers)
        origin = storage_origin(storage)
        self.media_config = media_config_lines(storage)
        self.summary = pulumi.Output.from_input(target).apply(
            lambda value: {
                "kind": storage.kind,
                **edge_summary(cdn.domain, cdn.provider, origin, record_type=record_type, target=value, record=record),
            }
        )
        self.register_outputs({"summary": self.summary, "media_config": self.media_config})

    def _alicloud_cdn(self, name: str, storage: ObjectStorageConfig, providers: EdgeProviders) -> pulumi.Output[str]:
        plan = alicloud_cdn_plan(storage)
        opts = pulumi.ResourceOptions(parent=self, provider=providers.alicloud)
        domain = alicloud.cdn.DomainNew(
            f"{name}-cdn",
            domain_name=plan.domain,
            cdn_type=plan.cdn_type,
            scope=plan.scope,
            sources=[
                alicloud.cdn.DomainNewSourceArgs(
                    type=plan.source.type, content=plan.source.content, port=plan.source.port, priority=20, weight=10
                )
            ],
            certificate_config=alicloud.cdn.DomainNewCertificateConfigArgs(
                cert_type=plan.cert_type,
                cert_id=plan.cert_id,
                cert_region=plan.cert_region,
                server_certificate_status="on",
            ),
            opts=opts,
        )
        for function in plan.functions:
            alicloud.cdn.DomainConfig(
                f"{name}-cdn-{function.key}",
                domain_name=domain.domain_name,
                function_name=function.name,
                function_args=[
                    alicloud.cdn.DomainConfigFunctionArgArgs(arg_name=key, arg_value=value)
                    for key, value in function.args
                ],
                opts=opts,
            )
        return domain.cname
