"""What each CDN resource of a service domain or the object storage must say, as plain data.

Service domains are dynamically accelerated: every request goes to the origin and nothing is
cached, and each provider serves plain HTTP on port 80 without redirecting (native clients) as
well as HTTPS on 443 (web clients).  The object storage CDN caches, since media objects never
change under their random names.  The components in ``components/`` only translate these plans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from wfga.model.edge import (
    MEDIA_KINDS,
    Bucket,
    DnsZone,
    EdgeConfig,
    ObjectStorage,
    Origin,
    OriginTimeouts,
    ServiceDomain,
    is_ip,
)

# AWS managed policies (fixed ids, the same in every account).
CACHING_DISABLED_POLICY = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED_POLICY = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_POLICY = "216adef6-5c7f-47e4-b989-5492eafa07d3"
ALL_VIEWER_EXCEPT_HOST_POLICY = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
# The storage CDN only serves downloads; OPTIONS answers a browser's CORS preflight.
DOWNLOAD_METHODS = ("GET", "HEAD", "OPTIONS")
CACHED_METHODS = ("GET", "HEAD")
ACM_REGION = "us-east-1"
# The endpoint region for DCDN, CDN and Alibaba DNS (global services) when the cluster is not on Alibaba.
ALICLOUD_EDGE_REGION = "cn-hangzhou"

# Media objects are written once under random names, so a long edge TTL is safe.
MEDIA_TTL_S = 30 * 24 * 3600
# Alibaba cache rules: weight 1..99, the highest wins; a TTL of 0 means "do not cache".
TOP_WEIGHT = "99"
CLOUDFLARE_AUTO_TTL = 1
ALIDNS_TTL = 600

# im-server media.server.media_type codes (WildFire pro).
MEDIA_TYPES = {"qiniu": 1, "oss": 2, "private": 3, "s3": 7}
# Every media.bucket_<kind>_{name,domain} pair im-server reads.
MEDIA_BUCKET_KINDS = MEDIA_KINDS
# Accelerate endpoints, which only work once a bucket has transfer acceleration on: OSS (Alibaba's
# transfer acceleration docs) and S3 Transfer Acceleration (virtual-host style, bucket.<endpoint>).
OSS_ACCELERATE_ENDPOINT = "oss-accelerate.aliyuncs.com"
S3_ACCELERATE_ENDPOINT = "s3-accelerate.amazonaws.com"
# The Web SDK (vue-chat's bundled proto) uploads with PUT, setting Content-Type and
# Content-Disposition, and downloads with GET: what a browser must be allowed cross-origin.
CORS_METHODS = ("GET", "HEAD", "PUT")
CORS_HEADERS = ("*",)
CORS_EXPOSE_HEADERS = ("ETag",)
CORS_MAX_AGE_S = 3600
DEFAULT_CORS_ORIGINS = ("*",)


@dataclass(frozen=True)
class AlicloudSource:
    type: Literal["ipaddr", "domain", "oss"]
    content: str
    port: int


@dataclass(frozen=True)
class AlicloudFunction:
    """One DomainConfig of a DCDN or CDN domain."""

    key: str  # stable resource-name suffix
    name: str
    args: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DcdnPlan:
    domain: str
    scope: str
    scene: str
    source: AlicloudSource
    cert_id: str
    cert_region: str
    functions: tuple[AlicloudFunction, ...]


@dataclass(frozen=True)
class AlicloudCdnPlan:
    domain: str
    cdn_type: str
    scope: str
    source: AlicloudSource
    cert_type: str
    cert_id: str | None
    cert_region: str | None
    functions: tuple[AlicloudFunction, ...]
    # False for a free certificate until the domain's CNAME resolves: the domain serves HTTP only.
    cert_enabled: bool = True


@dataclass(frozen=True)
class CloudFrontPlan:
    domain: str
    origin_id: str
    origin_domain: str
    s3_origin: bool  # a public S3 bucket: S3 origin config instead of a custom origin
    origin_protocol_policy: str
    http_port: int
    https_port: int
    timeouts: OriginTimeouts | None
    cache_policy_id: str
    origin_request_policy_id: str | None
    viewer_protocol_policy: str
    allowed_methods: tuple[str, ...]
    cached_methods: tuple[str, ...]
    price_class: str


@dataclass(frozen=True)
class CloudflarePlan:
    """A proxied record, and how its host is cached and reaches the origin.

    The caching and SSL mode are rules of the zone's rulesets (:class:`CloudflareZonePlan`), not a
    page rule per host: Page Rules are deprecated and the Free plan allows only 3 per zone.
    """

    name: str
    record_type: Literal["A", "AAAA", "CNAME"]
    content: str
    ttl: int
    cache: bool  # False: bypass the cache
    edge_ttl_s: int | None  # cached hosts: the edge TTL, overriding the origin's
    ssl: str  # the SSL/TLS mode towards the origin

    @property
    def expression(self) -> str:
        """The Rules language filter matching every request to this host."""
        return f'(http.host eq "{self.name}")'

    @property
    def ref(self) -> str:
        """A stable rule reference: the host, so reordering hosts changes no rule."""
        return "wfga_" + re.sub(r"[^a-z0-9]", "_", self.name.lower())


@dataclass(frozen=True)
class DnsRecordPlan:
    """Where a CNAME goes in a zone managed here; its value is known only once the CDN exists."""

    zone: DnsZone
    name: str  # Cloudflare: the full name; Alibaba DNS: the host record (rr) relative to the zone
    ttl: int


# Cloudflare Ruleset Engine phases: a zone has at most one entry point ruleset per phase, so wfga
# writes one per zone and phase holding a rule per proxied host (it owns the phase's rules there).
CACHE_PHASE = "http_request_cache_settings"
CONFIG_PHASE = "http_config_settings"


@dataclass(frozen=True)
class CloudflareZonePlan:
    zone: DnsZone
    argo: bool
    always_use_https_off: bool
    plain_http_hosts: tuple[str, ...]
    # Every proxied host of the zone (service domains and download hosts), sorted by name: a cache
    # rule and a configuration rule each.
    hosts: tuple[CloudflarePlan, ...] = ()


def record_name(zone: DnsZone, fqdn: str) -> str:
    """The name of ``fqdn`` as the zone's DNS API wants it (a trailing dot, as ACM gives, is dropped)."""
    name = fqdn.rstrip(".")
    if zone.provider == "cloudflare":
        return name
    return "@" if name == zone.name else name.removesuffix(f".{zone.name}")


