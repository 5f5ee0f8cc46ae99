"""Edge configuration: every mistake is named by its key path, with the reason and the fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import stack_values
from wfga.model.config import EDGE_KEYS, ConfigError, parse_stack_config
from wfga.model.edge import CLOUDFLARE_HTTP_PORTS, CLOUDFLARE_HTTPS_PORTS, EdgeConfig, parse_edge_config

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
    assert [d.provider for d in cfg.service_domains] == ["cloudflare", "cloudfront", "alicloud-dcdn"]
    assert cfg.object_storage is not None and cfg.object_storage.kind == "oss"
    assert "not-a-real-token" not in repr(cfg)


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
        lambda v: sd(v, "im.example.cn")["origin"].update(port=8080),
        "wfga:service_domains[2] (im.example.cn).origin.port: DCDN fetches http origins on port 80 only (got 8080)",
    ),
    (
        "domestic scope",
        lambda v: sd(v, "im.example.cn").update(scope="domestic"),
        "wfga:service_domains[2] (im.example.cn).scope: domestic serves mainland China only; global access needs",
    ),
    (
        "scope on cloudfront",
        lambda v: sd(v, "license.example.com").update(scope="global"),
        "wfga:service_domains[1] (license.example.com).scope: applies to alicloud-dcdn and alicloud-cdn only",
    ),
    (
        "dcdn without certificate",
        lambda v: sd(v, "im.example.cn").pop("certificate"),
        "wfga:service_domains[2] (im.example.cn).certificate: web clients call HTTPS on 443, which needs a certificate",
    ),
    (
        "cas certificate without id",
        lambda v: sd(v, "im.example.cn")["certificate"].pop("id"),
        "wfga:service_domains[2] (im.example.cn).certificate.id: a cas certificate needs the id",
    ),
    (
        "free certificate on dcdn",
        lambda v: sd(v, "im.example.cn").update(certificate={"type": "free"}),
        "wfga:service_domains[2] (im.example.cn).certificate.type: DCDN takes certificates from Certificate "
        "Management Service",
    ),
    (
        "storage cdn without certificate",
        lambda v: storage(v)["cdn"].pop("certificate"),
        "wfga:object_storage.cdn.certificate: web clients download media over HTTPS",
    ),
    (
        "acm certificate outside us-east-1",
        lambda v: sd(v, "license.example.com").update(
            acm_certificate_arn="arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
        ),
        "wfga:service_domains[1] (license.example.com).acm_certificate_arn: the certificate is in eu-west-1; "
        "CloudFront only uses ACM certificates from us-east-1",
    ),
    (
        "new acm certificate without a managed zone",
        lambda v: sd(v, "license.example.com").pop("zone"),
        "wfga:service_domains[1] (license.example.com).acm_certificate_arn: without a zone managed here wfga cannot "
        "validate a new ACM certificate",
    ),
    (
        "cloudfront to an ip",
        lambda v: sd(v, "license.example.com")["origin"].update(host="198.51.100.20"),
        "wfga:service_domains[1] (license.example.com).origin.host: CloudFront origins must be DNS names",
    ),
    (
        "domain outside its zone",
        lambda v: sd(v, "im.example.com").update(name="im.example.org"),
        "wfga:service_domains[0] (im.example.org): im.example.org is outside the zone example.com",
    ),
    (
        "zone not declared",
        lambda v: sd(v, "im.example.cn").update(zone="example.net"),
        "wfga:service_domains[2] (im.example.cn).zone: example.net is not in wfga:dns_zones",
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
        lambda v: storage(v)["cdn"].update(domain="example.cn"),
        "wfga:object_storage.cdn: Alibaba DNS cannot put the CDN's CNAME at the zone apex example.cn",
    ),
    (
        "one host twice",
        lambda v: storage(v)["cdn"].update(domain="im.example.cn"),
        "the host im.example.cn is accelerated twice",
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
        lambda v: storage(v).update(kind="qiniu", region=None, origin={"host": "wfga.qiniu.example.net"}),
        "wfga:object_storage.upload_host: required for kind qiniu",
    ),
    (
        "s3 behind cloudflare under another name",
        lambda v: storage(v).update(
            kind="s3",
            region="us-west-2",
            cdn={"provider": "cloudflare", "domain": "media.example.com", "zone": "example.com"},
        ),
        "wfga:object_storage.cdn.domain: S3 picks the bucket from the Host header",
    ),
    (
        "unknown storage kind",
        lambda v: storage(v).update(kind="cos"),
        "wfga:object_storage.kind: Input should be 'oss', 'qiniu', 'private' or 's3' (got 'cos')",
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
    sd(values, "im.example.cn").update(zone="example.net")
    message = problems(values)
    assert "im.example.org is outside the zone example.com" in message
    assert "example.net is not in wfga:dns_zones" in message


def test_origin_port_defaults_follow_the_scheme():
    values = edge_demo()
    sd(values, "license.example.com")["origin"] = {"host": "origin.example.com", "scheme": "https"}
    sd(values, "im.example.cn")["origin"] = {"host": "198.51.100.20"}
    cfg = parse_edge_config(values, SECRET)
    assert [d.origin.port for d in cfg.service_domains] == [80, 443, 80]
