"""Service-domain and object-storage acceleration: the ``wfga:`` keys that describe them.

The keys are ``wfga:dns_zones``, ``wfga:service_domains``, ``wfga:object_storage`` and the secret
``wfga:cloudflare_api_token``: the fields of :class:`EdgeConfig`, which is ``StackConfig.edge``.
:func:`wfga.model.config.parse_stack_config` validates them with the rest of the namespace, before
any resource exists, and lists every problem with its key path and the fix.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, SecretStr, ValidationError, model_validator

from wfga.model.base import NAMESPACE, ConfigError, Port, _message, _Model, error_problems, shown

# The keys that must be stored encrypted (the A/V TURN password too); no other key may be.
SECRET_KEYS = frozenset({f"{NAMESPACE}:cloudflare_api_token", f"{NAMESPACE}:turn_password"})

# Cloudflare proxies HTTP(S) only on these ports; anything else needs Spectrum.
CLOUDFLARE_HTTP_PORTS = (80, 8080, 8880, 2052, 2082, 2086, 2095)
CLOUDFLARE_HTTPS_PORTS = (443, 2053, 2083, 2087, 2096, 8443)
# Native WildFire clients call the service domain with plain HTTP on this port; it is compiled in.
NATIVE_CLIENT_PORT = 80
DEFAULT_PORTS = {"http": 80, "https": 443}
# CloudFront connects to custom origins on 80, 443 or 1024..65535.
CLOUDFRONT_MIN_HIGH_PORT = 1024
# Alibaba's Certificate Management Service keeps certificates in one of these two regions.
CAS_REGIONS = ("cn-hangzhou", "ap-southeast-1")

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
# Every pattern here is applied with fullmatch: `$` would let a trailing newline through.
_DOMAIN = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})+")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# OSS bucket names: 3..63 lower-case letters, digits and hyphens, no hyphen at either end.
_OSS_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_ALICLOUD_REGION = re.compile(r"[a-z]{2}(?:-[a-z0-9]+)+")
_AWS_REGION = re.compile(r"[a-z]{2}(?:-gov)?-[a-z]+-[0-9]")
_CLOUDFLARE_ZONE_ID = re.compile(r"[0-9a-f]{32}")
_ACM_ARN = re.compile(r"arn:aws:acm:(?P<region>[a-z0-9-]+):[0-9]{12}:certificate/[0-9a-f-]+")
# Origins a CDN fetches from across the internet; these ranges are not reachable from it.
_UNREACHABLE = {
    ipaddress.IPv4Network(n): why
    for n, why in {
        "0.0.0.0/8": "this-network",
        "10.0.0.0/8": "private",
        "100.64.0.0/10": "shared (carrier NAT)",
        "127.0.0.0/8": "loopback",
        "169.254.0.0/16": "link-local",
        "172.16.0.0/12": "private",
        "192.168.0.0/16": "private",
        "224.0.0.0/4": "multicast",
        "240.0.0.0/4": "reserved",
    }.items()
}
_UNREACHABLE_V6 = {
    ipaddress.IPv6Network(n): why
    for n, why in {
        "::/128": "unspecified",
        "::1/128": "loopback",
        "fc00::/7": "unique local",
        "fe80::/10": "link-local",
        "ff00::/8": "multicast",
    }.items()
}


def _domain_name(value: str) -> str:
    if not _DOMAIN.fullmatch(value) or value.rsplit(".", 1)[-1].isdigit():
        raise ValueError(f"{shown(value)} is not a lower-case DNS name such as im.example.com")
    return value


DomainName = Annotated[str, AfterValidator(_domain_name)]


def _host(value: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        if not _DOMAIN.fullmatch(value) or value.rsplit(".", 1)[-1].isdigit():
            raise ValueError(f"{shown(value)} is neither an IP address nor a lower-case DNS name") from None
        return value
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    ranges: dict[Any, str] = _UNREACHABLE if isinstance(address, ipaddress.IPv4Address) else _UNREACHABLE_V6
    why = next((why for net, why in ranges.items() if address in net), None)
    if why is not None:
        raise ValueError(
            f"{address} is a {why} address, which a CDN cannot reach from the internet; give the origin's public "
            "address or DNS name"
        )
    return str(address)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def in_zone(name: str, zone: str) -> bool:
    return name == zone or name.endswith(f".{zone}")


class Origin(_Model):
    """Where the CDN fetches from: one scheme and port, whatever the viewer used."""

    host: Annotated[str, AfterValidator(_host)] = Field(
        description="the origin host or IP the CDN fetches from (reachable from the internet)"
    )
    scheme: Literal["http", "https"] = Field(default="http", description="http or https to the origin")
    port: Port = Field(default=DEFAULT_PORTS["http"], description="default: 80 for http, 443 for https")

    @model_validator(mode="before")
    @classmethod
    def _default_port(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("port") is None and data.get("scheme") == "https":
            return {**data, "port": DEFAULT_PORTS["https"]}
        return data

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


class AlicloudCertificate(_Model):
    """The HTTPS certificate of an Alibaba DCDN or CDN domain."""

    type: Literal["cas", "free"] = Field(description="cas: from Certificate Management Service; free: issued by CDN")
    id: str | None = Field(default=None, min_length=1, description="Certificate Management Service id (type cas)")
    region: Literal["cn-hangzhou", "ap-southeast-1"] = Field(
        default="cn-hangzhou", description="the region of the CAS certificate: cn-hangzhou or ap-southeast-1"
    )
    enabled: bool | None = Field(
        default=None,
        description="type free, required: false on the deployment that creates the domain and its CNAME, "
        "then true once the CNAME resolves",
    )

    @model_validator(mode="after")
    def _check(self) -> AlicloudCertificate:
        if self.type == "cas" and self.id is None:
            raise ValueError("id: a cas certificate needs the id it has in Certificate Management Service")
        if self.type == "free" and self.id is not None:
            raise ValueError("id: a free certificate is issued by CDN and has no id; remove it or use type cas")
        if self.type == "cas" and self.enabled is not None:
            raise ValueError("enabled: applies to type free only; a cas certificate is issued already")
        if self.type == "free" and self.enabled is None:
            # CDN issues a free certificate only for a domain whose CNAME already points at it, and the
            # CNAME can only be written once the domain exists: two deployments (docs/edge.md).
            raise ValueError(
                "enabled: required with type free: Alibaba issues the free certificate only once the domain's "
                "CNAME points at the CDN; deploy with enabled: false (the domain and its CNAME are created, "
                "HTTPS off), then set enabled: true and deploy again (a domain deployed already: true)"
            )
        return self


class OriginTimeouts(_Model):
    """CloudFront origin timeouts.  The defaults give up within ~16 s so a client's /route call fails
    over to its next address instead of waiting out CloudFront's own defaults (3 x 10 s connect, 30 s read)."""

    connect_s: int = Field(default=3, ge=1, le=10, description="seconds to connect to the origin (1..10)")
    connect_attempts: int = Field(default=2, ge=1, le=3, description="connection attempts to the origin (1..3)")
    read_s: int = Field(default=10, ge=1, le=60, description="above 60 s needs an AWS quota increase")
    keepalive_s: int = Field(default=5, ge=1, le=60, description="seconds an idle origin connection is kept (1..60)")