def dns_record(zone: DnsZone | None, fqdn: str) -> DnsRecordPlan | None:
    if zone is None:
        return None
    ttl = CLOUDFLARE_AUTO_TTL if zone.provider == "cloudflare" else ALIDNS_TTL
    return DnsRecordPlan(zone=zone, name=record_name(zone, fqdn), ttl=ttl)


def cloudflare_proxied_hosts(cfg: EdgeConfig) -> dict[str, list[CloudflarePlan]]:
    """Each Cloudflare-proxied host's plan, per zone name."""
    found: list[tuple[str | None, CloudflarePlan]] = [
        (sd.zone, cloudflare_service_plan(sd)) for sd in cfg.service_domains if sd.provider == "cloudflare"
    ]
    storage = cfg.object_storage
    if storage is not None:
        if storage.cdn.provider == "cloudflare":
            found += [(storage.cdn.zone, cloudflare_storage_plan(host)) for host in storage_hosts(storage)]
        front = storage.upload_front
        if front is not None and front.provider == "cloudflare":
            found.append((front.zone, cloudflare_service_plan(front)))
    hosts: dict[str, list[CloudflarePlan]] = {}
    for zone, plan in found:
        if zone is not None:  # validated: a proxied host lives in a cloudflare zone
            hosts.setdefault(zone, []).append(plan)
    return hosts


