"""VM access point user data: cloud-init's own schema check, content, and the apply script's behaviour."""

from __future__ import annotations

import base64
import functools
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.vm_delivery import DELIVERED, run_with_recorders, vm_mappings
from wfga.plan.cloudinit import (
    APPLY_SCRIPT,
    CLOUD_ASSISTANT_CONTENT_LIMIT,
    EC2_USER_DATA_LIMIT,
    ECS_USER_DATA_LIMIT,
    PROFILES,
    SSM_DOCUMENT_LIMIT,
    STAGED_CONF,
    BootFile,
    bootstrap_files,
    pack_user_data,
    render_delivery,
    render_user_data,
    render_vm_delivery,
    sysctl_settings,
    unpack_user_data,
)
from wfga.plan.nginx import Sizing, render_nginx_conf
from wfga.plan.portplan import PortMapping

DISTROS = sorted(PROFILES)


def mappings(offset: int = 0) -> list[PortMapping]:
    return [
        PortMapping("sg", "nlb-1", node, service, offset + base + slot, ip, target, 900)
        for slot, node, ip in ((1, "im-1", "172.16.0.11"), (2, "im-2", "172.16.0.12"))
        for service, base, target in (("short", 80, 80), ("long", 1880, 1883), ("ws", 8080, 8083))
    ]


def cloud_init() -> str:
    found = shutil.which("cloud-init")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("cloud-init is not installed; CI must validate user data with cloud-init's schema checker")
        pytest.skip("cloud-init is not installed (apt-get install cloud-init)")
    return found