ServiceProvider = Literal["cloudflare", "alicloud-dcdn", "cloudfront"]
# im: the licensed IM domain (native clients: plain HTTP on 80, never redirected; web: HTTPS on 443).
# api: any other HTTP service (app-server and the like): HTTPS allowed, no port-80 rule.
# upload: wfga's own front for uploads to the private store (plain HTTP PUT from native clients).
Role = Literal["im", "api", "upload"]
USER_ROLES = ("im", "api")

# Media kinds im-server reads a bucket for (media.bucket_<kind>_{name,domain}), in its samples' order.
MEDIA_KINDS = ("general", "image", "voice", "video", "file", "sticker", "moments", "portrait", "favorite")
# WildFire (docs md/server/oss.md): at least separate long-lived media (portrait, favorite, moments)
# from the short-lived media sent in conversations, which may be expired.
LONG_LIVED = ("moments", "portrait", "favorite")
SHORT_LIVED = tuple(k for k in MEDIA_KINDS if k not in LONG_LIVED)
LIFETIMES = {"short-lived": SHORT_LIVED, "long-lived": LONG_LIVED}
MediaKind = Literal["general", "image", "voice", "video", "file", "sticker", "moments", "portrait", "favorite"]
StorageCdnProvider = Literal["alicloud-cdn", "cloudfront", "cloudflare"]

# Which provider-specific keys each provider reads; any other one set is a mistake worth a message.
_PROVIDER_KEYS: dict[str, tuple[str, ...]] = {
    "scope": ("alicloud-dcdn", "alicloud-cdn"),
    "certificate": ("alicloud-dcdn", "alicloud-cdn"),
    "acm_certificate_arn": ("cloudfront",),
    "timeouts": ("cloudfront",),
}


def _only_for(model: _Model, provider: str) -> None:
    for key, providers in _PROVIDER_KEYS.items():
        if key in type(model).model_fields and getattr(model, key) is not None and provider not in providers:
            raise ValueError(f"{key}: applies to {' and '.join(providers)} only, not {provider}; remove it")


