"""media_config against WildFire's own samples: golden files written from the docs' facts
(tests/fixtures/media), read with the same wfconf parser as a node's wildfirechat.conf."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wfga.model.edge import LONG_LIVED, MEDIA_KINDS, ObjectStorage
from wfga.ops import wfconf
from wfga.plan.edge import media_config_lines

GOLDEN = Path(__file__).parent / "fixtures" / "media"

# The keys of WildFire's media samples (md/server/oss_config_sample.md, WF-minio README) that wfga
# writes: all but the operator's own access and secret keys.
SAMPLE_KEYS = [
    "media.server.media_type",
    "media.server_host",
    "media.server_port",
    "media.server_ssl_port",
    *(f"media.bucket_{kind}_{part}" for kind in MEDIA_KINDS for part in ("name", "domain")),
]


def two(short: str, long: str, short_host: str | None, long_host: str | None, **extra: Any) -> list[dict[str, Any]]:
    buckets: list[dict[str, Any]] = [
        {"name": short, "kinds": "short-lived", **({"domain": short_host} if short_host else {})},
        {"name": long, "kinds": "long-lived", **({"domain": long_host} if long_host else {})},
    ]
    for bucket in buckets:
        bucket.update(extra.get(bucket["name"], {}))
    return buckets


CONFIGS: dict[str, dict[str, Any]] = {
    "oss": {
        "kind": "oss",
        "region": "cn-beijing",
        "buckets": two("wfcim", "wfcstatic", "im-media.example.com", "static-media.example.com"),
        "cdn": {"provider": "cloudfront"},
    },
    "oss-accelerated": {
        "kind": "oss",
        "region": "cn-beijing",
        "upload_acceleration": True,
        "buckets": two("wfcim", "wfcstatic", "im-media.example.com", "static-media.example.com"),
        "cdn": {"provider": "cloudfront"},
    },
    "qiniu": {
        "kind": "qiniu",
        "upload_host": "up.qbox.me",
        "buckets": two(
            "media",
            "storage",
            "cdn.example.com",
            "cdn2.example.com",
            media={"origin": {"host": "media.qiniu.example.net"}},
            storage={"origin": {"host": "storage.qiniu.example.net"}},
        ),
        "cdn": {"provider": "cloudfront"},
    },
    "private": {
        "kind": "private",
        "origin": {"host": "minio.example.com", "port": 9000},
        "ssl_port": 9443,
        "buckets": two("media", "storage", None, None),
        "cdn": {"provider": "cloudfront", "domain": "media.example.com"},
    },
    "s3": {
        "kind": "s3",
        "region": "us-west-2",
        "buckets": two("wfga-media", "wfga-static", "media.example.com", "static.example.com"),
        "cdn": {"provider": "cloudfront"},
    },
}


def settings(text: str) -> list[tuple[str | None, str | None]]:
    conf = wfconf.parse(text)
    assert conf.problems == () and conf.rejected == []
    return [(line.key, line.value) for line in conf.lines if line.key is not None]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_media_config_matches_the_golden_file_line_by_line(name: str) -> None:
    emitted = "\n".join(media_config_lines(ObjectStorage.model_validate(CONFIGS[name]))) + "\n"
    golden = settings((GOLDEN / f"{name}.conf").read_text(encoding="utf-8"))
    got = settings(emitted)
    for number, (want, have) in enumerate(zip(golden, got, strict=True), start=1):
        assert have == want, f"setting {number}"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_golden_files_keep_the_shape_of_wildfires_samples(name: str) -> None:
    pairs = settings((GOLDEN / f"{name}.conf").read_text(encoding="utf-8"))
    assert [key for key, _ in pairs] == SAMPLE_KEYS
    values = dict(pairs)
    host = str(values["media.server_host"])
    # The samples' own rule: server_host carries neither a scheme nor a port.
    assert "://" not in host and ":" not in host
    names = {kind: values[f"media.bucket_{kind}_name"] for kind in MEDIA_KINDS}
    domains = {kind: str(values[f"media.bucket_{kind}_domain"]) for kind in MEDIA_KINDS}
    assert all(d.startswith(("http://", "https://")) for d in domains.values())
    # At least two buckets, the long-lived kinds apart from the rest; one name always one domain.
    assert {names[k] for k in LONG_LIVED}.isdisjoint(names[k] for k in MEDIA_KINDS if k not in LONG_LIVED)
    assert len({(names[k], domains[k]) for k in MEDIA_KINDS}) == len(set(names.values()))
    if name == "private":
        # WF-minio: a bucket's domain is the store's address followed by /<bucket name>.
        assert all(domains[k].endswith(f"/{names[k]}") for k in MEDIA_KINDS)


def test_a_golden_file_would_catch_a_single_bucket() -> None:
    shared = dict(CONFIGS["oss"], shared_bucket=True)
    shared["buckets"] = [{"name": "wfcim", "kinds": list(MEDIA_KINDS), "domain": "im-media.example.com"}]
    emitted = settings("\n".join(media_config_lines(ObjectStorage.model_validate(shared))) + "\n")
    assert emitted != settings((GOLDEN / "oss.conf").read_text(encoding="utf-8"))
