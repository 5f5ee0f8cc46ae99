"""Which public image a VM access point boots when the stack names no image id.

The owners and name patterns are the distributions' published ones; they are looked up at deploy
time (most recent match), never pinned here, so a new point release needs no change.

Alibaba Cloud publishes variants of each system image under names that share the plain image's
prefix: ``aliyun_3_x64_20G_dengbao_alibase_...`` (hardened to MLPS level 3), ``..._uefi_...``,
``..._qboot_...``, ``..._scc_...`` (security-enhanced) and more.  ``most_recent`` picks whichever of
them is newest, so each Alibaba pattern matches the whole plain name and nothing else:
``<distro>_<version>_x64_20G_alibase_<date>.vhd``.  A look-up that finds nothing fails the
deployment with :func:`image_not_found` instead of booting an arbitrary image.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageQuery:
    owners: tuple[str, ...]
    name: str  # AWS: a name filter with wildcards; Alibaba: a regular expression on the image name


IMAGES: dict[tuple[str, str], ImageQuery] = {  # (cloud, distro)
    ("alicloud", "debian"): ImageQuery(("system",), r"^debian_12_\d+_x64_20G_alibase_\d{8}\.vhd$"),
    ("alicloud", "ubuntu"): ImageQuery(("system",), r"^ubuntu_24_04_x64_20G_alibase_\d{8}\.vhd$"),
    ("alicloud", "alinux"): ImageQuery(("system",), r"^aliyun_3_x64_20G_alibase_\d{8}\.vhd$"),
    ("aws", "debian"): ImageQuery(("136693071363",), "debian-12-amd64-*"),
    ("aws", "ubuntu"): ImageQuery(("099720109477",), "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"),
    ("aws", "amazon-linux"): ImageQuery(("amazon",), "al2023-ami-2023.*-x86_64"),
}


def distros_on(cloud: str) -> list[str]:
    return sorted(distro for c, distro in IMAGES if c == cloud)


def image_not_found(cloud: str, distro: str, region: str, setting: str) -> str:
    """The error for a look-up that found no image: what was asked, where, and the way out."""
    query = IMAGES[(cloud, distro)]
    what = "name_regex" if cloud == "alicloud" else "name filter"
    return (
        f"{setting}: no {distro} image in {cloud} region {region} matches {what} {query.name!r} "
        f"(owners {', '.join(query.owners)}); set {setting} to an image id of that region"
    )
