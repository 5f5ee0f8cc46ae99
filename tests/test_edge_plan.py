"""The pure edge plans: argument values, DNS names and the im-server media lines."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import stack_values
from wfga.model.edge import DnsZone, EdgeConfig, ObjectStorage, ServiceDomain, parse_edge_config
from wfga.plan.edge import (
    ALL_VIEWER_EXCEPT_HOST_POLICY,
    ALL_VIEWER_POLICY,
    CACHING_DISABLED_POLICY,
    CACHING_OPTIMIZED_POLICY,
    MEDIA_TTL_S,
    CorsRule,
    alicloud_cdn_plan,
    bucket_settings,
    cloudflare_service_plan,
    cloudflare_storage_plan,
    cloudflare_zone_plans,
    cloudfront_service_plan,
    cloudfront_storage_plan,
    dcdn_plan,
    dns_record,
    record_name,
    storage_hosts,
    upload_endpoint,
)

CLOUDFLARE = DnsZone(name="example.com", provider="cloudflare", zone_id="0" * 32)
ALIDNS = DnsZone(name="example.cn", provider="alidns")


def service(**fields: Any) -> ServiceDomain:
    return ServiceDomain.model_validate({"role": "im", **fields})


def store(**fields: Any) -> ObjectStorage:
    return ObjectStorage.model_validate(fields)


def two_buckets(short: str = "bk1", long: str = "bk2", zone: str = "example.com") -> list[dict[str, Any]]:
    return [
        {"name": short, "kinds": "short-lived", "domain": f"m.{zone}"},
        {"name": long, "kinds": "long-lived", "domain": f"s.{zone}"},
    ]


@pytest.mark.parametrize(
    ("zone", "fqdn", "expected"),
    [
        (CLOUDFLARE, "im.example.com", "im.example.com"),
        (CLOUDFLARE, "_abc.im.example.com.", "_abc.im.example.com"),
        (ALIDNS, "im.example.cn", "im"),
        (ALIDNS, "_abc.media.example.cn.", "_abc.media"),
        (ALIDNS, "example.cn", "@"),
    ],
)
def test_record_names_as_each_dns_api_wants_them(zone, fqdn, expected):
    assert record_name(zone, fqdn) == expected


def test_records_go_in_managed_zones_only_with_the_zones_ttl():
    assert dns_record(None, "im.example.com") is None
    cloudflare = dns_record(CLOUDFLARE, "im.example.com")
    alidns = dns_record(ALIDNS, "im.example.cn")
    assert cloudflare is not None and (cloudflare.name, cloudflare.ttl) == ("im.example.com", 1)
    assert alidns is not None and (alidns.name, alidns.ttl) == ("im", 600)


def test_every_service_domain_plan_caches_nothing():
    cloudflare = cloudflare_service_plan(
        service(name="im.example.com", provider="cloudflare", zone="example.com", origin={"host": "im.example.net"})
    )
    assert (cloudflare.record_type, cloudflare.content, cloudflare.cache) == ("CNAME", "im.example.net", False)
    assert cloudflare.edge_ttl_s is None
    assert cloudflare.expression == '(http.host eq "im.example.com")'
    dcdn = dcdn_plan(
        service(
            name="im.example.cn",
            provider="alicloud-dcdn",
            origin={"host": "2001:db8::1"},
            certificate={"type": "cas", "id": "1"},
        )
    )
    assert (dcdn.scope, dcdn.scene, dcdn.source.type) == ("global", "apiscene", "ipaddr")
    ttls = [dict(f.args)["ttl"] for f in dcdn.functions if f.name == "path_based_ttl_set"]
    assert ttls == ["0"]
    cloudfront = cloudfront_service_plan(
        service(name="app.example.com", role="api", provider="cloudfront", origin={"host": "o.example.com"})
    )
    assert cloudfront.cache_policy_id == CACHING_DISABLED_POLICY
    assert (cloudfront.viewer_protocol_policy, cloudfront.price_class) == ("allow-all", "PriceClass_All")


def test_cloudfront_keeps_the_origins_host_header_when_it_fetches_over_https():
    def policy(scheme: str) -> str | None:
        sd = service(
            name="app.example.com",
            role="api",
            provider="cloudfront",
            origin={"host": "o.example.com", "scheme": scheme},
        )
        return cloudfront_service_plan(sd).origin_request_policy_id

    assert policy("http") == ALL_VIEWER_POLICY
    assert policy("https") == ALL_VIEWER_EXCEPT_HOST_POLICY


def test_ipv6_origin_behind_cloudflare_is_an_aaaa_record():
    plan = cloudflare_service_plan(
        service(name="im.example.com", provider="cloudflare", zone="example.com", origin={"host": "2001:db8::7"})
    )
    assert (plan.record_type, plan.content) == ("AAAA", "2001:db8::7")


def test_an_api_domain_may_fetch_over_https_behind_cloudflare():
    api = service(
        name="app.example.com",
        role="api",
        provider="cloudflare",
        zone="example.com",
        origin={"host": "app.example.net", "scheme": "https"},
    )
    assert cloudflare_service_plan(api).ssl == "full"
    assert not api.plain_http
    with pytest.raises(ValueError, match="native clients call plain HTTP on 80"):
        service(
            name="im.example.com",
            provider="cloudflare",
            zone="example.com",
            origin={"host": "im.example.net", "scheme": "https"},
        )


def test_storage_plans_cache_each_bucket_and_reach_it_by_its_own_name():
    oss = store(
        kind="oss",
        region="ap-southeast-1",
        buckets=two_buckets(zone="example.cn"),
        cdn={"provider": "alicloud-cdn", "certificate": {"type": "free", "enabled": True}},
    )
    hosts = storage_hosts(oss)
    assert [(h.key, h.domain, h.origin.host) for h in hosts] == [
        ("bk1", "m.example.cn", "bk1.oss-ap-southeast-1.aliyuncs.com"),
        ("bk2", "s.example.cn", "bk2.oss-ap-southeast-1.aliyuncs.com"),
    ]
    cdn = alicloud_cdn_plan(oss, hosts[1])
    assert (cdn.domain, cdn.source.type, cdn.source.content, cdn.source.port) == (
        "s.example.cn",
        "oss",
        "bk2.oss-ap-southeast-1.aliyuncs.com",
        443,
    )
    assert [f.name for f in cdn.functions] == ["path_based_ttl_set"]
    assert (cdn.cert_type, cdn.cert_id, cdn.cert_region) == ("free", None, None)
    s3 = store(kind="s3", region="eu-west-1", buckets=two_buckets(), cdn={"provider": "cloudfront"})
    front = cloudfront_storage_plan(s3, storage_hosts(s3)[0])
    assert (front.domain, front.s3_origin, front.origin_domain) == (
        "m.example.com",
        True,
        "bk1.s3.eu-west-1.amazonaws.com",
    )
    assert (front.cache_policy_id, front.origin_request_policy_id) == (CACHING_OPTIMIZED_POLICY, None)
    # Downloads only: nobody uploads through the caching CDN any more.
    assert front.allowed_methods == ("GET", "HEAD", "OPTIONS")
    private = store(
        kind="private",
        origin={"host": "minio.example.com"},
        buckets=[{"name": "media", "kinds": "short-lived"}, {"name": "static", "kinds": "long-lived"}],
        cdn={"provider": "cloudfront", "domain": "m.example.com"},
    )
    (one_host,) = storage_hosts(private)
    assert (one_host.key, one_host.domain, one_host.buckets) == ("store", "m.example.com", ("media", "static"))
    assert cloudfront_storage_plan(private, one_host).origin_request_policy_id is None
    oss_on_cloudflare = store(
        kind="oss",
        region="cn-hangzhou",
        buckets=two_buckets(),
        cdn={"provider": "cloudflare", "zone": "example.com"},
    )
    flare = cloudflare_storage_plan(storage_hosts(oss_on_cloudflare)[0])
    assert (flare.name, flare.record_type, flare.content, flare.cache, flare.edge_ttl_s, flare.ssl) == (
        "m.example.com",
        "CNAME",
        "bk1.oss-cn-hangzhou.aliyuncs.com",
        True,
        MEDIA_TTL_S,
        "full",
    )


@pytest.mark.parametrize(
    ("storage", "endpoint"),
    [
        ({"kind": "oss", "region": "cn-beijing"}, ("oss-cn-beijing.aliyuncs.com", 80, 443)),
        (
            {"kind": "oss", "region": "cn-beijing", "upload_acceleration": True},
            ("oss-accelerate.aliyuncs.com", 80, 443),
        ),
        ({"kind": "s3", "region": "us-west-2"}, ("s3.us-west-2.amazonaws.com", 80, 443)),
        ({"kind": "s3", "region": "us-west-2", "upload_acceleration": True}, ("s3-accelerate.amazonaws.com", 80, 443)),
    ],
)
def test_uploads_go_to_the_buckets_endpoint_or_its_accelerate_endpoint(storage, endpoint):
    cfg = store(**storage, buckets=two_buckets(), cdn={"provider": "cloudfront"})
    got = upload_endpoint(cfg)
    assert (got.host, got.port, got.ssl_port) == endpoint
    settings = bucket_settings(cfg)
    assert [(s.bucket, s.accelerate) for s in settings] == [
        ("bk1", storage.get("upload_acceleration", False)),
        ("bk2", storage.get("upload_acceleration", False)),
    ]
    assert {s.cors for s in settings} == {CorsRule(allowed_origins=("*",))}


def test_private_uploads_go_to_the_store_itself_or_its_dynamic_front_never_the_cdn():
    base: dict[str, Any] = {
        "kind": "private",
        "origin": {"host": "minio.example.com", "port": 9000},
        "buckets": [{"name": "media", "kinds": "short-lived"}, {"name": "static", "kinds": "long-lived"}],
        "cdn": {"provider": "cloudfront", "domain": "m.example.com", "zone": "example.com"},
    }
    plain = upload_endpoint(store(**base))
    assert (plain.host, plain.port, plain.ssl_port) == ("minio.example.com", 9000, 0)
    with_tls = upload_endpoint(store(**base, ssl_port=9443))
    assert (with_tls.port, with_tls.ssl_port) == (9000, 9443)
    base["origin"] = {"host": "minio.example.com", "port": 8080}
    fast = store(
        **base,
        upload_acceleration=True,
        upload={"name": "up.example.com", "provider": "cloudfront", "zone": "example.com"},
    )
    front = fast.upload_front
    assert front is not None
    assert (front.role, front.plain_http, front.origin.host, front.origin.port) == (
        "upload",
        True,
        "minio.example.com",
        8080,
    )
    plan = cloudfront_service_plan(front)
    assert (plan.cache_policy_id, plan.viewer_protocol_policy) == (CACHING_DISABLED_POLICY, "allow-all")
    assert "PUT" in plan.allowed_methods
    got = upload_endpoint(fast)
    assert (got.host, got.port, got.ssl_port) == ("up.example.com", 80, 443)
    assert bucket_settings(fast) == []  # nothing to set on the store through a cloud API


def test_cors_can_be_narrowed_or_left_alone():
    narrowed = store(
        kind="oss",
        region="cn-beijing",
        buckets=two_buckets(),
        cors_origins=["https://web.example.com"],
        cdn={"provider": "cloudfront"},
    )
    assert {s.cors.allowed_origins for s in bucket_settings(narrowed) if s.cors} == {("https://web.example.com",)}
    untouched = store(
        kind="oss", region="cn-beijing", buckets=two_buckets(), cors_origins=[], cdn={"provider": "cloudfront"}
    )
    assert bucket_settings(untouched) == []


def test_zone_settings_only_where_argo_is_asked_or_native_clients_call_plain_http():
    values = stack_values("edge-demo")
    secret = frozenset({"wfga:cloudflare_api_token"})
    (plan,) = cloudflare_zone_plans(parse_edge_config(values, secret))
    assert (plan.zone.name, plan.argo, plan.always_use_https_off, plan.plain_http_hosts) == (
        "example.com",
        True,
        True,
        ("im.example.com",),
    )
    assert [h.name for h in plan.hosts] == ["im.example.com"]
    values["wfga:dns_zones"][0]["argo_smart_routing"] = False
    # An API domain on Cloudflare takes no port-80 rule: the zone keeps its Always Use HTTPS, and
    # its one plan only carries the proxied host's rules.
    im, api = values["wfga:service_domains"][0], values["wfga:service_domains"][2]
    im.update(role="api")
    api.update(role="im")
    (plan,) = cloudflare_zone_plans(parse_edge_config(values, secret))
    assert (plan.argo, plan.always_use_https_off, [h.name for h in plan.hosts]) == (False, False, ["im.example.com"])
    assert cloudflare_zone_plans(EdgeConfig()) == []


def test_one_plan_per_cloudflare_zone_holds_every_proxied_host_sorted_by_name():
    values = stack_values("edge-demo")
    values["wfga:dns_zones"][0]["argo_smart_routing"] = False
    first = values["wfga:service_domains"][0]
    values["wfga:service_domains"].append(
        {**first, "name": "a-api.example.com", "role": "api", "origin": {"host": "198.51.100.21", "scheme": "https"}}
    )
    storage = values["wfga:object_storage"]
    storage["cdn"] = {"provider": "cloudflare", "zone": "example.com"}
    for i, bucket in enumerate(storage["buckets"]):
        bucket["domain"] = f"m{i}.example.com"
    (plan,) = cloudflare_zone_plans(parse_edge_config(values, frozenset({"wfga:cloudflare_api_token"})))
    names = [h.name for h in plan.hosts]
    assert names == sorted(names) == ["a-api.example.com", "im.example.com", "m0.example.com", "m1.example.com"]
    by_name = {h.name: h for h in plan.hosts}
    assert (by_name["a-api.example.com"].cache, by_name["a-api.example.com"].ssl) == (False, "full")
    assert (by_name["m0.example.com"].cache, by_name["m0.example.com"].edge_ttl_s) == (True, MEDIA_TTL_S)
    assert len({h.ref for h in plan.hosts}) == 4