def _check_scope(scope: str | None) -> None:
    if scope == "domestic":
        raise ValueError(
            "scope: domestic serves mainland China only; global access needs global (the domain needs an "
            "ICP filing) or overseas"
        )
    if scope not in (None, "global", "overseas"):
        raise ValueError(f"scope: {scope!r} is not global or overseas")


def _check_acm_arn(arn: str | None) -> None:
    if arn is None:
        return
    match = _ACM_ARN.fullmatch(arn)
    if not match:
        raise ValueError(f"acm_certificate_arn: {arn!r} is not an ACM certificate ARN")
    if match["region"] != "us-east-1":
        raise ValueError(
            f"acm_certificate_arn: the certificate is in {match['region']}; CloudFront only uses ACM "
            "certificates from us-east-1 (or leave the key out and wfga requests one there)"
        )


def _check_cloudflare_origin(origin: Origin, plain_http: bool = True) -> None:
    if origin.port not in CLOUDFLARE_HTTP_PORTS + CLOUDFLARE_HTTPS_PORTS:
        raise ValueError(
            f"origin.port: Cloudflare cannot proxy port {origin.port}; it proxies HTTP on "
            f"{', '.join(map(str, CLOUDFLARE_HTTP_PORTS))} and HTTPS on {', '.join(map(str, CLOUDFLARE_HTTPS_PORTS))}"
        )
    if not plain_http:
        ports = CLOUDFLARE_HTTP_PORTS if origin.scheme == "http" else CLOUDFLARE_HTTPS_PORTS
        if origin.port not in ports:
            raise ValueError(
                f"origin: Cloudflare serves {origin.scheme} on {', '.join(map(str, ports))} and reaches the origin "
                f"on the port the viewer used; {origin.scheme} on {origin.port} does not fit"
            )
        return
    if origin.scheme != "http" or origin.port != NATIVE_CLIENT_PORT:
        raise ValueError(
            f"origin: Cloudflare reaches the origin on the port and scheme the viewer used, and native clients "
            f"call plain HTTP on {NATIVE_CLIENT_PORT}; use an origin serving http on {NATIVE_CLIENT_PORT} "
            "(HTTPS viewers reach it through SSL mode Flexible), or cloudfront/alicloud-dcdn to fetch over "
            f"{origin.scheme}:{origin.port}"
        )


def _check_alicloud_origin(origin: Origin, product: str) -> None:
    if origin.port != DEFAULT_PORTS[origin.scheme]:
        raise ValueError(
            f"origin.port: {product} fetches {origin.scheme} origins on port {DEFAULT_PORTS[origin.scheme]} only "
            f"(got {origin.port}); put the origin on 80 (http) or 443 (https)"
        )


def _check_cloudfront_origin(origin: Origin) -> None:
    if is_ip(origin.host):
        raise ValueError(
            f"origin.host: CloudFront origins must be DNS names, not IP addresses ({origin.host}); "
            "add a DNS record for the origin and give its name"
        )
    if origin.port not in (80, 443) and origin.port < CLOUDFRONT_MIN_HIGH_PORT:
        raise ValueError(f"origin.port: CloudFront connects to 80, 443 or 1024..65535, not {origin.port}")


class ServiceDomain(_Model):
    """A host dynamically accelerated (nothing cached): the licensed IM domain or an API domain."""

    name: DomainName = Field(description="the host name, e.g. im.example.com")
    role: Role = Field(description="im: the licensed IM domain (exactly one); api: any other HTTP service")
    provider: ServiceProvider = Field(
        description="cloudflare, alicloud-dcdn or cloudfront: dynamic acceleration, nothing cached"
    )
    origin: Origin = Field(description="where every request goes")
    zone: DomainName | None = Field(default=None, description="a wfga:dns_zones name; unset: DNS is not managed here")
    scope: str | None = Field(default=None, description="alicloud-dcdn: global (default) or overseas")
    certificate: AlicloudCertificate | None = Field(default=None, description="alicloud-dcdn: type cas")
    acm_certificate_arn: str | None = Field(default=None, description="cloudfront: an issued us-east-1 certificate")
    timeouts: OriginTimeouts | None = Field(default=None, description="cloudfront origin timeouts")

    @model_validator(mode="after")
    def _check(self) -> ServiceDomain:
        _only_for(self, self.provider)
        _check_scope(self.scope)
        _check_acm_arn(self.acm_certificate_arn)
        if self.provider == "cloudflare":
            _check_cloudflare_origin(self.origin, self.plain_http)
            if self.zone is None:
                raise ValueError(
                    "zone: a proxied record lives in Cloudflare DNS; name a cloudflare zone of wfga:dns_zones"
                )
        elif self.provider == "alicloud-dcdn":
            _check_alicloud_origin(self.origin, "DCDN")
            if self.certificate is None:
                raise ValueError(
                    "certificate: web clients call HTTPS on 443, which needs a certificate; give "
                    "{type: cas, id: <Certificate Management Service id>}"
                )
            if self.certificate.type != "cas":
                raise ValueError("certificate.type: DCDN takes certificates from Certificate Management Service (cas)")
        else:
            _check_cloudfront_origin(self.origin)
        return self

    @property
    def effective_scope(self) -> str:
        return self.scope or "global"

    @property
    def effective_timeouts(self) -> OriginTimeouts:
        return self.timeouts or OriginTimeouts()

    @property
    def plain_http(self) -> bool:
        """Native clients call it with plain HTTP on port 80, so nothing may redirect that."""
        return self.role != "api"


