"""Image look-ups: the patterns pick the plain distribution image, and finding nothing is a clear error."""

from __future__ import annotations

import fnmatch
import gc
import re

import pytest

from tests.conftest import PROJECT, stack_values
from wfga import cli
from wfga.model.images import IMAGES
from wfga.offline import engine
from wfga.offline.engine import ProgramError, run_program
from wfga.offline.stackfile import StackValues

# Names as Alibaba Cloud lists its system images (DescribeImages, owner system): the plain image of
# each distribution and the variants that share its prefix.
ALIBABA = {
    "alinux": (
        ["aliyun_3_x64_20G_alibase_20240819.vhd", "aliyun_3_x64_20G_alibase_20230727.vhd"],
        [
            "aliyun_3_x64_20G_dengbao_alibase_20240819.vhd",  # hardened (MLPS level 3)
            "aliyun_3_x64_20G_scc_alibase_20240819.vhd",  # security-enhanced
            "aliyun_3_x64_20G_uefi_alibase_20240819.vhd",
            "aliyun_3_x64_20G_qboot_alibase_20240819.vhd",
            "aliyun_3_x64_20G_container_optimized_alibase_20240819.vhd",
            "aliyun_3_x64_20G_nocloud_alibase_20240819.qcow2",
            "aliyun_3_arm64_20G_alibase_20240819.vhd",
            "aliyun_3_9_x64_20G_alibase_20240819.vhd",
            "aliyun_2_1903_x64_20G_alibase_20240628.vhd",
        ],
    ),
    "debian": (
        ["debian_12_6_x64_20G_alibase_20240819.vhd", "debian_12_10_x64_20G_alibase_20250402.vhd"],
        [
            "debian_12_6_uefi_x64_20G_alibase_20240819.vhd",
            "debian_12_6_arm64_20G_alibase_20240819.vhd",
            "debian_12_6_x64_20G_dengbao_alibase_20240819.vhd",
            "debian_11_11_x64_20G_alibase_20240819.vhd",
        ],
    ),
    "ubuntu": (
        ["ubuntu_24_04_x64_20G_alibase_20240812.vhd"],
        [
            "ubuntu_24_04_uefi_x64_20G_alibase_20240812.vhd",
            "ubuntu_24_04_arm64_20G_alibase_20240812.vhd",
            "ubuntu_24_04_x64_20G_dengbao_alibase_20240812.vhd",
            "ubuntu_22_04_x64_20G_alibase_20240812.vhd",
        ],
    ),
}
AWS = {
    "debian": (["debian-12-amd64-20240717-1811"], ["debian-12-arm64-20240717-1811", "debian-11-amd64-20240717-1811"]),
    "ubuntu": (
        ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20240801"],
        [
            "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20240801",
            "ubuntu-pro-server/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-pro-server-20240801",
        ],
    ),
    "amazon-linux": (
        ["al2023-ami-2023.5.20240819.0-kernel-6.1-x86_64"],
        ["al2023-ami-minimal-2023.5.20240819.0-kernel-6.1-x86_64", "al2023-ami-2023.5.20240819.0-kernel-6.1-arm64"],
    ),
}


@pytest.mark.parametrize("distro", sorted(ALIBABA))
def test_alibaba_patterns_match_the_plain_image_and_no_variant(distro):
    # alicloud_images applies name_regex as a search, and most_recent takes the newest match.
    pattern = re.compile(IMAGES[("alicloud", distro)].name)
    plain, variants = ALIBABA[distro]
    assert [n for n in plain if pattern.search(n)] == plain
    assert [n for n in variants if pattern.search(n)] == []


@pytest.mark.parametrize("distro", sorted(AWS))
def test_aws_name_filters_match_the_plain_image_and_no_variant(distro):
    pattern = IMAGES[("aws", distro)].name
    plain, variants = AWS[distro]
    assert [n for n in plain if fnmatch.fnmatchcase(n, pattern)] == plain
    assert [n for n in variants if fnmatch.fnmatchcase(n, pattern)] == []


def test_every_query_finds_an_image_in_the_offline_catalogue():
    for (cloud, _), query in IMAGES.items():
        names = engine.PUBLIC_IMAGES[cloud]
        if cloud == "alicloud":
            assert any(re.search(query.name, n) for n in names), query
        else:
            assert any(fnmatch.fnmatchcase(n, query.name) for n in names), query


def _vm_demo() -> StackValues:
    return StackValues(stack="vm-demo", values=stack_values("vm-demo"))


@pytest.mark.parametrize(
    ("cloud", "left", "expected"),
    [
        # Only a hardened variant left: the Alibaba VMs must not boot it.
        (
            "alicloud",
            ("debian_12_6_x64_20G_dengbao_alibase_20240819.vhd",),
            "wfga:access_points (tyo).vm.image_id: no debian image in alicloud region ap-northeast-1 matches "
            "name_regex '^debian_12_\\\\d+_x64_20G_alibase_\\\\d{8}\\\\.vhd$' (owners system); set "
            "wfga:access_points (tyo).vm.image_id to an image id of that region",
        ),
        (
            "aws",
            (),
            "wfga:access_points (va).vm.image_id: no amazon-linux image in aws region us-east-1 matches name filter "
            "'al2023-ami-2023.*-x86_64' (owners amazon)",
        ),
    ],
)
def test_a_look_up_that_finds_nothing_stops_the_plan_naming_the_setting(monkeypatch, cloud, left, expected):
    monkeypatch.setitem(engine.PUBLIC_IMAGES, cloud, left)
    with pytest.raises(ProgramError) as err:
        run_program(_vm_demo(), PROJECT)
    (problem,) = err.value.problems
    assert problem.startswith(expected)


def test_the_cli_says_so_in_one_line_and_exits_2(monkeypatch, capsys, caplog):
    monkeypatch.setitem(engine.PUBLIC_IMAGES, "aws", ())
    assert cli.main(["plan", "vm-demo"]) == 2
    # Every resource that awaited the failed look-up holds the same error in a future nobody reads;
    # collected, none may log it with its traceback (on the CLI's stderr, after the message).
    gc.collect()
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
    _out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert err.splitlines() == [
        "invalid wfga configuration:",
        "  - wfga:access_points (va).vm.image_id: no amazon-linux image in aws region us-east-1 matches name "
        "filter 'al2023-ami-2023.*-x86_64' (owners amazon); set wfga:access_points (va).vm.image_id to an image "
        "id of that region",
    ]


def test_a_stack_that_names_its_image_looks_nothing_up(monkeypatch):
    monkeypatch.setitem(engine.PUBLIC_IMAGES, "alicloud", ())
    monkeypatch.setitem(engine.PUBLIC_IMAGES, "aws", ())
    values = stack_values("vm-demo")
    for ap, image in zip(values["wfga:access_points"], ("m-0123456789abcdef0", "ami-0123456789abcdef0"), strict=True):
        ap["vm"]["image_id"] = image
    plan = run_program(StackValues(stack="vm-demo", values=values), PROJECT)
    images = {
        r.inputs.get("imageId") or r.inputs.get("ami")
        for r in plan.resources
        if r.type in ("alicloud:ecs/instance:Instance", "aws:ec2/instance:Instance")
    }
    assert images == {"m-0123456789abcdef0", "ami-0123456789abcdef0"}
