"""Edge configuration: every mistake is named by its key path, with the reason and the fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import stack_values
from wfga.model.config import EDGE_KEYS, ConfigError, parse_stack_config
from wfga.model.edge import CLOUDFLARE_HTTP_PORTS, CLOUDFLARE_HTTPS_PORTS, MEDIA_KINDS, EdgeConfig, parse_edge_config

Values = dict[str, Any]
SECRET = frozenset({"wfga:cloudflare_api_token"})


def edge_demo() -> Values:
    return stack_values("edge-demo")


def sd(v: Values, name: str) -> Values:
    found: Values = next(d for d in v["wfga:service_domains"] if d["name"] == name)
    return found


def storage(v: Values) -> Values:
    s: Values = v["wfga:object_storage"]
    return s


def private_store(**changes: Any) -> Values:
    store: Values = {
        "kind": "private",
        "origin": {"host": "minio.example.cn", "port": 9000},
        "buckets": [{"name": "media", "kinds": "short-lived"}, {"name": "static", "kinds": "long-lived"}],
        "cdn": {
            "provider": "alicloud-cdn",
            "domain": "media.example.cn",
            "zone": "example.cn",
            "certificate": {"type": "free", "enabled": True},
        },
    }
    return {**store, **changes}


def problems(values: Values, secret: frozenset[str] = SECRET) -> str:
    with pytest.raises(ConfigError) as err:
        parse_edge_config(values, secret)
    return str(err.value)


def test_the_edge_keys_known_to_the_stack_config_are_exactly_the_edge_models_fields():
    assert set(EDGE_KEYS) == set(EdgeConfig.model_fields)


def test_the_demo_parses_and_the_stack_config_accepts_its_edge_keys():
    values = edge_demo()
    parse_stack_config(values)
    cfg = parse_edge_config(values, SECRET)
    assert [(d.provider, d.role) for d in cfg.service_domains] == [
        ("cloudflare", "im"),
        ("cloudfront", "api"),
        ("alicloud-dcdn", "api"),
    ]
    assert cfg.object_storage is not None and cfg.object_storage.kind == "oss"
    assert [b.name for b in cfg.object_storage.buckets] == ["wfga-media", "wfga-static"]
    assert "not-a-real-token" not in repr(cfg)


def qiniu(v: Values, **changes: Any) -> None:
    """The demo's storage as Qiniu buckets, each with its Qiniu domain, then ``changes``."""
    storage(v).update(kind="qiniu", region=None, upload_host="up.qbox.me", **changes)
    for bucket in storage(v)["buckets"]:
        bucket["origin"] = {"host": f"{bucket['name']}.qiniu.example.net"}