class StorageCdn(_Model):
    """The caching CDN in front of every bucket (downloads only), unlike a service domain."""

    provider: StorageCdnProvider = Field(description="alicloud-cdn, cloudfront or cloudflare: a global caching CDN")
    domain: DomainName | None = Field(
        default=None, description="private only: the one download host; buckets are paths under it"
    )
    zone: DomainName | None = Field(default=None, description="a wfga:dns_zones name; unset: DNS is not managed here")
    scope: str | None = Field(default=None, description="alicloud-cdn: global (default) or overseas")
    certificate: AlicloudCertificate | None = Field(default=None, description="alicloud-cdn: type cas or free")
    acm_certificate_arn: str | None = Field(default=None, description="cloudfront: an issued us-east-1 certificate")

    @model_validator(mode="after")
    def _check(self) -> StorageCdn:
        _only_for(self, self.provider)
        _check_scope(self.scope)
        _check_acm_arn(self.acm_certificate_arn)
        if self.provider == "alicloud-cdn" and self.certificate is None:
            raise ValueError(
                "certificate: web clients download media over HTTPS, which needs a certificate; give "
                "{type: free} or {type: cas, id: ...}"
            )
        if self.provider == "cloudflare" and self.zone is None:
            raise ValueError("zone: a proxied record lives in Cloudflare DNS; name a cloudflare zone of wfga:dns_zones")
        return self

    @property
    def effective_scope(self) -> str:
        return self.scope or "global"


class Bucket(_Model):
    """One bucket and the media kinds im-server stores in it."""

    name: str = Field(description="the bucket's name")
    kinds: list[MediaKind] | Literal["short-lived", "long-lived"] = Field(
        description="media kinds it serves, or short-lived / long-lived for WildFire's split"
    )
    domain: DomainName | None = Field(default=None, description="oss, s3, qiniu: the CDN host that serves it")
    origin: Origin | None = Field(default=None, description="qiniu: the bucket's own Qiniu domain")

    @property
    def served(self) -> tuple[str, ...]:
        if isinstance(self.kinds, str):
            return LIFETIMES[self.kinds]
        return tuple(k for k in MEDIA_KINDS if k in self.kinds)


class UploadFront(_Model):
    """The private store's upload host behind *dynamic* acceleration (nothing cached)."""

    name: DomainName = Field(description="the host clients upload to, e.g. upload.example.com")
    provider: Literal["alicloud-dcdn", "cloudfront"] = Field(
        description="alicloud-dcdn or cloudfront in front of the store for uploads"
    )
    zone: DomainName | None = Field(default=None, description="a wfga:dns_zones name; unset: DNS is not managed here")
    scope: str | None = Field(default=None, description="alicloud-dcdn: global (default) or overseas")
    certificate: AlicloudCertificate | None = Field(default=None, description="alicloud-dcdn: type cas")
    acm_certificate_arn: str | None = Field(default=None, description="cloudfront: an issued us-east-1 certificate")
    timeouts: OriginTimeouts | None = Field(default=None, description="cloudfront origin timeouts")


