"""Which public image a VM access point boots when the stack names no image id.

The owners and name patterns are the distributions' published ones; they are looked up at deploy
time (most recent match), never pinned here, so a new point release needs no change.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageQuery:
    owners: tuple[str, ...]
    name: str  # AWS: a name filter with wildcards; Alibaba: a regular expression on the image name


IMAGES: dict[tuple[str, str], ImageQuery] = {  # (cloud, distro)
    ("alicloud", "debian"): ImageQuery(("system",), r"^debian_12_\d+_x64"),
    ("alicloud", "ubuntu"): ImageQuery(("system",), r"^ubuntu_24_04_x64"),
    ("alicloud", "alinux"): ImageQuery(("system",), r"^aliyun_3_x64"),
    ("aws", "debian"): ImageQuery(("136693071363",), "debian-12-amd64-*"),
    ("aws", "ubuntu"): ImageQuery(("099720109477",), "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"),
    ("aws", "amazon-linux"): ImageQuery(("amazon",), "al2023-ami-2023.*-x86_64"),
}


def distros_on(cloud: str) -> list[str]:
    return sorted(distro for c, distro in IMAGES if c == cloud)
