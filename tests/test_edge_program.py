"""Service domains and object storage under the mocks: resources, wiring, caching, DNS and outputs."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from tests.conftest import PROJECT, stack_plan, stack_values
from wfga.model.edge import LONG_LIVED
from wfga.offline.engine import Plan, ResourceRecord, execute_program, run_program
from wfga.offline.stackfile import StackValues
from wfga.ops import diff
from wfga.plan.edge import (
    ALL_METHODS,
    ALL_VIEWER_POLICY,
    CACHING_DISABLED_POLICY,
    CACHING_OPTIMIZED_POLICY,
    MEDIA_BUCKET_KINDS,
    MEDIA_TTL_S,
)

T_CF_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
T_CF_RULESET = "cloudflare:index/ruleset:Ruleset"
T_CF_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
T_CF_ARGO = "cloudflare:index/argoSmartRouting:ArgoSmartRouting"
T_DCDN = "alicloud:dcdn/domain:Domain"
T_DCDN_CONFIG = "alicloud:dcdn/domainConfig:DomainConfig"
T_CDN = "alicloud:cdn/domainNew:DomainNew"
T_CDN_CONFIG = "alicloud:cdn/domainConfig:DomainConfig"
T_ALIDNS = "alicloud:dns/alidnsRecord:AlidnsRecord"
T_ACM = "aws:acm/certificate:Certificate"
T_ACM_VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
T_DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
T_OSS_ACCELERATION = "alicloud:oss/bucketTransferAcceleration:BucketTransferAcceleration"
T_OSS_CORS = "alicloud:oss/bucketCors:BucketCors"
T_S3_ACCELERATION = "aws:s3/bucketAccelerateConfiguration:BucketAccelerateConfiguration"
T_S3_CORS = "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration"
T_SERVICE_DOMAIN = "wfga:service_domain:ServiceDomain"
T_ZONE = "wfga:service_domain_zone:ServiceDomainZone"
T_STORAGE = "wfga:object_storage:ObjectStorage"
EDGE_TYPES = {
    T_CF_RECORD,
    T_CF_RULESET,
    T_CF_SETTING,
    T_CF_ARGO,
    T_DCDN,
    T_DCDN_CONFIG,
    T_CDN,
    T_CDN_CONFIG,
    T_ALIDNS,
    T_ACM,
    T_ACM_VALIDATION,
    T_DISTRIBUTION,
    T_OSS_ACCELERATION,
    T_OSS_CORS,
    T_S3_ACCELERATION,
    T_S3_CORS,
}
SECRET = frozenset({"wfga:cloudflare_api_token"})
GIVEN_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"


def one(plan: Plan, type_: str, name: str) -> ResourceRecord:
    found = [r for r in plan.of_type(type_) if r.name == name]
    assert len(found) == 1, f"expected one {type_} {name}, found {len(found)}"
    return found[0]


def functions(plan: Plan, type_: str, domain: str) -> dict[str, dict[str, str]]:
    """The DomainConfigs of one DCDN/CDN domain: function name -> {arg: value}."""
    return {
        r.inputs["functionName"]: {a["argName"]: a["argValue"] for a in r.inputs["functionArgs"]}
        for r in plan.of_type(type_)
        if r.inputs["domainName"] == domain
    }


def provider_urn(plan: Plan, package: str) -> str:
    (provider,) = [r for r in plan.resources if r.type == f"pulumi:providers:{package}"]
    return provider.urn


def plan_edge(values: dict[str, Any]) -> Plan:
    return run_program(StackValues(stack="edge-test", values=values, secret_keys=SECRET), PROJECT)


@pytest.fixture(scope="module")
def demo() -> Plan:
    return stack_plan("edge-demo")


@pytest.fixture(scope="module")
def variant() -> Plan:
    """Overseas DCDN over HTTPS, CloudFront with the operator's certificate and DNS, private store on Cloudflare."""
    values = stack_values("edge-demo")
    values["wfga:dns_zones"][0]["argo_smart_routing"] = False
    values["wfga:service_domains"] = [
        {
            "name": "im.example.cn",
            "role": "im",
            "provider": "alicloud-dcdn",
            "zone": "example.cn",
            "origin": {"host": "origin.example.cn", "scheme": "https"},
            "scope": "overseas",
            "certificate": {"type": "cas", "id": "777", "region": "ap-southeast-1"},
        },
        {
            "name": "license.example.org",
            "role": "api",
            "provider": "cloudfront",
            "origin": {"host": "origin.example.org", "scheme": "https", "port": 8443},
            "acm_certificate_arn": GIVEN_ARN,
        },
    ]
    values["wfga:object_storage"] = {
        "kind": "private",
        "origin": {"host": "minio.example.com"},
        "ssl_port": 443,
        "buckets": [{"name": "media", "kinds": "short-lived"}, {"name": "static", "kinds": "long-lived"}],
        "upload_acceleration": True,
        "upload": {"name": "upload.example.com", "provider": "cloudfront", "zone": "example.com"},
        "cdn": {"provider": "cloudflare", "domain": "media.example.com", "zone": "example.com"},
    }
    return plan_edge(values)