CASES: list[tuple[str, Callable[[Values], None], str]] = [
    (
        "unknown provider",
        lambda v: sd(v, "im.example.com").update(provider="akamai"),
        "wfga:service_domains[0] (im.example.com).provider: Input should be 'cloudflare', 'alicloud-dcdn' or "
        "'cloudfront' (got 'akamai')",
    ),
    (
        "port cloudflare cannot proxy",
        lambda v: sd(v, "im.example.com")["origin"].update(port=1883),
        "wfga:service_domains[0] (im.example.com).origin.port: Cloudflare cannot proxy port 1883; it proxies HTTP on "
        f"{', '.join(map(str, CLOUDFLARE_HTTP_PORTS))} and HTTPS on {', '.join(map(str, CLOUDFLARE_HTTPS_PORTS))}",
    ),
    (
        "proxyable port that native clients never use",
        lambda v: sd(v, "im.example.com")["origin"].update(port=8080),
        "wfga:service_domains[0] (im.example.com).origin: Cloudflare reaches the origin on the port and scheme the "
        "viewer used, and native clients call plain HTTP on 80",
    ),
    (
        "https origin behind cloudflare",
        lambda v: sd(v, "im.example.com")["origin"].update(scheme="https", port=443),
        "wfga:service_domains[0] (im.example.com).origin: Cloudflare reaches the origin",
    ),
    (
        "dcdn origin port",
        lambda v: sd(v, "api.example.cn")["origin"].update(port=8443),
        "wfga:service_domains[2] (api.example.cn).origin.port: DCDN fetches https origins on port 443 only (got 8443)",
    ),
    (
        "domestic scope",
        lambda v: sd(v, "api.example.cn").update(scope="domestic"),
        "wfga:service_domains[2] (api.example.cn).scope: domestic serves mainland China only; global access needs",
    ),
    (
        "scope on cloudfront",
        lambda v: sd(v, "app.example.com").update(scope="global"),
        "wfga:service_domains[1] (app.example.com).scope: applies to alicloud-dcdn and alicloud-cdn only",
    ),
    (
        "dcdn without certificate",
        lambda v: sd(v, "api.example.cn").pop("certificate"),
        "wfga:service_domains[2] (api.example.cn).certificate: web clients call HTTPS on 443, which needs a "
        "certificate",
    ),
    (
        "cas certificate without id",
        lambda v: sd(v, "api.example.cn")["certificate"].pop("id"),
        "wfga:service_domains[2] (api.example.cn).certificate.id: a cas certificate needs the id",
    ),
    (
        "free certificate on dcdn",
        lambda v: sd(v, "api.example.cn").update(certificate={"type": "free", "enabled": True}),
        "wfga:service_domains[2] (api.example.cn).certificate.type: DCDN takes certificates from Certificate "
        "Management Service",
    ),
    (
        # CDN issues a free certificate only once the CNAME resolves: the stack says which deployment this is.
        "free certificate without enabled",
        lambda v: storage(v)["cdn"]["certificate"].pop("enabled"),
        "wfga:object_storage.cdn.certificate.enabled: required with type free: Alibaba issues the free certificate "
        "only once the domain's CNAME points at the CDN; deploy with enabled: false",
    ),
    (
        "enabled on a cas certificate",
        lambda v: sd(v, "api.example.cn")["certificate"].update(enabled=True),
        "wfga:service_domains[2] (api.example.cn).certificate.enabled: applies to type free only",
    ),
    (
        "storage cdn without certificate",
        lambda v: storage(v)["cdn"].pop("certificate"),
        "wfga:object_storage.cdn.certificate: web clients download media over HTTPS",
    ),
    (
        "acm certificate outside us-east-1",
        lambda v: sd(v, "app.example.com").update(
            acm_certificate_arn="arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
        ),
        "wfga:service_domains[1] (app.example.com).acm_certificate_arn: the certificate is in eu-west-1; "
        "CloudFront only uses ACM certificates from us-east-1",
    ),
    (
        "new acm certificate without a managed zone",
        lambda v: sd(v, "app.example.com").pop("zone"),
        "wfga:service_domains[1] (app.example.com).acm_certificate_arn: without a zone managed here wfga cannot "
        "validate a new ACM certificate",
    ),
    (
        "cloudfront to an ip",
        lambda v: sd(v, "app.example.com")["origin"].update(host="198.51.100.20"),
        "wfga:service_domains[1] (app.example.com).origin.host: CloudFront origins must be DNS names",
    ),
    (
        "domain outside its zone",
        lambda v: sd(v, "im.example.com").update(name="im.example.org"),
        "wfga:service_domains[0] (im.example.org): im.example.org is outside the zone example.com",
    ),
    (
        "zone not declared",
        lambda v: sd(v, "api.example.cn").update(zone="example.net"),
        "wfga:service_domains[2] (api.example.cn).zone: example.net is not in wfga:dns_zones",
    ),
    (
        "proxied record in an alibaba zone",
        lambda v: sd(v, "im.example.com").update(name="im2.example.cn", zone="example.cn"),
        "wfga:service_domains[0] (im2.example.cn).zone: a proxied record needs a cloudflare zone",
    ),
    (
        "zone forcing https",
        lambda v: v["wfga:dns_zones"][0].update(always_use_https=True),
        "wfga:dns_zones[0] (example.com).always_use_https: the zone redirects every HTTP request to HTTPS, but native "
        "clients call im.example.com with plain HTTP on port 80",
    ),
    (
        "cname at an alibaba apex",
        lambda v: storage(v)["buckets"][1].update(domain="example.cn"),
        "wfga:object_storage.buckets[1]: Alibaba DNS cannot put the CDN's CNAME at the zone apex example.cn",
    ),
    (
        "one host twice",
        lambda v: storage(v)["buckets"][0].update(domain="api.example.cn"),
        "the host api.example.cn is accelerated twice",
    ),
    (
        "cloudflare zone without id",
        lambda v: v["wfga:dns_zones"][0].pop("zone_id"),
        "wfga:dns_zones[0] (example.com).zone_id: a cloudflare zone needs its zone id",
    ),
    (
        "argo on alibaba dns",
        lambda v: v["wfga:dns_zones"][1].update(argo_smart_routing=True),
        "wfga:dns_zones[1] (example.cn).argo_smart_routing: applies to cloudflare zones only",
    ),
    (
        "oss without region",
        lambda v: storage(v).pop("region"),
        "wfga:object_storage.region: required for kind oss",
    ),
    (
        "qiniu without upload host",
        lambda v: storage(v).update(kind="qiniu", region=None, upload_acceleration=False),
        "wfga:object_storage.upload_host: required for kind qiniu",
    ),
    (
        "s3 behind cloudflare under another name",
        lambda v: storage(v).update(
            kind="s3",
            region="us-west-2",
            buckets=[
                {"name": "wfga-media", "kinds": "short-lived", "domain": "media.example.com"},
                {"name": "static.example.com", "kinds": "long-lived", "domain": "static.example.com"},
            ],
            upload_acceleration=False,
            cdn={"provider": "cloudflare", "zone": "example.com"},
        ),
        "wfga:object_storage.buckets[0].domain: S3 picks the bucket from the Host header",
    ),
    (
        "unknown storage kind",
        lambda v: storage(v).update(kind="cos"),
        "wfga:object_storage.kind: Input should be 'oss', 'qiniu', 'private' or 's3' (got 'cos')",
    ),
    (
        "two im roles",
        lambda v: sd(v, "app.example.com").update(role="im"),
        "wfga:service_domains: im.example.com, app.example.com all have role im, but there is one IM domain: the "
        "pro licence is issued for one domain and clients may only use that domain (or an IP) as IM host",
    ),
    (
        "no im role",
        lambda v: sd(v, "im.example.com").update(role="api"),
        "wfga:service_domains: none has role im; mark the licensed IM domain",
    ),
    (
        "role missing",
        lambda v: sd(v, "im.example.com").pop("role"),
        "wfga:service_domains[0] (im.example.com).role: required key is missing",
    ),
    (
        "wfga's own upload role",
        lambda v: sd(v, "app.example.com").update(role="upload"),
        "wfga:service_domains[1] (app.example.com).role: upload is wfga's own role",
    ),
    (
        "api on cloudflare at a port it cannot proxy",
        lambda v: (
            sd(v, "im.example.com").update(role="api", origin={"host": "198.51.100.20", "port": 8888})
            or sd(v, "app.example.com").update(role="im")
        ),
        "wfga:service_domains[0] (im.example.com).origin.port: Cloudflare cannot proxy port 8888",
    ),
    (
        "api on cloudflare with a scheme its port does not serve",
        lambda v: (
            sd(v, "im.example.com").update(
                role="api", origin={"host": "o.example.net", "scheme": "https", "port": 8080}
            )
            or sd(v, "app.example.com").update(role="im")
        ),
        "wfga:service_domains[0] (im.example.com).origin: Cloudflare serves https on 443, 2053",
    ),
    (
        "one bucket for everything",
        lambda v: storage(v).update(
            buckets=[{"name": "wfga-media", "kinds": list(MEDIA_KINDS), "domain": "media.example.cn"}]
        ),
        "wfga:object_storage.buckets[0].kinds: wfga-media holds short-lived and long-lived media (general, image, "
        "voice, video, file, sticker, moments, portrait, favorite); WildFire (docs md/server/oss.md) asks for "
        "separate buckets",
    ),
    (
        "a kind without a bucket",
        lambda v: storage(v)["buckets"].pop(),
        "wfga:object_storage.buckets: no bucket serves moments, portrait, favorite; every kind needs one",
    ),
    (
        "a kind in two buckets",
        lambda v: storage(v)["buckets"][1].update(kinds=["image", "moments", "portrait", "favorite"]),
        "wfga:object_storage.buckets[1].kinds: image is already served by bucket wfga-media",
    ),
    (
        "two buckets on one host",
        lambda v: storage(v)["buckets"][1].update(domain="media.example.cn"),
        "wfga:object_storage.buckets: the domain media.example.cn serves two buckets",
    ),
    (
        "oss bucket name with a dot",
        lambda v: storage(v)["buckets"][0].update(name="wfga.media"),
        "wfga:object_storage.buckets[0].name: 'wfga.media' is not a oss bucket name",
    ),
    (
        "s3 acceleration with a dotted bucket",
        lambda v: (
            storage(v).update(kind="s3", region="us-west-2", cdn={"provider": "cloudfront", "zone": "example.cn"})
            or storage(v)["buckets"][0].update(name="media.example.cn")
        ),
        "wfga:object_storage.buckets[0].name: S3 Transfer Acceleration needs a bucket name without periods",
    ),
    (
        "qiniu acceleration",
        qiniu,
        "wfga:object_storage.upload_acceleration: wfga has no Qiniu provider to turn it on",
    ),
    (
        "qiniu bucket without its domain",
        lambda v: storage(v).update(kind="qiniu", region=None, upload_host="up.qbox.me", upload_acceleration=False),
        "wfga:object_storage.buckets[0].origin: required for qiniu (the bucket's Qiniu domain)",
    ),
    (
        "cdn.domain on a cloud bucket",
        lambda v: storage(v)["cdn"].update(domain="media.example.cn"),
        "wfga:object_storage.cdn.domain: each bucket has its own download host",
    ),
    (
        "cors on a qiniu store",
        lambda v: qiniu(v, upload_acceleration=False, cors_origins=["*"]),
        "wfga:object_storage.cors_origins: wfga sets bucket CORS on oss and s3 only",
    ),
    (
        "private store over https",
        lambda v: v.update(
            {"wfga:object_storage": private_store(origin={"host": "minio.example.cn", "scheme": "https"})}
        ),
        "wfga:object_storage.origin.scheme: native clients upload to the private store with plain HTTP PUT",
    ),
    (
        "private store without its download host",
        lambda v: v.update(
            {
                "wfga:object_storage": private_store(
                    cdn={
                        "provider": "alicloud-cdn",
                        "zone": "example.cn",
                        "certificate": {"type": "free", "enabled": True},
                    }
                )
            }
        ),
        "wfga:object_storage.cdn.domain: the private store's buckets are paths of one download host",
    ),
    (
        "private acceleration without a front",
        lambda v: v.update({"wfga:object_storage": private_store(upload_acceleration=True)}),
        "wfga:object_storage.upload: a private store's uploads are accelerated by a dynamic-acceleration front",
    ),
    (
        "private upload front on dcdn at the store's own port",
        lambda v: v.update(
            {
                "wfga:object_storage": private_store(
                    upload_acceleration=True,
                    upload={
                        "name": "upload.example.cn",
                        "provider": "alicloud-dcdn",
                        "zone": "example.cn",
                        "certificate": {"type": "cas", "id": "1"},
                    },
                )
            }
        ),
        "wfga:object_storage.upload.origin.port: DCDN fetches http origins on port 80 only (got 9000)",
    ),
    (
        "upload front without acceleration",
        lambda v: v.update(
            {"wfga:object_storage": private_store(upload={"name": "upload.example.cn", "provider": "cloudfront"})}
        ),
        "wfga:object_storage.upload: only a private store with upload_acceleration: true takes an upload front",
    ),
    (
        "misspelt key",
        lambda v: sd(v, "im.example.com").update(orgin={"host": "x.example.com"}),
        "wfga:service_domains[0] (im.example.com).orgin: unknown key",
    ),
    (
        "no token",
        lambda v: v.pop("wfga:cloudflare_api_token"),
        "wfga:cloudflare_api_token: required to manage the cloudflare zones; run `pulumi config set --secret "
        "cloudflare_api_token <token>`",
    ),
]


