"""Resources that service domains and the object-storage CDN both create, under a component parent.

Not a component: helpers that translate the plans of :mod:`wfga.plan.edge` into children of the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws

from wfga.model.edge import DnsZone
from wfga.plan.edge import ACM_REGION, CloudflarePlan, CloudFrontPlan, DnsRecordPlan, record_name

if TYPE_CHECKING:
    # Imported where a Cloudflare record is made: pulumi_cloudflare takes over a second and 100 MB
    # to import, which a stack without a Cloudflare zone should not pay.
    import pulumi_cloudflare as cloudflare


@dataclass(frozen=True)
class EdgeProviders:
    """One provider per cloud the edge uses; None where the stack uses none of that cloud."""

    alicloud: alicloud.Provider | None
    aws: aws.Provider | None
    cloudflare: cloudflare.Provider | None


def dns_record(
    name: str,
    zone: DnsZone,
    *,
    record: pulumi.Input[str],
    value: pulumi.Input[str],
    ttl: int,
    parent: pulumi.Resource,
    providers: EdgeProviders,
) -> pulumi.CustomResource:
    """A DNS-only CNAME ``record`` -> ``value`` in a zone managed here."""
    if zone.provider == "cloudflare":
        import pulumi_cloudflare as cloudflare  # noqa: PLC0415 - see the TYPE_CHECKING import

        assert zone.zone_id is not None  # validated for cloudflare zones
        return cloudflare.DnsRecord(
            name,
            zone_id=zone.zone_id,
            name=record,
            type="CNAME",
            content=value,
            # The CDN in front must see the viewer; Cloudflare's proxy would stand in between.
            proxied=False,
            ttl=ttl,
            comment="wfga",
            opts=pulumi.ResourceOptions(parent=parent, provider=providers.cloudflare),
        )
    return alicloud.dns.AlidnsRecord(
        name,
        domain_name=zone.name,
        rr=record,
        type="CNAME",
        value=value,
        ttl=ttl,
        remark="wfga",
        opts=pulumi.ResourceOptions(parent=parent, provider=providers.alicloud),
    )


def cdn_cname(
    name: str, plan: DnsRecordPlan, target: pulumi.Input[str], parent: pulumi.Resource, providers: EdgeProviders
) -> pulumi.CustomResource:
    return dns_record(
        f"{name}-cname", plan.zone, record=plan.name, value=target, ttl=plan.ttl, parent=parent, providers=providers
    )


def acm_certificate(
    name: str, domain: str, plan: DnsRecordPlan, parent: pulumi.Resource, providers: EdgeProviders
) -> pulumi.Output[str]:
    """A us-east-1 certificate for CloudFront, validated through a record in the managed zone."""
    cert = aws.acm.Certificate(
        f"{name}-cert",
        domain_name=domain,
        validation_method="DNS",
        region=ACM_REGION,
        opts=pulumi.ResourceOptions(parent=parent, provider=providers.aws),
    )
    # One domain, so one validation record: (name, value), both fully qualified with a trailing dot.
    option = cert.domain_validation_options.apply(_validation_record)
    zone = plan.zone
    validation_record = dns_record(
        f"{name}-cert-validation",
        zone,
        record=option.apply(lambda o: record_name(zone, o[0])),
        value=option.apply(lambda o: o[1].rstrip(".")),
        ttl=plan.ttl,
        parent=parent,
        providers=providers,
    )
    validation = aws.acm.CertificateValidation(
        f"{name}-cert-validation",
        certificate_arn=cert.arn,
        validation_record_fqdns=[option.apply(lambda o: o[0].rstrip("."))],
        region=ACM_REGION,
        opts=pulumi.ResourceOptions(parent=parent, provider=providers.aws, depends_on=[validation_record]),
    )
    return validation.certificate_arn


def _validation_record(options: Sequence[aws.acm.outputs.CertificateDomainValidationOption]) -> tuple[str, str]:
    option = options[0]
    assert option.resource_record_name is not None and option.resource_record_value is not None  # DNS validation
    return option.resource_record_name, option.resource_record_value


def cloudfront_distribution(
    name: str,
    plan: CloudFrontPlan,
    certificate_arn: pulumi.Input[str],
    parent: pulumi.Resource,
    providers: EdgeProviders,
) -> aws.cloudfront.Distribution:
    timeouts = plan.timeouts
    origin = aws.cloudfront.DistributionOriginArgs(
        domain_name=plan.origin_domain,
        origin_id=plan.origin_id,
        connection_timeout=timeouts.connect_s if timeouts else None,
        connection_attempts=timeouts.connect_attempts if timeouts else None,
        s3_origin_config=aws.cloudfront.DistributionOriginS3OriginConfigArgs(origin_access_identity="")
        if plan.s3_origin
        else None,
        custom_origin_config=None
        if plan.s3_origin
        else aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
            http_port=plan.http_port,
            https_port=plan.https_port,
            origin_protocol_policy=plan.origin_protocol_policy,
            origin_ssl_protocols=["TLSv1.2"],
            origin_read_timeout=timeouts.read_s if timeouts else None,
            origin_keepalive_timeout=timeouts.keepalive_s if timeouts else None,
        ),
    )
    return aws.cloudfront.Distribution(
        f"{name}-distribution",
        enabled=True,
        comment=f"wfga {plan.domain}",
        aliases=[plan.domain],
        origins=[origin],
        default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
            target_origin_id=plan.origin_id,
            viewer_protocol_policy=plan.viewer_protocol_policy,
            allowed_methods=list(plan.allowed_methods),
            cached_methods=list(plan.cached_methods),
            cache_policy_id=plan.cache_policy_id,
            origin_request_policy_id=plan.origin_request_policy_id,
            compress=True,
        ),
        price_class=plan.price_class,
        is_ipv6_enabled=True,
        restrictions=aws.cloudfront.DistributionRestrictionsArgs(
            geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
        ),
        viewer_certificate=aws.cloudfront.DistributionViewerCertificateArgs(
            acm_certificate_arn=certificate_arn,
            ssl_support_method="sni-only",
            minimum_protocol_version="TLSv1.2_2021",
        ),
        opts=pulumi.ResourceOptions(parent=parent, provider=providers.aws),
    )


def cloudfront_for(
    name: str,
    domain: str,
    plan: CloudFrontPlan,
    *,
    acm_certificate_arn: str | None,
    record: DnsRecordPlan | None,
    parent: pulumi.Resource,
    providers: EdgeProviders,
) -> aws.cloudfront.Distribution:
    """A distribution for ``domain`` with the given certificate, or one requested and validated here."""
    certificate_arn: pulumi.Input[str]
    if acm_certificate_arn is not None:
        certificate_arn = acm_certificate_arn
    else:
        assert record is not None  # validated: a new certificate needs a managed zone
        certificate_arn = acm_certificate(name, domain, record, parent, providers)
    return cloudfront_distribution(name, plan, certificate_arn, parent, providers)


def cloudflare_proxied(
    name: str, plan: CloudflarePlan, zone: DnsZone, parent: pulumi.Resource, providers: EdgeProviders
) -> None:
    """A proxied record to the origin; its host's caching and SSL mode are rules of the zone's rulesets
    (``ServiceDomainZone``)."""
    import pulumi_cloudflare as cloudflare  # noqa: PLC0415 - see the TYPE_CHECKING import

    assert zone.zone_id is not None  # validated for cloudflare zones
    cloudflare.DnsRecord(
        f"{name}-record",
        zone_id=zone.zone_id,
        name=plan.name,
        type=plan.record_type,
        content=plan.content,
        proxied=True,
        ttl=plan.ttl,
        comment="wfga",
        opts=pulumi.ResourceOptions(parent=parent, provider=providers.cloudflare),
    )