def storage_plan(storage: dict[str, Any]) -> Plan:
    values = stack_values("edge-demo")
    values["wfga:dns_zones"][0]["argo_smart_routing"] = False
    values["wfga:service_domains"] = []
    values["wfga:object_storage"] = storage
    return plan_edge(values)


@pytest.fixture(scope="module")
def s3_cloudfront() -> Plan:
    return storage_plan(
        {
            "kind": "s3",
            "region": "us-west-2",
            "upload_acceleration": True,
            "cors_origins": ["https://web.example.com"],
            "buckets": [
                {"name": "wfga-media", "kinds": "short-lived", "domain": "media.example.com"},
                {"name": "wfga-static", "kinds": "long-lived", "domain": "static.example.com"},
            ],
            "cdn": {"provider": "cloudfront", "zone": "example.com"},
        }
    )


@pytest.fixture(scope="module")
def qiniu_cdn() -> Plan:
    return storage_plan(
        {
            "kind": "qiniu",
            "upload_host": "up-as0.qiniup.com",
            "buckets": [
                {
                    "name": "wfga-media",
                    "kinds": "short-lived",
                    "domain": "media.example.cn",
                    "origin": {"host": "wfga-media.qiniu.example.net", "scheme": "https"},
                },
                {
                    "name": "wfga-static",
                    "kinds": "long-lived",
                    "domain": "static.example.cn",
                    "origin": {"host": "wfga-static.qiniu.example.net", "scheme": "https"},
                },
            ],
            "cdn": {
                "provider": "alicloud-cdn",
                "zone": "example.cn",
                "scope": "overseas",
                "certificate": {"type": "cas", "id": "42"},
            },
        }
    )


def test_cloudflare_service_domain_proxies_to_the_origin_and_caches_nothing(demo):
    component = one(demo, T_SERVICE_DOMAIN, "im.example.com")
    record = one(demo, T_CF_RECORD, "im.example.com-record")
    assert record.inputs == {
        "zoneId": "023e105f4ecef8ad9ca31a8372d0c353",
        "name": "im.example.com",
        "type": "A",
        "content": "198.51.100.20",
        "proxied": True,
        "ttl": 1,
        "comment": "wfga",
    }
    assert record.parent == component.urn
    assert record.provider.startswith(provider_urn(demo, "cloudflare") + "::")
    # No page rule (deprecated; 3 per zone on the Free plan): the zone's rulesets carry the host's rules.
    assert not [r for r in demo.resources if r.type == "cloudflare:index/pageRule:PageRule"]
    zone = one(demo, T_ZONE, "example.com")
    cache = one(demo, T_CF_RULESET, "example.com-cache-rules")
    config = one(demo, T_CF_RULESET, "example.com-config-rules")
    for ruleset in (cache, config):
        assert ruleset.parent == zone.urn
        assert ruleset.provider.startswith(provider_urn(demo, "cloudflare") + "::")
        assert (ruleset.inputs["kind"], ruleset.inputs["zoneId"]) == ("zone", "023e105f4ecef8ad9ca31a8372d0c353")
    assert cache.inputs["phase"] == "http_request_cache_settings"
    assert config.inputs["phase"] == "http_config_settings"
    # Bypass: nothing cached; Flexible: HTTPS viewers reach the plain-HTTP origin; no forced HTTPS.
    (bypass,) = cache.inputs["rules"]
    assert bypass == {
        "ref": "wfga_im_example_com",
        "description": "wfga im.example.com: bypass the cache",
        "expression": '(http.host eq "im.example.com")',
        "action": "set_cache_settings",
        "actionParameters": {"cache": False},
        "enabled": True,
    }
    (flexible,) = config.inputs["rules"]
    assert (flexible["expression"], flexible["action"], flexible["actionParameters"]) == (
        '(http.host eq "im.example.com")',
        "set_config",
        {"ssl": "flexible"},
    )