def schema_check(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "user-data.yaml"
    path.write_text(text)
    return subprocess.run(
        [cloud_init(), "schema", "--config-file", str(path)], capture_output=True, text=True, timeout=60, check=False
    )


@functools.cache
def known_top_level_keys() -> frozenset[str]:
    """Every key some cloud-init module reads, from the installed cloud-init's schema.

    The schema of cloud-init 22.4 accepts unknown top-level keys, so a misspelt ``write_file``
    would pass the check and silently do nothing; this closes that gap.
    """
    tool = Path(cloud_init())
    interpreter = tool.read_text().splitlines()[0].removeprefix("#!").split()
    program = (
        "from cloudinit.config.schema import get_schema\n"
        "s = get_schema()\n"
        "for ref in s['allOf']:\n"
        "    print('\\n'.join(s['$defs'][ref['$ref'].split('/')[-1]].get('properties', {})))\n"
    )
    out = subprocess.run([*interpreter, "-c", program], capture_output=True, text=True, timeout=60, check=True)
    return frozenset(out.stdout.split())


def user_data(distro: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    text = render_user_data(mappings(), distro=distro, **kwargs)  # type: ignore[arg-type]
    return text, yaml.safe_load(text)


def files(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in data["write_files"]}


@pytest.mark.parametrize("distro", DISTROS)
def test_cloud_init_accepts_the_user_data(tmp_path: Path, distro: str) -> None:
    text, data = user_data(distro)
    assert text.startswith("#cloud-config\n")
    result = schema_check(tmp_path, text)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout
    assert set(data) <= known_top_level_keys()


def test_the_schema_check_rejects_a_broken_user_data(tmp_path: Path) -> None:
    _, data = user_data("debian")
    data["write_files"][0]["permissions"] = 0o644  # cloud-init wants the octal string
    result = schema_check(tmp_path, "#cloud-config\n" + yaml.safe_dump(data))
    assert result.returncode != 0
    assert "permissions" in result.stdout + result.stderr
    assert "write_file" not in known_top_level_keys()


@pytest.mark.parametrize(
    ("distro", "packages"),
    [
        ("debian", ["nginx", "libnginx-mod-stream"]),
        ("ubuntu", ["nginx", "libnginx-mod-stream"]),
        ("alinux", ["nginx", "nginx-mod-stream"]),
        ("amazon-linux", ["nginx", "nginx-mod-stream"]),
    ],
)
def test_installs_nginx_with_the_stream_module_of_the_distribution(distro: str, packages: list[str]) -> None:
    _, data = user_data(distro)
    assert data["packages"] == packages
    assert data["package_update"] is True
    profile = PROFILES[distro]
    staged = files(data)[STAGED_CONF]["content"]
    assert staged == render_nginx_conf(
        mappings(), user=profile.nginx_user, modules_include=profile.modules_include, connections=20000
    )
    assert "load_module" not in staged


def test_kernel_and_open_file_limits_match_the_connection_target() -> None:
    _, data = user_data("debian", connections=50000)
    written = files(data)
    limits = written["/etc/systemd/system/nginx.service.d/90-wfga-limits.conf"]["content"]
    assert limits == f"[Service]\nLimitNOFILE={Sizing(connections=50000, listeners=6).rlimit_nofile}\n"
    sysctl = written["/etc/sysctl.d/90-wfga-access-point.conf"]["content"]
    settings = dict(line.lstrip("-").split(" = ") for line in sysctl.splitlines() if line and not line.startswith("#"))
    assert settings == sysctl_settings(mappings(), 50000)
    assert set(settings) >= {
        "net.ipv4.ip_local_port_range",
        "net.core.somaxconn",
        "net.netfilter.nf_conntrack_max",
        "fs.file-max",
    }
    low, high = (int(p) for p in settings["net.ipv4.ip_local_port_range"].split())
    # Each proxied connection takes one ephemeral port toward its node's service.
    assert high - low + 1 > 50000 // 2
    assert int(settings["net.netfilter.nf_conntrack_max"]) >= 2 * 50000
    assert int(settings["fs.file-max"]) >= Sizing(connections=50000, listeners=6).rlimit_nofile
    assert int(settings["net.core.somaxconn"]) >= 4096
    assert "-net.netfilter.nf_conntrack_max = " in sysctl


def test_public_ports_inside_the_ephemeral_range_are_reserved() -> None:
    assert "net.ipv4.ip_local_reserved_ports" not in sysctl_settings(mappings())
    high = sysctl_settings(mappings(offset=20000))
    assert high["net.ipv4.ip_local_reserved_ports"] == "20081-20082,21881-21882,28081-28082"


def test_unknown_distribution_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown distro 'centos'"):
        render_user_data(mappings(), distro="centos")  # type: ignore[arg-type]


def test_runcmd_runs_the_apply_script() -> None:
    _, data = user_data("debian")
    assert data["runcmd"] == [[APPLY_SCRIPT]]
    script = files(data)[APPLY_SCRIPT]
    assert script["permissions"] == "0755"
    assert "restart nginx" not in script["content"]


FAKE = """#!/bin/sh
echo "${0##*/} $*" >> "$CALLS"
if [ "${0##*/} $1" = "nginx -t" ]; then exit "$NGINX_T"; fi
if [ "${0##*/} $1" = "systemctl is-active" ]; then exit "$ACTIVE"; fi
exit 0
"""


def run_apply(tmp_path: Path, *, active: bool, config_ok: bool) -> tuple[int, list[str]]:
    """Run the shipped apply script with nginx, systemctl and install replaced by recorders."""
    _, data = user_data("debian")
    script = tmp_path / "apply"
    script.write_text(files(data)[APPLY_SCRIPT]["content"])
    fakes = tmp_path / "bin"
    fakes.mkdir()
    for name in ("nginx", "systemctl", "install"):
        fake = fakes / name
        fake.write_text(FAKE)
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "calls"
    env = {
        "PATH": str(fakes),
        "CALLS": str(calls),
        "ACTIVE": "0" if active else "3",
        "NGINX_T": "0" if config_ok else "1",
    }
    result = subprocess.run(["/bin/sh", str(script)], env=env, capture_output=True, timeout=30, check=False)
    return result.returncode, calls.read_text().splitlines() if calls.exists() else []


def test_apply_reloads_a_running_nginx(tmp_path: Path) -> None:
    rc, calls = run_apply(tmp_path, active=True, config_ok=True)
    assert rc == 0
    assert calls.index(f"nginx -t -q -c {STAGED_CONF}") < calls.index(
        f"install -m 0644 {STAGED_CONF} /etc/nginx/nginx.conf"
    )
    assert calls[-1] == "systemctl reload nginx"
    assert not any(c in {"systemctl restart nginx", "systemctl start nginx"} for c in calls)


def test_apply_starts_nginx_when_it_is_not_running(tmp_path: Path) -> None:
    rc, calls = run_apply(tmp_path, active=False, config_ok=True)
    assert rc == 0
    assert calls[-1] == "systemctl start nginx"
    assert "systemctl enable nginx" in calls


def test_apply_keeps_the_live_config_when_nginx_rejects_the_new_one(tmp_path: Path) -> None:
    rc, calls = run_apply(tmp_path, active=True, config_ok=False)
    assert rc != 0
    assert calls[-1] == f"nginx -t -q -c {STAGED_CONF}"
    assert not any(c.startswith(("install", "systemctl reload", "systemctl start")) for c in calls)


def test_packed_user_data_is_gzip_that_cloud_init_unpacks(tmp_path: Path) -> None:
    text = render_user_data(mappings(), distro="debian")
    packed = pack_user_data(text)
    assert base64.b64decode(packed)[:2] == b"\x1f\x8b"  # gzip magic, what cloud-init looks for
    assert unpack_user_data(packed) == text
    assert pack_user_data(text) == packed  # no timestamp inside: the plan stays deterministic
    blob = tmp_path / "user-data.gz"
    blob.write_bytes(base64.b64decode(packed))
    interpreter = Path(cloud_init()).read_text().splitlines()[0].removeprefix("#!").split()
    program = (
        "import sys, tempfile\n"
        "from cloudinit import helpers, user_data\n"
        "d = tempfile.mkdtemp()\n"
        "msg = user_data.UserDataProcessor(helpers.Paths({'cloud_dir': d, 'run_dir': d})).process(\n"
        "    open(sys.argv[1], 'rb').read())\n"
        "for part in msg.walk():\n"
        "    if not part.is_multipart():\n"
        "        print(part.get_content_type())\n"
        "        sys.stdout.write(part.get_payload(decode=True).decode())\n"
    )
    out = subprocess.run(
        [*interpreter, "-c", program, str(blob)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out == "text/cloud-config\n" + text


@pytest.mark.parametrize("distro", DISTROS)
def test_two_hundred_nodes_fit_both_clouds_user_data_and_delivery_limits(distro: str) -> None:
    m = vm_mappings(200)
    assert len(m) == 600
    packed = pack_user_data(render_user_data(m, distro=distro))  # type: ignore[arg-type]
    # EC2 counts the bytes it hands to the instance (the gzip); ECS takes base64 text.
    assert len(base64.b64decode(packed)) < EC2_USER_DATA_LIMIT
    assert len(packed) < ECS_USER_DATA_LIMIT
    script = render_vm_delivery(m, distro=distro).script  # type: ignore[arg-type]
    assert len(base64.b64encode(script.encode())) < CLOUD_ASSISTANT_CONTENT_LIMIT
    assert len(json.dumps({"runCommand": script.splitlines()})) < SSM_DOCUMENT_LIMIT


def test_the_delivery_writes_the_bootstrap_files_and_runs_the_same_apply_script(tmp_path: Path) -> None:
    m = vm_mappings(50)
    files = bootstrap_files(m, distro="debian")
    _, data = user_data("debian")
    assert [f.path for f in files] == [f["path"] for f in data["write_files"]]
    delivery = render_vm_delivery(m, distro="debian")
    assert delivery == render_delivery(files)
    ran = run_with_recorders(delivery.script, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert {f.path: f.content for f in files} == {p: ran.file(p) for p in DELIVERED}
    modes = {f.path: (ran.root / f.path.lstrip("/")).stat().st_mode & 0o777 for f in files}
    assert modes == {f.path: int(f.permissions, 8) for f in files}
    assert ran.calls == [
        "cloud-init status --wait",
        "systemctl restart systemd-sysctl.service",
        "systemctl daemon-reload",
        f"nginx -t -q -c {ran.root}{STAGED_CONF}",
        "systemctl enable nginx",
        "systemctl is-active --quiet nginx",
        "systemctl reload nginx",
    ]
    assert delivery.key in delivery.script.splitlines()[1]


def test_the_delivery_key_follows_every_delivered_file() -> None:
    files = bootstrap_files(mappings(), distro="debian")
    key = render_delivery(files).key
    assert render_delivery(bootstrap_files(mappings(), distro="debian")).key == key
    for i, f in enumerate(files):
        changed = list(files)
        changed[i] = BootFile(f.path, f.permissions, f.content + "# changed\n")
        assert render_delivery(changed).key != key, f.path
    assert render_vm_delivery(mappings(offset=1), distro="debian").key != key


def test_a_delivery_refuses_content_a_here_document_would_cut_short() -> None:
    files = list(bootstrap_files(mappings(), distro="debian"))
    files[2] = BootFile(files[2].path, "0644", "[Service]\nWFGA_END_OF_FILE\n")
    with pytest.raises(ValueError, match="here-document"):
        render_delivery(files)
    with pytest.raises(ValueError, match="apply script"):
        render_delivery(files[:3])