def cloudflare_zone_plans(cfg: EdgeConfig) -> list[CloudflareZonePlan]:
    """Per Cloudflare zone: the cache and configuration rules of its proxied hosts, Argo where asked, and
    Always Use HTTPS off where native clients call plain HTTP."""
    plain_http = cfg.plain_http_hosts()
    proxied = cloudflare_proxied_hosts(cfg)
    plans = []
    for zone in cfg.dns_zones:
        hosts = tuple(plain_http.get(zone.name, ()))
        rules = tuple(sorted(proxied.get(zone.name, ()), key=lambda h: h.name))
        if zone.provider == "cloudflare" and (zone.argo_smart_routing or hosts or rules):
            plans.append(
                CloudflareZonePlan(
                    zone=zone,
                    argo=zone.argo_smart_routing,
                    always_use_https_off=bool(hosts),
                    plain_http_hosts=hosts,
                    hosts=rules,
                )
            )
    return plans


def _cloudflare_record(host: str) -> tuple[Literal["A", "AAAA", "CNAME"], str]:
    if is_ip(host):
        return ("AAAA" if ":" in host else "A", host)
    return ("CNAME", host)


def cloudflare_service_plan(sd: ServiceDomain) -> CloudflarePlan:
    record_type, content = _cloudflare_record(sd.origin.host)
    return CloudflarePlan(
        name=sd.name,
        record_type=record_type,
        content=content,
        ttl=CLOUDFLARE_AUTO_TTL,
        cache=False,
        edge_ttl_s=None,
        # An HTTP origin (always so for the IM domain): HTTPS viewers must reach it over HTTP too.
        ssl="flexible" if sd.origin.scheme == "http" else "full",
    )


def dcdn_plan(sd: ServiceDomain) -> DcdnPlan:
    assert sd.certificate is not None and sd.certificate.id is not None  # validated for alicloud-dcdn
    return DcdnPlan(
        domain=sd.name,
        scope=sd.effective_scope,
        scene="apiscene",
        source=_alicloud_source(sd.origin),
        cert_id=sd.certificate.id,
        cert_region=sd.certificate.region,
        functions=(
            # Dynamic acceleration on, with no static-file rules: every request is routed to the origin.
            AlicloudFunction(
                key="dynamic",
                name="dynamic",
                args=(("enable", "on"), ("dynamic_route_origin", sd.origin.scheme)),
            ),
            AlicloudFunction(
                key="no-cache",
                name="path_based_ttl_set",
                args=(("path", "/"), ("ttl", "0"), ("weight", TOP_WEIGHT)),
            ),
        ),
    )


def _alicloud_source(origin: Origin) -> AlicloudSource:
    return AlicloudSource(type="ipaddr" if is_ip(origin.host) else "domain", content=origin.host, port=origin.port)


def cloudfront_service_plan(sd: ServiceDomain) -> CloudFrontPlan:
    return CloudFrontPlan(
        domain=sd.name,
        origin_id="origin",
        origin_domain=sd.origin.host,
        s3_origin=False,
        origin_protocol_policy=f"{sd.origin.scheme}-only",
        http_port=sd.origin.port if sd.origin.scheme == "http" else 80,
        https_port=sd.origin.port if sd.origin.scheme == "https" else 443,
        timeouts=sd.effective_timeouts,
        cache_policy_id=CACHING_DISABLED_POLICY,
        # Over HTTPS CloudFront checks the origin's certificate against the Host it sends: keep the origin's own.
        origin_request_policy_id=ALL_VIEWER_POLICY if sd.origin.scheme == "http" else ALL_VIEWER_EXCEPT_HOST_POLICY,
        viewer_protocol_policy="allow-all",
        allowed_methods=ALL_METHODS,
        cached_methods=CACHED_METHODS,
        price_class="PriceClass_All",
    )


@dataclass(frozen=True)
class StorageHost:
    """One download host of the caching CDN and the origin it fetches from."""

    key: str  # stable resource-name part: the bucket's name, or "store" for the private store's one host
    domain: str
    origin: Origin
    buckets: tuple[str, ...]


