"""The caching CDN in front of each bucket of im-server's object storage, the bucket settings web
clients and uploads need, and the private store's upload front; DNS records where the zone is
managed here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws

from wfga.model.edge import DnsZone
from wfga.model.edge import ObjectStorage as ObjectStorageConfig
from wfga.plan.edge import (
    BucketSettings,
    StorageHost,
    alicloud_cdn_plan,
    bucket_settings,
    cloudflare_storage_plan,
    cloudfront_storage_plan,
    dns_record,
    edge_summary,
    media_config_lines,
    storage_hosts,
    upload_endpoint,
)

from .service_domain import ServiceDomain, ServiceDomainArgs
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
    # OSS bucket settings go to the bucket's own region; None when the storage is not OSS.
    oss_provider: alicloud.Provider | None = None
    # The upload front's zone, when it differs from the CDN's.
    upload_zone: DnsZone | None = None


class ObjectStorage(pulumi.ComponentResource):
    """wfga never owns the buckets or the store: it sets up their CDN hosts, and on OSS and S3 turns on
    transfer acceleration and a CORS rule for web clients when asked."""

    summary: pulumi.Output[dict[str, Any]]
    media_config: list[str]

    def __init__(self, name: str, args: ObjectStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wfga:object_storage:ObjectStorage", name, None, opts)
        storage = args.config
        hosts = {host.domain: self._host(storage, host, args) for host in storage_hosts(storage)}
        for settings in bucket_settings(storage):
            self._bucket_settings(storage, settings, args)
        front = storage.upload_front
        upload: pulumi.Output[Any] | None = None
        if front is not None:
            upload = ServiceDomain(
                front.name,
                ServiceDomainArgs(config=front, zone=args.upload_zone, providers=args.providers),
                pulumi.ResourceOptions(parent=self),
            ).summary
        endpoint = upload_endpoint(storage)
        self.media_config = media_config_lines(storage)
        self.summary = pulumi.Output.all(hosts=hosts, upload=upload).apply(
            lambda out: {
                "kind": storage.kind,
                "upload": {"host": endpoint.host, "port": endpoint.port, "ssl_port": endpoint.ssl_port},
                "upload_front": out["upload"],
                "hosts": out["hosts"],
            }
        )
        self.register_outputs({"summary": self.summary, "media_config": self.media_config})

    def _host(
        self, storage: ObjectStorageConfig, host: StorageHost, args: ObjectStorageArgs
    ) -> pulumi.Output[dict[str, Any]]:
        cdn = storage.cdn
        # Named by the host, a stable key: reordering buckets renames nothing in the cloud.
        prefix = host.domain
        record = dns_record(args.zone, host.domain)
        target: pulumi.Input[str]
        if cdn.provider == "cloudflare":
            assert args.zone is not None  # validated: a proxied record lives in its cloudflare zone
            plan = cloudflare_storage_plan(host)
            cloudflare_proxied(prefix, plan, args.zone, self, args.providers)
            record_type, target = plan.record_type, plan.content
        elif cdn.provider == "alicloud-cdn":
            record_type, target = "CNAME", self._alicloud_cdn(prefix, storage, host, args.providers)
        else:
            distribution = cloudfront_for(
                prefix,
                host.domain,
                cloudfront_storage_plan(storage, host),
                acm_certificate_arn=cdn.acm_certificate_arn,
                record=record,
                parent=self,
                providers=args.providers,
            )
            record_type, target = "CNAME", distribution.domain_name
        if record is not None and cdn.provider != "cloudflare":
            cdn_cname(prefix, record, target, self, args.providers)
        return pulumi.Output.from_input(target).apply(
            lambda value: {
                "buckets": list(host.buckets),
                **edge_summary(
                    host.domain, cdn.provider, host.origin, record_type=record_type, target=value, record=record
                ),
            }
        )

    def _alicloud_cdn(
        self, prefix: str, storage: ObjectStorageConfig, host: StorageHost, providers: EdgeProviders
    ) -> pulumi.Output[str]:
        plan = alicloud_cdn_plan(storage, host)
        opts = pulumi.ResourceOptions(parent=self, provider=providers.alicloud)
        domain = alicloud.cdn.DomainNew(
            f"{prefix}-cdn",
            domain_name=plan.domain,
            cdn_type=plan.cdn_type,
            scope=plan.scope,
            sources=[
                alicloud.cdn.DomainNewSourceArgs(
                    type=plan.source.type, content=plan.source.content, port=plan.source.port, priority=20, weight=10
                )
            ],
            # The provider sets the certificate right after creating the domain; CDN issues a free one
            # only once the CNAME (written below, from the domain's cname) resolves.  So a free
            # certificate is enabled in a second deployment (cert_enabled, docs/edge.md).
            certificate_config=alicloud.cdn.DomainNewCertificateConfigArgs(
                cert_type=plan.cert_type,
                cert_id=plan.cert_id,
                cert_region=plan.cert_region,
                server_certificate_status="on",
            )
            if plan.cert_enabled
            else None,
            opts=opts,
        )
        for function in plan.functions:
            alicloud.cdn.DomainConfig(
                f"{prefix}-cdn-{function.key}",
                domain_name=domain.domain_name,
                function_name=function.name,
                function_args=[
                    alicloud.cdn.DomainConfigFunctionArgArgs(arg_name=key, arg_value=value)
                    for key, value in function.args
                ],
                opts=opts,
            )
        return domain.cname

    def _bucket_settings(self, storage: ObjectStorageConfig, settings: BucketSettings, args: ObjectStorageArgs) -> None:
        # Bucket names are unique per cloud: a stable key.
        prefix = settings.bucket
        cors = settings.cors
        if storage.kind == "oss":
            assert args.oss_provider is not None  # the program passes the bucket region's provider for OSS
            opts = pulumi.ResourceOptions(parent=self, provider=args.oss_provider)
            if settings.accelerate:
                # pulumi-alicloud: "enabled: whether to enable transfer acceleration for the bucket"; deleting
                # the resource leaves the bucket as it is (the provider cannot destroy it).
                alicloud.oss.BucketTransferAcceleration(
                    f"{prefix}-acceleration", bucket=settings.bucket, enabled=True, opts=opts
                )
            if cors is not None:
                # pulumi-alicloud BucketCors: allowed_methods among GET, PUT, DELETE, POST and HEAD.
                alicloud.oss.BucketCors(
                    f"{prefix}-cors",
                    bucket=settings.bucket,
                    cors_rules=[
                        alicloud.oss.BucketCorsCorsRuleArgs(
                            allowed_origins=list(cors.allowed_origins),
                            allowed_methods=list(cors.allowed_methods),
                            allowed_headers=list(cors.allowed_headers),
                            expose_headers=list(cors.expose_headers),
                            max_age_seconds=cors.max_age_s,
                        )
                    ],
                    opts=opts,
                )
            return
        opts = pulumi.ResourceOptions(parent=self, provider=args.providers.aws)
        if settings.accelerate:
            # pulumi-aws: "status: Transfer acceleration state of the bucket. Valid values: Enabled, Suspended".
            aws.s3.BucketAccelerateConfiguration(
                f"{prefix}-acceleration", bucket=settings.bucket, status="Enabled", region=storage.region, opts=opts
            )
        if cors is not None:
            aws.s3.BucketCorsConfiguration(
                f"{prefix}-cors",
                bucket=settings.bucket,
                cors_rules=[
                    aws.s3.BucketCorsConfigurationCorsRuleArgs(
                        allowed_origins=list(cors.allowed_origins),
                        allowed_methods=list(cors.allowed_methods),
                        allowed_headers=list(cors.allowed_headers),
                        expose_headers=list(cors.expose_headers),
                        max_age_seconds=cors.max_age_s,
                    )
                ],
                region=storage.region,
                opts=opts,
            )