def test_cloudflare_zone_never_redirects_port_80_and_gets_argo(demo):
    zone = one(demo, T_ZONE, "example.com")
    setting = one(demo, T_CF_SETTING, "example.com-always-use-https")
    assert setting.inputs == {
        "zoneId": "023e105f4ecef8ad9ca31a8372d0c353",
        "settingId": "always_use_https",
        "value": "off",
    }
    argo = one(demo, T_CF_ARGO, "example.com-argo")
    assert argo.inputs == {"zoneId": "023e105f4ecef8ad9ca31a8372d0c353", "value": "on"}
    assert setting.parent == argo.parent == zone.urn


def test_dcdn_api_domain_sends_every_request_to_its_https_origin(demo):
    component = one(demo, T_SERVICE_DOMAIN, "api.example.cn")
    domain = one(demo, T_DCDN, "api.example.cn-dcdn")
    assert domain.inputs["scope"] == "global"
    assert domain.inputs["scene"] == "apiscene"
    assert domain.inputs["sources"] == [
        {"type": "ipaddr", "content": "198.51.100.21", "port": 443, "priority": "20", "weight": "10"}
    ]
    assert (domain.inputs["sslProtocol"], domain.inputs["certType"], domain.inputs["certId"]) == (
        "on",
        "cas",
        "12345678",
    )
    # Content review of an origin outside Alibaba Cloud takes up to a working day.
    assert domain.custom_timeouts == {"create": "24h"}
    # Dynamic routing with no static-file rules and a zero TTL everywhere; no https_force among them.
    assert functions(demo, T_DCDN_CONFIG, "api.example.cn") == {
        "dynamic": {"enable": "on", "dynamic_route_origin": "https"},
        "path_based_ttl_set": {"path": "/", "ttl": "0", "weight": "99"},
    }
    cname = one(demo, T_ALIDNS, "api.example.cn-cname")
    assert cname.inputs == {
        "domainName": "example.cn",
        "rr": "api",
        "type": "CNAME",
        "value": domain.state["cname"],
        "ttl": 600,
        "remark": "wfga",
    }
    alicloud_provider = provider_urn(demo, "alicloud")
    for child in (domain, cname, *demo.of_type(T_DCDN_CONFIG)):
        assert child.parent == component.urn
        assert child.provider.startswith(alicloud_provider + "::")


def test_cloudfront_service_domain_caches_nothing_and_serves_plain_http(demo):
    component = one(demo, T_SERVICE_DOMAIN, "app.example.com")
    distribution = one(demo, T_DISTRIBUTION, "app.example.com-distribution")
    inputs = distribution.inputs
    behavior = inputs["defaultCacheBehavior"]
    assert behavior["cachePolicyId"] == CACHING_DISABLED_POLICY
    assert behavior["originRequestPolicyId"] == ALL_VIEWER_POLICY
    assert behavior["viewerProtocolPolicy"] == "allow-all"
    assert sorted(behavior["allowedMethods"]) == sorted(ALL_METHODS)
    assert inputs["priceClass"] == "PriceClass_All"
    assert inputs["aliases"] == ["app.example.com"]
    (origin,) = inputs["origins"]
    assert origin["domainName"] == "app-origin.example.com"
    assert (origin["connectionTimeout"], origin["connectionAttempts"]) == (3, 2)
    custom = origin["customOriginConfig"]
    # An API domain: the app-server's own port, which the IM domain could never use.
    assert (custom["originProtocolPolicy"], custom["httpPort"]) == ("http-only", 8888)
    assert (custom["originReadTimeout"], custom["originKeepaliveTimeout"]) == (10, 5)
    assert behavior["targetOriginId"] == origin["originId"]

    cert = one(demo, T_ACM, "app.example.com-cert")
    assert cert.inputs == {"domainName": "app.example.com", "validationMethod": "DNS", "region": "us-east-1"}
    (option,) = cert.state["domainValidationOptions"]
    check = one(demo, T_CF_RECORD, "app.example.com-cert-validation")
    assert check.inputs["name"] == option["resourceRecordName"].rstrip(".")
    assert check.inputs["content"] == option["resourceRecordValue"].rstrip(".")
    assert (check.inputs["type"], check.inputs["proxied"]) == ("CNAME", False)
    validation = one(demo, T_ACM_VALIDATION, "app.example.com-cert-validation")
    assert validation.inputs["certificateArn"] == cert.state["arn"]
    assert validation.inputs["region"] == "us-east-1"
    assert check.urn in validation.dependencies
    assert inputs["viewerCertificate"]["acmCertificateArn"] == validation.state["certificateArn"]
    assert inputs["viewerCertificate"]["sslSupportMethod"] == "sni-only"

    cname = one(demo, T_CF_RECORD, "app.example.com-cname")
    assert (cname.inputs["name"], cname.inputs["type"]) == ("app.example.com", "CNAME")
    assert cname.inputs["content"] == distribution.state["domainName"]
    assert cname.inputs["proxied"] is False
    aws_provider = provider_urn(demo, "aws")
    for child in (cert, validation, distribution):
        assert child.parent == component.urn
        assert child.provider.startswith(aws_provider + "::")