class ObjectStorage(_Model):
    """Where im-server keeps media: buckets per media kind, each behind the caching CDN for downloads,
    and where clients upload (the storage's own endpoint, optionally accelerated)."""

    kind: Literal["oss", "qiniu", "private", "s3"] = Field(
        description="oss, qiniu, private or s3: where the media lives"
    )
    region: str | None = Field(default=None, description="oss: Alibaba region; s3: AWS region")
    origin: Origin | None = Field(default=None, description="private: the store's public HTTP endpoint")
    ssl_port: Port | None = Field(default=None, description="private: the store's HTTPS port; unset: 0 (none)")
    upload_host: DomainName | None = Field(default=None, description="qiniu: the upload domain of the bucket's region")
    buckets: list[Bucket] = Field(min_length=1, description="the buckets, each with its CDN domain")
    shared_bucket: bool = Field(
        default=False, description="accept a bucket holding both short-lived and long-lived media"
    )
    upload_acceleration: bool = Field(default=False, description="accelerate uploads, not only downloads")
    upload: UploadFront | None = Field(default=None, description="private + upload_acceleration: the upload front")
    cors_origins: list[str] | None = Field(
        default=None, description="oss, s3: origins allowed by the bucket CORS rule; default ['*'], [] for none"
    )
    cdn: StorageCdn = Field(description="the CDN in front of every bucket")

    @model_validator(mode="after")
    def _check(self) -> ObjectStorage:
        needs = {
            "oss": ("region",),
            "s3": ("region",),
            "qiniu": ("upload_host",),
            "private": ("origin",),
        }[self.kind]
        for key in ("region", "origin", "upload_host", "ssl_port"):
            if key in needs and getattr(self, key) is None:
                raise ValueError(f"{key}: required for kind {self.kind}; see docs/edge.md")
            if key not in needs and key != "ssl_port" and getattr(self, key) is not None:
                raise ValueError(f"{key}: not used by kind {self.kind}; remove it")
        if self.ssl_port is not None and self.kind != "private":
            raise ValueError(f"ssl_port: not used by kind {self.kind}; its endpoint serves HTTPS on 443")
        if self.kind == "oss" and not _ALICLOUD_REGION.fullmatch(str(self.region)):
            raise ValueError(f"region: {self.region!r} is not an Alibaba Cloud region id such as cn-hangzhou")
        if self.kind == "s3" and not _AWS_REGION.fullmatch(str(self.region)):
            raise ValueError(f"region: {self.region!r} is not an AWS region id such as us-west-2")
        if self.origin is not None and self.origin.scheme != "http":
            raise ValueError(
                "origin.scheme: native clients upload to the private store with plain HTTP PUT (WF-minio README), "
                "so give its HTTP endpoint; put its HTTPS port in ssl_port"
            )
        self._check_buckets()
        self._check_upload()
        if self.cors_origins is not None and self.kind not in ("oss", "s3"):
            raise ValueError(
                f"cors_origins: wfga sets bucket CORS on oss and s3 only; configure it on the {self.kind} store itself"
            )
        if self.kind == "private" and self.cdn.domain is None:
            raise ValueError("cdn.domain: the private store's buckets are paths of one download host; name it")
        if self.kind != "private" and self.cdn.domain is not None:
            raise ValueError("cdn.domain: each bucket has its own download host; give it as buckets[].domain")
        return self

    def _check_buckets(self) -> None:
        owner: dict[str, str] = {}
        for i, bucket in enumerate(self.buckets):
            where = f"buckets[{i}]"
            pattern = _OSS_BUCKET if self.kind == "oss" else _BUCKET
            if not pattern.fullmatch(bucket.name):
                raise ValueError(f"{where}.name: {shown(bucket.name)} is not a {self.kind} bucket name")
            # The bucket becomes a host name (<bucket>.oss-<region>.aliyuncs.com): each label must be one.
            if ".." in bucket.name or ".-" in bucket.name or "-." in bucket.name:
                raise ValueError(f"{where}.name: {bucket.name!r}: a dot must sit between letters or digits")
            if re.fullmatch(r"[0-9.]+", bucket.name):
                raise ValueError(f"{where}.name: {bucket.name!r} looks like an IP address, which no bucket name may")
            if self.kind == "s3" and self.upload_acceleration and "." in bucket.name:
                raise ValueError(
                    f"{where}.name: S3 Transfer Acceleration needs a bucket name without periods ({bucket.name})"
                )
            if [b.name for b in self.buckets].count(bucket.name) > 1:
                raise ValueError(f"{where}.name: {bucket.name} is listed twice")
            if self.kind == "private" and bucket.domain is not None:
                raise ValueError(f"{where}.domain: the private store's buckets are paths of cdn.domain; remove it")
            if self.kind != "private" and bucket.domain is None:
                raise ValueError(f"{where}.domain: required; the CDN host that serves this bucket")
            if (bucket.origin is None) == (self.kind == "qiniu"):
                raise ValueError(
                    f"{where}.origin: required for qiniu (the bucket's Qiniu domain)"
                    if self.kind == "qiniu"
                    else f"{where}.origin: only a qiniu bucket takes an origin; remove it"
                )
            if bucket.origin is not None and is_ip(bucket.origin.host):
                raise ValueError(f"{where}.origin.host: give the Qiniu bucket's domain, which Qiniu routes by name")
            if not bucket.served:
                raise ValueError(f"{where}.kinds: name at least one media kind")
            for kind in bucket.served:
                if kind in owner:
                    raise ValueError(f"{where}.kinds: {kind} is already served by bucket {owner[kind]}")
                owner[kind] = bucket.name
            mixed = set(bucket.served) & set(LONG_LIVED) and set(bucket.served) & set(SHORT_LIVED)
            if mixed and not self.shared_bucket:
                raise ValueError(
                    f"{where}.kinds: {bucket.name} holds short-lived and long-lived media "
                    f"({', '.join(bucket.served)}); WildFire (docs md/server/oss.md) asks for separate buckets, at "
                    "least one for long-lived media (moments, portrait, favorite) and one for the rest, so the "
                    "short-lived one can expire; add a bucket, or set shared_bucket: true to accept it"
                )
        missing = [k for k in MEDIA_KINDS if k not in owner]
        if missing:
            raise ValueError(
                f"buckets: no bucket serves {', '.join(missing)}; every kind needs one (kinds: short-lived and "
                "kinds: long-lived cover WildFire's split)"
            )
        domains = [b.domain for b in self.buckets if b.domain is not None]
        for domain in domains:
            if domains.count(domain) > 1:
                raise ValueError(f"buckets: the domain {domain} serves two buckets; give each bucket its own host")
        if self.kind == "s3" and self.cdn.provider == "cloudflare":
            for i, bucket in enumerate(self.buckets):
                if bucket.name != bucket.domain:
                    raise ValueError(
                        f"buckets[{i}].domain: S3 picks the bucket from the Host header, and Cloudflare sends "
                        f"{bucket.domain}; name the bucket {bucket.domain} or use cloudfront, which sends the "
                        "bucket's own host name"
                    )
        if self.cdn.provider != "cloudflare":
            return
        for i, bucket in enumerate(self.buckets):
            origin = bucket.origin or self.origin
            if origin is not None:
                try:
                    _check_cloudflare_origin(origin, plain_http=False)
                except ValueError as err:
                    raise ValueError(f"buckets[{i}].{err}" if bucket.origin else str(err)) from None

    def _check_upload(self) -> None:
        if self.upload is not None and not (self.kind == "private" and self.upload_acceleration):
            raise ValueError("upload: only a private store with upload_acceleration: true takes an upload front")
        if not self.upload_acceleration:
            return
        if self.kind == "qiniu":
            raise ValueError(
                "upload_acceleration: wfga has no Qiniu provider to turn it on; set upload_host to the accelerated "
                "upload domain Qiniu gives the bucket and leave this false"
            )
        if self.kind == "private" and self.upload is None:
            raise ValueError(
                "upload: a private store's uploads are accelerated by a dynamic-acceleration front; give "
                "{name: upload.example.com, provider: alicloud-dcdn or cloudfront, ...}"
            )
        self.upload_front  # noqa: B018 - builds the front, raising its validation errors

    @property
    def upload_front(self) -> ServiceDomain | None:
        """The private store's upload host as a dynamically accelerated service domain, if any."""
        if self.upload is None or self.origin is None:
            return None
        try:
            return ServiceDomain(role="upload", origin=self.origin, **self.upload.model_dump(exclude_none=True))
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"upload.{loc}: {_message(first)}" if loc else f"upload.{_message(first)}") from None

    def bucket_domain(self, bucket: Bucket) -> str:
        """The media.bucket_<kind>_domain value: the bucket's CDN host, or a path of the private store's."""
        if self.kind == "private":
            return f"https://{self.cdn.domain}/{bucket.name}"
        return f"https://{bucket.domain}"

    def bucket_of(self, kind: str) -> Bucket:
        return next(b for b in self.buckets if kind in b.served)