@pytest.mark.parametrize(("case", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_mistake_is_reported_with_its_key_path_and_fix(case, mutate, expected):
    values = edge_demo()
    mutate(values)
    assert expected in problems(values)


def test_a_plain_text_token_is_rejected_without_echoing_it():
    values = edge_demo()
    values["wfga:cloudflare_api_token"] = "cf-plain-token-123"
    message = problems(values, secret=frozenset())
    assert "wfga:cloudflare_api_token: stored as plain text; remove it from the stack file" in message
    assert "cf-plain-token-123" not in message


def test_all_problems_are_reported_at_once():
    values = edge_demo()
    sd(values, "im.example.com").update(name="im.example.org")
    sd(values, "api.example.cn").update(zone="example.net")
    message = problems(values)
    assert "im.example.org is outside the zone example.com" in message
    assert "example.net is not in wfga:dns_zones" in message


def test_origin_port_defaults_follow_the_scheme():
    values = edge_demo()
    sd(values, "app.example.com")["origin"] = {"host": "origin.example.com", "scheme": "https"}
    sd(values, "api.example.cn")["origin"] = {"host": "198.51.100.20"}
    cfg = parse_edge_config(values, SECRET)
    assert [d.origin.port for d in cfg.service_domains] == [80, 443, 80]


def test_a_shared_bucket_is_accepted_when_asked_for():
    values = edge_demo()
    storage(values).update(
        shared_bucket=True,
        buckets=[{"name": "wfga-media", "kinds": list(MEDIA_KINDS), "domain": "media.example.cn"}],
    )
    cfg = parse_edge_config(values, SECRET)
    assert cfg.object_storage is not None
    assert {cfg.object_storage.bucket_of(kind).name for kind in MEDIA_KINDS} == {"wfga-media"}


def test_an_api_domain_on_cloudflare_may_use_https_on_443_and_leaves_the_zone_alone():
    values = edge_demo()
    sd(values, "im.example.com").update(role="api", origin={"host": "o.example.net", "scheme": "https", "port": 443})
    sd(values, "app.example.com").update(role="im")
    values["wfga:dns_zones"][0]["always_use_https"] = True
    # The zone may keep redirecting to HTTPS: no host in it is called with plain HTTP any more.
    cfg = parse_edge_config(values, SECRET)
    assert cfg.plain_http_hosts() == {}


def test_the_private_stores_upload_front_is_a_plain_http_host_in_its_zone():
    values = edge_demo()
    values["wfga:object_storage"] = private_store(
        origin={"host": "minio.example.com", "port": 80},
        upload_acceleration=True,
        upload={"name": "upload.example.com", "provider": "cloudfront", "zone": "example.com"},
    )
    values["wfga:object_storage"]["cdn"] = {
        "provider": "cloudflare",
        "domain": "media.example.com",
        "zone": "example.com",
    }
    cfg = parse_edge_config(values, SECRET)
    hosts = {h.name: h for h in cfg.hosts()}
    assert hosts["upload.example.com"].plain_http and not hosts["media.example.com"].plain_http
    values["wfga:dns_zones"][0]["always_use_https"] = True
    assert "native clients call im.example.com" in problems(values)