def test_alibaba_cdn_serves_each_oss_bucket_globally_and_caches(demo):
    component = one(demo, T_STORAGE, "media.example.cn")
    for bucket, host in (("wfga-media", "media"), ("wfga-static", "static")):
        cdn = one(demo, T_CDN, f"{host}.example.cn-cdn")
        assert cdn.inputs["domainName"] == f"{host}.example.cn"
        assert cdn.inputs["scope"] == "global"
        assert cdn.inputs["sources"] == [
            {
                "type": "oss",
                "content": f"{bucket}.oss-cn-hangzhou.aliyuncs.com",
                "port": 443,
                "priority": 20,
                "weight": 10,
            }
        ]
        # The demo's first deployment: the free certificate waits for the CNAME (next test).
        assert "certificateConfig" not in cdn.inputs
        assert functions(demo, T_CDN_CONFIG, f"{host}.example.cn") == {
            "path_based_ttl_set": {"path": "/", "ttl": str(MEDIA_TTL_S), "weight": "99"}
        }
        cname = one(demo, T_ALIDNS, f"{host}.example.cn-cname")
        assert (cname.inputs["rr"], cname.inputs["value"]) == (host, cdn.state["cname"])
        assert cdn.parent == cname.parent == component.urn


def test_a_free_certificate_is_enabled_in_a_second_deployment_after_the_cname_exists(demo):
    # The provider sets a CDN domain's certificate right after creating it, and CDN issues a free one
    # only for a domain whose CNAME points at it; the CNAME needs the domain's cname. So the first
    # deployment creates the domain and its CNAME, and the second enables the certificate.
    first = {r.name: r for r in demo.resources}
    cname = first["media.example.cn-cname"]
    assert first["media.example.cn-cdn"].urn in cname.dependencies
    assert "certificateConfig" not in first["media.example.cn-cdn"].inputs
    values = stack_values("edge-demo")
    values["wfga:object_storage"]["cdn"]["certificate"]["enabled"] = True
    second = run_program(StackValues(stack="edge-demo", values=values, secret_keys=SECRET), PROJECT)
    result = diff.compare(demo.to_json(), second.to_json(), "first", "second")
    # Only the two domains change, and only their certificate: every CNAME is in place already.
    assert [(r.action, r.name, r.inputs) for r in result.resources] == [
        ("update", f"{host}.example.cn-cdn", ["certificateConfig"]) for host in ("media", "static")
    ]
    cdn = next(r for r in second.resources if r.name == "media.example.cn-cdn")
    assert cdn.inputs["certificateConfig"] == {"certType": "free", "serverCertificateStatus": "on"}