def bucket_origin(storage: ObjectStorage, bucket: Bucket) -> Origin:
    """The host the CDN fetches a bucket's media from."""
    if storage.kind == "oss":
        return Origin(host=f"{bucket.name}.oss-{storage.region}.aliyuncs.com", scheme="https", port=443)
    if storage.kind == "s3":
        return Origin(host=f"{bucket.name}.s3.{storage.region}.amazonaws.com", scheme="https", port=443)
    origin = bucket.origin if storage.kind == "qiniu" else storage.origin
    assert origin is not None  # validated: a qiniu bucket has its domain, a private store its endpoint
    return origin


def storage_hosts(storage: ObjectStorage) -> list[StorageHost]:
    """Cloud buckets each have a host of their own; the private store serves them all as paths of one."""
    if storage.kind == "private":
        assert storage.cdn.domain is not None  # validated for private
        return [
            StorageHost(
                key="store",
                domain=storage.cdn.domain,
                origin=bucket_origin(storage, storage.buckets[0]),
                buckets=tuple(b.name for b in storage.buckets),
            )
        ]
    hosts = []
    for bucket in storage.buckets:
        assert bucket.domain is not None  # validated for every kind but private
        hosts.append(StorageHost(bucket.name, bucket.domain, bucket_origin(storage, bucket), (bucket.name,)))
    return hosts


def alicloud_cdn_plan(storage: ObjectStorage, host: StorageHost) -> AlicloudCdnPlan:
    cdn = storage.cdn
    assert cdn.certificate is not None  # validated for alicloud-cdn
    origin = host.origin
    functions = [
        AlicloudFunction(
            key="cache",
            name="path_based_ttl_set",
            args=(("path", "/"), ("ttl", str(MEDIA_TTL_S)), ("weight", TOP_WEIGHT)),
        )
    ]
    if storage.kind != "oss":
        # A domain origin gets the accelerated domain as Host by default; buckets route by their own name.
        functions.append(
            AlicloudFunction(key="origin-host", name="set_req_host_header", args=(("domain_name", origin.host),))
        )
    return AlicloudCdnPlan(
        domain=host.domain,
        cdn_type="web",
        scope=cdn.effective_scope,
        source=AlicloudSource(type="oss", content=origin.host, port=origin.port)
        if storage.kind == "oss"
        else _alicloud_source(origin),
        cert_type=cdn.certificate.type,
        cert_id=cdn.certificate.id,
        cert_region=cdn.certificate.region if cdn.certificate.type == "cas" else None,
        functions=tuple(functions),
        cert_enabled=cdn.certificate.enabled is not False,
    )


def cloudfront_storage_plan(storage: ObjectStorage, host: StorageHost) -> CloudFrontPlan:
    origin = host.origin
    return CloudFrontPlan(
        domain=host.domain,
        origin_id="media",
        origin_domain=origin.host,
        s3_origin=storage.kind == "s3",
        origin_protocol_policy=f"{origin.scheme}-only",
        http_port=origin.port if origin.scheme == "http" else 80,
        https_port=origin.port if origin.scheme == "https" else 443,
        timeouts=None,
        cache_policy_id=CACHING_OPTIMIZED_POLICY,
        origin_request_policy_id=None,
        viewer_protocol_policy="allow-all",
        allowed_methods=DOWNLOAD_METHODS,
        cached_methods=CACHED_METHODS,
        price_class="PriceClass_All",
    )


def cloudflare_storage_plan(host: StorageHost) -> CloudflarePlan:
    record_type, content = _cloudflare_record(host.origin.host)
    return CloudflarePlan(
        name=host.domain,
        record_type=record_type,
        content=content,
        ttl=CLOUDFLARE_AUTO_TTL,
        # Everything cached, whatever the origin's headers say: media never change under their names.
        cache=True,
        edge_ttl_s=MEDIA_TTL_S,
        # Bucket endpoints serve HTTPS under their own name, not the CDN's: encrypt without verifying.
        ssl="flexible" if host.origin.scheme == "http" else "full",
    )


