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
    MEDIA_BUCKET_KINDS,
    alicloud_cdn_plan,
    cloudflare_service_plan,
    cloudflare_storage_plan,
    cloudflare_zone_plans,
    cloudfront_service_plan,
    cloudfront_storage_plan,
    dcdn_plan,
    dns_record,
    media_config_lines,
    record_name,
)

CLOUDFLARE = DnsZone(name="example.com", provider="cloudflare", zone_id="0" * 32)
ALIDNS = DnsZone(name="example.cn", provider="alidns")


def service(**fields: Any) -> ServiceDomain:
    return ServiceDomain.model_validate(fields)


def store(**fields: Any) -> ObjectStorage:
    return ObjectStorage.model_validate(fields)


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
    assert (cloudflare.record_type, cloudflare.content, cloudflare.cache_level) == ("CNAME", "im.example.net", "bypass")
    assert cloudflare.edge_cache_ttl is None
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
        service(name="license.example.com", provider="cloudfront", origin={"host": "o.example.com"})
    )
    assert cloudfront.cache_policy_id == CACHING_DISABLED_POLICY
    assert (cloudfront.viewer_protocol_policy, cloudfront.price_class) == ("allow-all", "PriceClass_All")


def test_cloudfront_keeps_the_origins_host_header_when_it_fetches_over_https():
    def policy(scheme: str) -> str | None:
        sd = service(
            name="license.example.com", provider="cloudfront", origin={"host": "o.example.com", "scheme": scheme}
        )
        return cloudfront_service_plan(sd).origin_request_policy_id

    assert policy("http") == ALL_VIEWER_POLICY
    assert policy("https") == ALL_VIEWER_EXCEPT_HOST_POLICY


def test_ipv6_origin_behind_cloudflare_is_an_aaaa_record():
    plan = cloudflare_service_plan(
        service(name="im.example.com", provider="cloudflare", zone="example.com", origin={"host": "2001:db8::7"})
    )
    assert (plan.record_type, plan.content) == ("AAAA", "2001:db8::7")


def test_storage_plans_cache_and_reach_the_bucket_by_its_own_name():
    oss = store(
        kind="oss",
        bucket="bk1",
        region="ap-southeast-1",
        cdn={"provider": "alicloud-cdn", "domain": "m.example.cn", "certificate": {"type": "free"}},
    )
    cdn = alicloud_cdn_plan(oss)
    assert (cdn.source.type, cdn.source.content, cdn.source.port) == ("oss", "bk1.oss-ap-southeast-1.aliyuncs.com", 443)
    assert [f.name for f in cdn.functions] == ["path_based_ttl_set"]
    assert (cdn.cert_type, cdn.cert_id, cdn.cert_region) == ("free", None, None)
    s3 = store(kind="s3", bucket="bk2", region="eu-west-1", cdn={"provider": "cloudfront", "domain": "m.example.com"})
    front = cloudfront_storage_plan(s3)
    assert (front.s3_origin, front.origin_domain) == (True, "bk2.s3.eu-west-1.amazonaws.com")
    assert (front.cache_policy_id, front.origin_request_policy_id) == (CACHING_OPTIMIZED_POLICY, None)
    private = store(
        kind="private",
        bucket="media",
        origin={"host": "minio.example.com"},
        cdn={"provider": "cloudfront", "domain": "m.example.com"},
    )
    # Private-store uploads carry the user's credentials in headers, which must reach the store.
    assert cloudfront_storage_plan(private).origin_request_policy_id == ALL_VIEWER_EXCEPT_HOST_POLICY
    oss_on_cloudflare = store(
        kind="oss",
        bucket="bk1",
        region="cn-hangzhou",
        cdn={"provider": "cloudflare", "domain": "m.example.com", "zone": "example.com"},
    )
    flare = cloudflare_storage_plan(oss_on_cloudflare)
    assert (flare.record_type, flare.content, flare.cache_level, flare.ssl) == (
        "CNAME",
        "bk1.oss-cn-hangzhou.aliyuncs.com",
        "cache_everything",
        "full",
    )


@pytest.mark.parametrize(
    ("storage", "media_type", "server_host", "domain"),
    [
        (
            {"kind": "oss", "bucket": "bk1", "region": "cn-beijing"},
            2,
            "oss-cn-beijing.aliyuncs.com",
            "https://m.example.com",
        ),
        (
            {
                "kind": "qiniu",
                "bucket": "bk1",
                "origin": {"host": "bk1.qiniu.example.net"},
                "upload_host": "up.qbox.me",
            },
            1,
            "up.qbox.me",
            "https://m.example.com",
        ),
        (
            {"kind": "private", "bucket": "media", "origin": {"host": "minio.example.com"}},
            3,
            "m.example.com",
            "https://m.example.com/media",
        ),
        (
            {"kind": "s3", "bucket": "bk1", "region": "us-west-2"},
            7,
            "s3.us-west-2.amazonaws.com",
            "https://m.example.com",
        ),
    ],
)
def test_media_lines_for_each_kind_of_storage(storage, media_type, server_host, domain):
    lines = media_config_lines(store(**storage, cdn={"provider": "cloudfront", "domain": "m.example.com"}))
    assert lines[:4] == [
        f"media.server.media_type {media_type}",
        f"media.server_host {server_host}",
        "media.server_port 80",
        "media.server_ssl_port 443",
    ]
    bucket = storage["bucket"]
    assert lines[4:] == [
        line
        for kind in MEDIA_BUCKET_KINDS
        for line in (f"media.bucket_{kind}_name {bucket}", f"media.bucket_{kind}_domain {domain}")
    ]


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
    values["wfga:dns_zones"][0]["argo_smart_routing"] = False
    values["wfga:service_domains"] = [d for d in values["wfga:service_domains"] if d["provider"] != "cloudflare"]
    assert cloudflare_zone_plans(parse_edge_config(values, secret)) == []
    assert cloudflare_zone_plans(EdgeConfig()) == []