def test_oss_buckets_get_transfer_acceleration_and_cors_in_their_region(demo):
    component = one(demo, T_STORAGE, "media.example.cn")
    accelerations = demo.of_type(T_OSS_ACCELERATION)
    assert sorted((r.name, r.inputs["bucket"], r.inputs["enabled"]) for r in accelerations) == [
        ("wfga-media-acceleration", "wfga-media", True),
        ("wfga-static-acceleration", "wfga-static", True),
    ]
    cors = demo.of_type(T_OSS_CORS)
    assert sorted(r.inputs["bucket"] for r in cors) == ["wfga-media", "wfga-static"]
    for rule in cors:
        assert rule.inputs["corsRules"] == [
            {
                "allowedOrigins": ["*"],
                "allowedMethods": ["GET", "HEAD", "PUT"],
                "allowedHeaders": ["*"],
                "exposeHeaders": ["ETag"],
                "maxAgeSeconds": 3600,
            }
        ]
    regional = next(r for r in demo.resources if r.type == "pulumi:providers:alicloud")
    assert regional.inputs["region"] == "cn-hangzhou"
    for r in (*accelerations, *cors):
        assert r.parent == component.urn
        assert r.provider.startswith(regional.urn + "::")


def test_every_edge_resource_belongs_to_a_component_named_after_its_host(demo):
    components = {r.urn: r for r in demo.resources if r.type in (T_SERVICE_DOMAIN, T_ZONE, T_STORAGE)}
    assert {r.name for r in components.values()} == {
        "example.com",
        "im.example.com",
        "app.example.com",
        "api.example.cn",
        "media.example.cn",
    }
    edge = [r for r in demo.resources if r.type in EDGE_TYPES]
    # zone 4 (setting, Argo, cache and configuration rulesets), im 1, app 5 (certificate, its
    # validation and record, distribution, cname), api 4, storage 2 hosts x (cdn, config, cname) and
    # 2 buckets x (acceleration, cors)
    assert len(edge) == 4 + 1 + 5 + 4 + 2 * 3 + 2 * 2
    # The storage names each child after its own host or bucket, the others after themselves.
    storage_keys = ("media.example.cn-", "static.example.cn-", "wfga-media-", "wfga-static-")
    for r in edge:
        assert r.parent in components, r.name
        parent = components[r.parent]
        keys = storage_keys if parent.type == T_STORAGE else (parent.name + "-",)
        assert r.name.startswith(keys), r.name


def test_outputs_give_each_hosts_role_record_and_the_media_lines(demo):
    domains = demo.outputs["service_domains"]
    assert domains["im.example.com"] == {
        "role": "im",
        "provider": "cloudflare",
        "origin": "http://198.51.100.20:80",
        "dns_record": {"name": "im.example.com", "type": "A", "value": "198.51.100.20", "proxied": True},
        "dns_zone": "example.com",
    }
    assert [domains[d]["role"] for d in ("app.example.com", "api.example.cn")] == ["api", "api"]
    distribution = one(demo, T_DISTRIBUTION, "app.example.com-distribution")
    assert domains["app.example.com"]["dns_record"]["value"] == distribution.state["domainName"]
    dcdn = one(demo, T_DCDN, "api.example.cn-dcdn")
    assert domains["api.example.cn"]["dns_record"]["value"] == dcdn.state["cname"]
    storage = demo.outputs["object_storage"]
    assert storage["upload"] == {"host": "oss-accelerate.aliyuncs.com", "port": 80, "ssl_port": 443}
    assert storage["upload_front"] is None
    for host, bucket in (("media.example.cn", "wfga-media"), ("static.example.cn", "wfga-static")):
        assert storage["hosts"][host]["buckets"] == [bucket]
        assert storage["hosts"][host]["dns_record"]["value"] == one(demo, T_CDN, f"{host}-cdn").state["cname"]
    lines = demo.outputs["media_config"]
    assert lines[:4] == [
        "media.server.media_type 2",
        "media.server_host oss-accelerate.aliyuncs.com",
        "media.server_port 80",
        "media.server_ssl_port 443",
    ]
    for kind in MEDIA_BUCKET_KINDS:
        bucket, host = ("wfga-static", "static") if kind in LONG_LIVED else ("wfga-media", "media")
        assert f"media.bucket_{kind}_name {bucket}" in lines
        assert f"media.bucket_{kind}_domain https://{host}.example.cn" in lines