@dataclass(frozen=True)
class CorsRule:
    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...] = CORS_METHODS
    allowed_headers: tuple[str, ...] = CORS_HEADERS
    expose_headers: tuple[str, ...] = CORS_EXPOSE_HEADERS
    max_age_s: int = CORS_MAX_AGE_S


@dataclass(frozen=True)
class BucketSettings:
    """What wfga sets on a bucket it does not own: transfer acceleration and the web clients' CORS rule."""

    bucket: str
    accelerate: bool
    cors: CorsRule | None


def bucket_settings(storage: ObjectStorage) -> list[BucketSettings]:
    """Only OSS and S3 have an API here; Qiniu and the private store are configured on their side."""
    if storage.kind not in ("oss", "s3"):
        return []
    origins = DEFAULT_CORS_ORIGINS if storage.cors_origins is None else tuple(storage.cors_origins)
    cors = CorsRule(allowed_origins=origins) if origins else None
    return [
        BucketSettings(bucket=b.name, accelerate=storage.upload_acceleration, cors=cors)
        for b in storage.buckets
        if storage.upload_acceleration or cors is not None
    ]


@dataclass(frozen=True)
class UploadEndpoint:
    """media.server_host and its ports: where clients upload (HTTP PUT from native clients)."""

    host: str
    port: int
    ssl_port: int


def upload_endpoint(storage: ObjectStorage) -> UploadEndpoint:
    """Never the caching CDN: the storage's own endpoint, its accelerate endpoint, or the private store's
    dynamic-acceleration front."""
    if storage.kind == "oss":
        host = OSS_ACCELERATE_ENDPOINT if storage.upload_acceleration else f"oss-{storage.region}.aliyuncs.com"
        return UploadEndpoint(host, 80, 443)
    if storage.kind == "s3":
        host = S3_ACCELERATE_ENDPOINT if storage.upload_acceleration else f"s3.{storage.region}.amazonaws.com"
        return UploadEndpoint(host, 80, 443)
    if storage.kind == "qiniu":
        assert storage.upload_host is not None  # validated for qiniu
        return UploadEndpoint(storage.upload_host, 80, 443)
    front = storage.upload_front
    if front is not None:
        return UploadEndpoint(front.name, 80, 443)
    assert storage.origin is not None  # validated for private
    # WildFire's samples: 0 for the SSL port of a store without HTTPS.
    return UploadEndpoint(storage.origin.host, storage.origin.port, storage.ssl_port or 0)


def media_server_host(storage: ObjectStorage) -> str:
    return upload_endpoint(storage).host


def media_config_lines(storage: ObjectStorage) -> list[str]:
    """The im-server (wildfirechat.conf) media lines, ready to paste; keys and secrets are the operator's."""
    upload = upload_endpoint(storage)
    lines = [
        f"media.server.media_type {MEDIA_TYPES[storage.kind]}",
        f"media.server_host {upload.host}",
        f"media.server_port {upload.port}",
        f"media.server_ssl_port {upload.ssl_port}",
    ]
    for kind in MEDIA_BUCKET_KINDS:
        bucket = storage.bucket_of(kind)
        lines += [
            f"media.bucket_{kind}_name {bucket.name}",
            f"media.bucket_{kind}_domain {storage.bucket_domain(bucket)}",
        ]
    return lines


def edge_summary(
    name: str, provider: str, origin: Origin, *, record_type: str, target: str, record: DnsRecordPlan | None
) -> dict[str, Any]:
    """What the operator needs to know about one accelerated host, as plain data for a stack output.

    ``dns_zone`` is None when the zone is not managed here: the operator creates ``dns_record``.
    """
    return {
        "provider": provider,
        "origin": origin.url,
        "dns_record": {"name": name, "type": record_type, "value": target, "proxied": provider == "cloudflare"},
        "dns_zone": record.zone.name if record is not None else None,
    }