class DnsZone(_Model):
    """A DNS zone whose records wfga may write."""

    name: DomainName = Field(description="the zone, e.g. example.com")
    provider: Literal["cloudflare", "alidns"] = Field(description="cloudflare or alidns")
    zone_id: str | None = Field(default=None, description="cloudflare: the zone id (32 hex digits)")
    argo_smart_routing: bool = Field(default=False, description="cloudflare: turn Argo Smart Routing on (paid)")
    always_use_https: bool = Field(
        default=False, description="cloudflare: true if the zone must keep redirecting every host to HTTPS"
    )

    @model_validator(mode="after")
    def _check(self) -> DnsZone:
        if self.provider == "cloudflare":
            if self.zone_id is None or not _CLOUDFLARE_ZONE_ID.fullmatch(self.zone_id):
                raise ValueError("zone_id: a cloudflare zone needs its zone id, 32 hex digits (dashboard: Overview)")
        else:
            for key in ("zone_id", "argo_smart_routing", "always_use_https"):
                if getattr(self, key):
                    raise ValueError(f"{key}: applies to cloudflare zones only; remove it")
        return self


@dataclass(frozen=True)
class EdgeHost:
    """A host name wfga accelerates, with what the cross-checks need to know about it."""

    path: str
    name: str
    zone: str | None
    provider: str
    needs_acm: bool  # cloudfront without an ARN: wfga requests a certificate and validates it by DNS
    plain_http: bool  # native clients call it with plain HTTP: service domains, and a private store's uploads