def test_dcdn_overseas_over_https(variant):
    domain = one(variant, T_DCDN, "im.example.cn-dcdn")
    assert domain.inputs["scope"] == "overseas"
    assert domain.inputs["sources"][0] | {"priority": "", "weight": ""} == {
        "type": "domain",
        "content": "origin.example.cn",
        "port": 443,
        "priority": "",
        "weight": "",
    }
    assert domain.inputs["certRegion"] == "ap-southeast-1"
    assert functions(variant, T_DCDN_CONFIG, "im.example.cn")["dynamic"]["dynamic_route_origin"] == "https"


def test_cloudfront_with_the_operators_certificate_and_dns(variant):
    # Only the upload front (in a zone managed here) gets a certificate requested; the API domain has its own.
    assert [r.name for r in variant.of_type(T_ACM)] == ["upload.example.com-cert"]
    distribution = one(variant, T_DISTRIBUTION, "license.example.org-distribution")
    assert distribution.inputs["viewerCertificate"]["acmCertificateArn"] == GIVEN_ARN
    custom = distribution.inputs["origins"][0]["customOriginConfig"]
    assert (custom["originProtocolPolicy"], custom["httpsPort"]) == ("https-only", 8443)
    assert not [r for r in variant.of_type(T_CF_RECORD) if r.inputs["name"] == "license.example.org"]
    summary = variant.outputs["service_domains"]["license.example.org"]
    assert summary["dns_zone"] is None
    assert summary["dns_record"] == {
        "name": "license.example.org",
        "type": "CNAME",
        "value": distribution.state["domainName"],
        "proxied": False,
    }


def test_private_store_downloads_through_cloudflare_and_uploads_through_a_dynamic_front(variant):
    record = one(variant, T_CF_RECORD, "media.example.com-record")
    assert (record.inputs["type"], record.inputs["content"], record.inputs["proxied"]) == (
        "CNAME",
        "minio.example.com",
        True,
    )
    (cached,) = one(variant, T_CF_RULESET, "example.com-cache-rules").inputs["rules"]
    assert (cached["expression"], cached["actionParameters"]) == (
        '(http.host eq "media.example.com")',
        {"cache": True, "edgeTtl": {"mode": "override_origin", "default": MEDIA_TTL_S}},
    )
    (ssl,) = one(variant, T_CF_RULESET, "example.com-config-rules").inputs["rules"]
    assert ssl["actionParameters"] == {"ssl": "flexible"}
    storage = one(variant, T_STORAGE, "media.example.com")
    front = one(variant, T_SERVICE_DOMAIN, "upload.example.com")
    assert front.parent == storage.urn
    distribution = one(variant, T_DISTRIBUTION, "upload.example.com-distribution")
    behavior = distribution.inputs["defaultCacheBehavior"]
    # Dynamic: nothing cached, every method (uploads are PUT), plain HTTP never redirected.
    assert behavior["cachePolicyId"] == CACHING_DISABLED_POLICY
    assert sorted(behavior["allowedMethods"]) == sorted(ALL_METHODS)
    assert behavior["viewerProtocolPolicy"] == "allow-all"
    (origin,) = distribution.inputs["origins"]
    assert (origin["domainName"], origin["customOriginConfig"]["httpPort"]) == ("minio.example.com", 80)
    # No proxied host takes plain HTTP any more (uploads skip Cloudflare), and Argo was not asked for.
    assert variant.of_type(T_CF_SETTING) == variant.of_type(T_CF_ARGO) == []
    lines = variant.outputs["media_config"]
    assert lines[:4] == [
        "media.server.media_type 3",
        "media.server_host upload.example.com",
        "media.server_port 80",
        "media.server_ssl_port 443",
    ]
    assert "media.bucket_general_domain https://media.example.com/media" in lines
    assert "media.bucket_portrait_domain https://media.example.com/static" in lines
    assert variant.outputs["object_storage"]["upload_front"]["role"] == "upload"
    assert variant.of_type(T_OSS_CORS) == variant.of_type(T_S3_CORS) == []