class EdgeConfig(_Model):
    cloudflare_api_token: SecretStr | None = Field(default=None, description="set with pulumi config set --secret")
    dns_zones: list[DnsZone] = Field(default_factory=list, description="the DNS zones wfga writes records in")
    service_domains: list[ServiceDomain] = Field(
        default_factory=list, description="hosts behind CDN dynamic acceleration (every request to origin)"
    )
    object_storage: ObjectStorage | None = Field(
        default=None, description="the object storage behind a global caching CDN"
    )

    def zone(self, name: str | None) -> DnsZone | None:
        return next((z for z in self.dns_zones if z.name == name), None)

    def hosts(self) -> Iterator[EdgeHost]:
        for i, sd in enumerate(self.service_domains):
            yield EdgeHost(
                path=f"{NAMESPACE}:service_domains[{i}] ({sd.name})",
                name=sd.name,
                zone=sd.zone,
                provider=sd.provider,
                needs_acm=sd.provider == "cloudfront" and sd.acm_certificate_arn is None,
                plain_http=sd.plain_http,
            )
        storage = self.object_storage
        if storage is None:
            return
        cdn = storage.cdn
        downloads = (
            [(f"{NAMESPACE}:object_storage.cdn", cdn.domain)]
            if cdn.domain is not None
            else [(f"{NAMESPACE}:object_storage.buckets[{i}]", b.domain) for i, b in enumerate(storage.buckets)]
        )
        for path, domain in downloads:
            assert domain is not None  # validated: private has cdn.domain, every other bucket its domain
            yield EdgeHost(
                path=path,
                name=domain,
                zone=cdn.zone,
                provider=cdn.provider,
                needs_acm=cdn.provider == "cloudfront" and cdn.acm_certificate_arn is None,
                # Downloads only: clients never upload through the caching CDN.
                plain_http=False,
            )
        front = storage.upload_front
        if front is not None:
            yield EdgeHost(
                path=f"{NAMESPACE}:object_storage.upload",
                name=front.name,
                zone=front.zone,
                provider=front.provider,
                needs_acm=front.provider == "cloudfront" and front.acm_certificate_arn is None,
                plain_http=True,
            )

    def plain_http_hosts(self) -> dict[str, list[str]]:
        """Cloudflare-proxied hosts that native clients call with plain HTTP, per zone."""
        hosts: dict[str, list[str]] = {}
        for host in self.hosts():
            if host.provider == "cloudflare" and host.plain_http and host.zone is not None:
                hosts.setdefault(host.zone, []).append(host.name)
        return hosts

    @property
    def uses_cloudflare(self) -> bool:
        # A cloudflare host needs a cloudflare zone, so the zones tell it all.
        return any(z.provider == "cloudflare" for z in self.dns_zones)

    @property
    def uses_alicloud(self) -> bool:
        hosts = (h.provider.startswith("alicloud-") for h in self.hosts())
        return any(hosts) or any(z.provider == "alidns" for z in self.dns_zones)

    @property
    def uses_aws(self) -> bool:
        # An S3 store gets bucket CORS (and acceleration) through the AWS provider.
        s3 = self.object_storage is not None and self.object_storage.kind == "s3"
        return s3 or any(h.provider == "cloudfront" for h in self.hosts())


def _role_checks(cfg: EdgeConfig) -> list[str]:
    problems: list[str] = []
    for i, sd in enumerate(cfg.service_domains):
        if sd.role not in USER_ROLES:
            problems.append(
                f"{NAMESPACE}:service_domains[{i}] ({sd.name}).role: {sd.role} is wfga's own role for the private "
                "store's upload front (object_storage.upload); use im or api"
            )
    ims = [sd.name for sd in cfg.service_domains if sd.role == "im"]
    if cfg.service_domains and not ims:
        problems.append(
            f"{NAMESPACE}:service_domains: none has role im; mark the licensed IM domain (the host clients call "
            "first, native clients on plain HTTP port 80) with role: im"
        )
    if len(ims) > 1:
        problems.append(
            f"{NAMESPACE}:service_domains: {', '.join(ims)} all have role im, but there is one IM domain: the pro "
            "licence is issued for one domain and clients may only use that domain (or an IP) as IM host "
            "(WildFire docs md/faq/server/q1.md); keep role im on the licensed domain and make the others role api"
        )
    return problems


def edge_problems(cfg: EdgeConfig) -> list[str]:
    """Rules across the edge keys: roles, zones, hosts, the token's presence."""
    problems: list[str] = _role_checks(cfg)
    zones = [z.name for z in cfg.dns_zones]
    problems += [
        f"{NAMESPACE}:dns_zones: the zone {name} is listed twice"
        for name in sorted({n for n in zones if zones.count(n) > 1})
    ]
    hosts = [host.name for host in cfg.hosts()]
    problems += [
        f"{NAMESPACE}: the host {name} is accelerated twice; a host name belongs to one service domain or the storage"
        for name in sorted({h for h in hosts if hosts.count(h) > 1})
    ]
    for host in cfg.hosts():
        zone = cfg.zone(host.zone)
        if host.zone is not None and zone is None:
            problems.append(
                f"{host.path}.zone: {host.zone} is not in wfga:dns_zones ({', '.join(zones) or 'none declared'})"
            )
            continue
        if zone is None:
            if host.needs_acm:
                problems.append(
                    f"{host.path}.acm_certificate_arn: without a zone managed here wfga cannot validate a new ACM "
                    "certificate; give the ARN of an issued us-east-1 certificate, or a zone"
                )
            continue
        if not in_zone(host.name, zone.name):
            problems.append(f"{host.path}: {host.name} is outside the zone {zone.name}; pick the zone that contains it")
            continue
        if host.provider == "cloudflare" and zone.provider != "cloudflare":
            problems.append(
                f"{host.path}.zone: a proxied record needs a cloudflare zone; {zone.name} is on {zone.provider}"
            )
        if zone.provider == "alidns" and host.name == zone.name:
            problems.append(
                f"{host.path}: Alibaba DNS cannot put the CDN's CNAME at the zone apex {host.name}; use a subdomain "
                f"such as im.{host.name}"
            )
    plain_http_hosts = cfg.plain_http_hosts()
    for i, zone in enumerate(cfg.dns_zones):
        if zone.always_use_https and zone.name in plain_http_hosts:
            problems.append(
                f"{NAMESPACE}:dns_zones[{i}] ({zone.name}).always_use_https: the zone redirects every HTTP request "
                f"to HTTPS, but native clients call {', '.join(plain_http_hosts[zone.name])} with plain HTTP on port "
                "80 and cannot follow the redirect; Cloudflare cannot exempt one host from Always Use HTTPS, so set "
                "it false (wfga then turns the zone setting off) and redirect other hosts with a Redirect Rule"
            )
    if cfg.uses_cloudflare and cfg.cloudflare_api_token is None:
        problems.append(
            f"{NAMESPACE}:cloudflare_api_token: required to manage the cloudflare zones; run "
            "`pulumi config set --secret cloudflare_api_token <token>` (permissions: Zone DNS, Cache Settings, "
            "Config Settings, Zone Settings, Argo edit)"
        )
    return problems


def edge_secret_problems(cfg: EdgeConfig, secret_keys: Collection[str]) -> list[str]:
    """The token must be stored encrypted; ``secret_keys`` names the keys the stack encrypts."""
    if cfg.cloudflare_api_token is not None and f"{NAMESPACE}:cloudflare_api_token" not in secret_keys:
        return [
            f"{NAMESPACE}:cloudflare_api_token: stored as plain text; remove it from the stack file, run "
            "`pulumi config set --secret cloudflare_api_token <token>`, and rotate the exposed token"
        ]
    return []


def parse_edge_config(values: Mapping[str, Any], secret_keys: Collection[str] = ()) -> EdgeConfig:
    """The edge keys alone; :func:`wfga.model.config.parse_stack_config` reads them with the rest."""
    raw = {
        key: values[f"{NAMESPACE}:{key}"]
        for key in EdgeConfig.model_fields
        if values.get(f"{NAMESPACE}:{key}") is not None
    }
    try:
        cfg = EdgeConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(error_problems(err.errors(), raw)) from None
    problems = edge_problems(cfg) + edge_secret_problems(cfg, secret_keys)
    if problems:
        raise ConfigError(problems)
    return cfg