def test_s3_buckets_behind_cloudfront_are_cached_and_uploads_accelerated(s3_cloudfront):
    for bucket, host in (("wfga-media", "media.example.com"), ("wfga-static", "static.example.com")):
        distribution = one(s3_cloudfront, T_DISTRIBUTION, f"{host}-distribution")
        behavior = distribution.inputs["defaultCacheBehavior"]
        assert behavior["cachePolicyId"] == CACHING_OPTIMIZED_POLICY
        assert "originRequestPolicyId" not in behavior
        assert sorted(behavior["allowedMethods"]) == ["GET", "HEAD", "OPTIONS"]
        (origin,) = distribution.inputs["origins"]
        assert origin["domainName"] == f"{bucket}.s3.us-west-2.amazonaws.com"
        assert "s3OriginConfig" in origin
        assert "customOriginConfig" not in origin
        assert one(s3_cloudfront, T_ACM, f"{host}-cert").inputs["region"] == "us-east-1"
        cname = one(s3_cloudfront, T_CF_RECORD, f"{host}-cname")
        assert cname.inputs["content"] == distribution.state["domainName"]
        acceleration = one(s3_cloudfront, T_S3_ACCELERATION, f"{bucket}-acceleration")
        assert acceleration.inputs == {"bucket": bucket, "status": "Enabled", "region": "us-west-2"}
        cors = one(s3_cloudfront, T_S3_CORS, f"{bucket}-cors")
        assert cors.inputs["region"] == "us-west-2"
        (rule,) = cors.inputs["corsRules"]
        assert (rule["allowedOrigins"], rule["allowedMethods"]) == (["https://web.example.com"], ["GET", "HEAD", "PUT"])
        aws_provider = provider_urn(s3_cloudfront, "aws")
        assert acceleration.provider.startswith(aws_provider + "::")
    # Neither a proxied host nor Argo: the zone is left alone.
    assert s3_cloudfront.of_type(T_CF_SETTING) == s3_cloudfront.of_type(T_ZONE) == []
    lines = s3_cloudfront.outputs["media_config"]
    assert "media.server_host s3-accelerate.amazonaws.com" in lines
    assert "media.server.media_type 7" in lines


def test_qiniu_behind_alibaba_cdn_fetches_by_the_buckets_own_name(qiniu_cdn):
    cdn = one(qiniu_cdn, T_CDN, "media.example.cn-cdn")
    assert cdn.inputs["scope"] == "overseas"
    assert cdn.inputs["sources"][0]["type"] == "domain"
    assert cdn.inputs["sources"][0]["content"] == "wfga-media.qiniu.example.net"
    assert cdn.inputs["certificateConfig"] == {
        "certType": "cas",
        "certId": "42",
        "certRegion": "cn-hangzhou",
        "serverCertificateStatus": "on",
    }
    assert functions(qiniu_cdn, T_CDN_CONFIG, "media.example.cn")["set_req_host_header"] == {
        "domain_name": "wfga-media.qiniu.example.net"
    }
    static = one(qiniu_cdn, T_CDN, "static.example.cn-cdn")
    assert static.inputs["sources"][0]["content"] == "wfga-static.qiniu.example.net"
    assert qiniu_cdn.outputs["media_config"][:2] == ["media.server.media_type 1", "media.server_host up-as0.qiniup.com"]
    # Qiniu has no provider here: nothing is set on its buckets.
    assert qiniu_cdn.of_type(T_OSS_CORS) == qiniu_cdn.of_type(T_OSS_ACCELERATION) == []
    assert qiniu_cdn.outputs["service_domains"] == {}


def test_the_program_rejects_a_plain_text_token_before_any_resource():
    values = stack_values("edge-demo")
    values["wfga:cloudflare_api_token"] = "cf-plain-token-123"
    records: list[ResourceRecord] = []
    with pytest.raises(pulumi.RunError) as err:
        execute_program(StackValues(stack="bad", values=values), PROJECT, records=records)
    assert "wfga:cloudflare_api_token: stored as plain text" in str(err.value)
    assert records == []


def test_the_program_takes_secret_key_names_from_the_cli_environment(monkeypatch):
    # `pulumi up` names the secret keys in PULUMI_CONFIG_SECRET_KEYS, not through the mocks' list.
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", '["wfga:cloudflare_api_token"]')
    values = stack_values("edge-demo")
    values["wfga:service_domains"] = values["wfga:service_domains"][:1]
    del values["wfga:object_storage"]
    plan = execute_program(StackValues(stack="cli", values=values), PROJECT)
    assert list(plan.outputs["service_domains"]) == ["im.example.com"]
