"""Render what a VM access point runs: the cloud-init user data of its first boot and the day-2 delivery.

Pure: mappings and a distribution name in, text out.  The user data

* installs nginx and its stream module with the distribution's package manager;
* writes the rendered ``nginx.conf`` to a staging path, kernel settings to ``/etc/sysctl.d`` and a
  systemd drop-in that raises nginx's open-file limit;
* runs one apply script that tests the staged config, installs it and reloads nginx when it is
  already running (starts it otherwise).

Cloud-init runs ``write_files`` and ``runcmd`` once per instance, and the components make the
instances ignore later user-data changes, so the user data only bootstraps.  Every later config
reaches a running VM as a *delivery*: a shell script (run by Cloud Assistant or Systems Manager)
that writes the same files and runs the same apply script.  Its name carries :attr:`Delivery.key`,
a hash of the files, so it runs exactly when they change.

Both travel compressed (:func:`pack_user_data`, the nginx config inside the delivery) and the
config is rendered compactly, so a 200-node access point fits EC2's 16 KB of user data and Cloud
Assistant's 18 KB of command content.

Verified here: the output passes cloud-init's own schema check (Debian's cloud-init 22.4), cloud-init
unpacks the gzip user data, and the Debian package names and module directory match Debian 12.
Unverified (taken from public packaging, not tried on an image): that Ubuntu's packages match
Debian's; that Alibaba Cloud Linux 3 and Amazon Linux 2023 ship ``nginx`` and ``nginx-mod-stream``
in their default repositories, put the module snippet in ``/usr/share/nginx/modules/`` and run
workers as ``nginx``; and that SELinux, when enforcing on such an image, lets nginx bind the
public ports and connect to the nodes (it is not configured here).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from wfga.model.config import Distro
from wfga.plan.nginx import DEFAULT_CONNECTIONS, LISTEN_BACKLOG, Sizing, render_nginx_conf
from wfga.plan.portplan import PortMapping, port_ranges

STAGED_CONF = "/etc/wfga/nginx.conf"
APPLY_SCRIPT = "/usr/local/sbin/wfga-apply-nginx"
SYSCTL_FILE = "/etc/sysctl.d/90-wfga-access-point.conf"
LIMITS_DROP_IN = "/etc/systemd/system/nginx.service.d/90-wfga-limits.conf"

# Leaves about 55k ports per node service for nginx's upstream connections, against the default
# range's 28k.  Public ports inside the range are reserved (see sysctl_settings).
LOCAL_PORT_RANGE = (10000, 65535)


@dataclass(frozen=True)
class DistroProfile:
    packages: tuple[str, ...]
    nginx_user: str
    modules_include: str


_APT = DistroProfile(
    packages=("nginx", "libnginx-mod-stream"),
    nginx_user="www-data",
    modules_include="/etc/nginx/modules-enabled/*.conf",
)
_DNF = DistroProfile(
    packages=("nginx", "nginx-mod-stream"),
    nginx_user="nginx",
    modules_include="/usr/share/nginx/modules/*.conf",
)
PROFILES: dict[str, DistroProfile] = {"debian": _APT, "ubuntu": _APT, "alinux": _DNF, "amazon-linux": _DNF}

# Size limits the packed user data and the delivery must stay under (bytes).
EC2_USER_DATA_LIMIT = 16 * 1024  # EC2: 16 KB of user data before base64 (facts.md)
ECS_USER_DATA_LIMIT = 32 * 1024  # ECS: 32 KB (facts.md)
# Cloud Assistant: "must be Base64-encoded. Maximum size: 18 KB" (ROS ALIYUN::ECS::Command, CommandContent).
CLOUD_ASSISTANT_CONTENT_LIMIT = 18 * 1024
# "The content of the document must not exceed 64KB" (pulumi_aws.ssm.Document docstring, `content`).
SSM_DOCUMENT_LIMIT = 64 * 1024

# Files above this size travel gzip+base64 inside the delivery; smaller ones stay readable.
_COMPRESS_ABOVE = 1024
_HEREDOC_END = "WFGA_END_OF_FILE"

# The nginx units of Debian and the RHEL family both reload with `nginx -s reload`, which starts new
# workers on the new config while old workers keep serving their open connections until they close.
# WFGA_ROOT stands in for / when the tests run this script against a private nginx; it is unset on a VM.
APPLY = f"""#!/bin/sh
# Applies the staged wfga nginx config.  Reload, never restart: a restart would cut every long link
# of every user on this access point.  The live config is only replaced once nginx accepts the new
# one, so a bad change keeps the running config and can never leave one behind that breaks the next boot.
set -eu
root="${{WFGA_ROOT:-}}"
staged="$root{STAGED_CONF}"
systemctl restart systemd-sysctl.service
systemctl daemon-reload
if ! nginx -t -q -c "$staged"; then
    echo "wfga: nginx rejects $staged; the running config stays in place" >&2
    exit 1
fi
install -m 0644 "$staged" "$root/etc/nginx/nginx.conf"
systemctl enable nginx
if systemctl is-active --quiet nginx; then
    systemctl reload nginx
else
    systemctl start nginx
fi
"""


@dataclass(frozen=True)
class BootFile:
    """A file the bootstrap writes and every delivery rewrites."""

    path: str
    permissions: str
    content: str


def _port_ranges(ports: Sequence[int]) -> str:
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in port_ranges(ports))


def sysctl_settings(mappings: Sequence[PortMapping], connections: int = DEFAULT_CONNECTIONS) -> dict[str, str]:
    """Kernel settings for ``connections`` concurrent proxied connections on ``mappings``.

    A proxied connection is two tracked flows (client -> VM, VM -> node) and two open files; the
    factor of two on top absorbs flows lingering in TIME_WAIT after a reconnect storm.  Floors keep
    small targets from lowering a distribution's defaults.
    """
    sizing = Sizing(connections=connections, listeners=len(mappings))
    low, high = LOCAL_PORT_RANGE
    settings = {
        "net.ipv4.ip_local_port_range": f"{low} {high}",
        "net.core.somaxconn": str(LISTEN_BACKLOG),
        "net.netfilter.nf_conntrack_max": str(max(262144, 4 * connections)),
        "fs.file-max": str(max(1048576, 4 * sizing.rlimit_nofile)),
    }
    # An upstream connection holding a public port as its ephemeral port would make the reload that
    # adds that port's listener fail to bind; reserved ports are never handed out as ephemeral.
    inside = [m.public_port for m in mappings if low <= m.public_port <= high]
    if inside:
        settings["net.ipv4.ip_local_reserved_ports"] = _port_ranges(inside)
    return settings


def _sysctl_file(settings: dict[str, str]) -> str:
    lines = ["# wfga VM access point: see docs/vm-access-points.md."]
    for key, value in settings.items():
        # The conntrack keys exist only while nf_conntrack is loaded; '-' tells systemd-sysctl that
        # a missing key is fine, since without conntrack there is no table to overflow.
        lines.append(f"{'-' if key.startswith('net.netfilter.') else ''}{key} = {value}")
    return "\n".join(lines) + "\n"


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks so the files stay readable in the console."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_BlockDumper.add_representer(str, _str)


def _profile(distro: Distro) -> DistroProfile:
    profile = PROFILES.get(distro)
    if profile is None:
        raise ValueError(f"unknown distro {distro!r}; wfga knows {', '.join(sorted(PROFILES))}")
    return profile


def nginx_conf(
    mappings: Sequence[PortMapping],
    *,
    distro: Distro,
    connections: int = DEFAULT_CONNECTIONS,
    listen_address: str | None = None,
) -> str:
    """The nginx.conf that the user data installs on a ``distro`` VM."""
    profile = _profile(distro)
    return render_nginx_conf(
        mappings,
        listen_address=listen_address,
        connections=connections,
        user=profile.nginx_user,
        modules_include=profile.modules_include,
    )


def bootstrap_files(
    mappings: Sequence[PortMapping],
    *,
    distro: Distro,
    connections: int = DEFAULT_CONNECTIONS,
    listen_address: str | None = None,
) -> tuple[BootFile, ...]:
    """The files a ``distro`` VM needs for ``mappings``: staged config, sysctl, limits, apply script."""
    conf = nginx_conf(mappings, distro=distro, connections=connections, listen_address=listen_address)
    sizing = Sizing(connections=connections, listeners=len(mappings))
    return (
        BootFile(STAGED_CONF, "0644", conf),
        BootFile(SYSCTL_FILE, "0644", _sysctl_file(sysctl_settings(mappings, connections))),
        BootFile(LIMITS_DROP_IN, "0644", f"[Service]\nLimitNOFILE={sizing.rlimit_nofile}\n"),
        BootFile(APPLY_SCRIPT, "0755", APPLY),
    )


def render_user_data(
    mappings: Sequence[PortMapping],
    *,
    distro: Distro,
    connections: int = DEFAULT_CONNECTIONS,
    listen_address: str | None = None,
) -> str:
    """``#cloud-config`` user data that turns a fresh ``distro`` VM into the access point for ``mappings``."""
    profile = _profile(distro)
    files = bootstrap_files(mappings, distro=distro, connections=connections, listen_address=listen_address)
    data: dict[str, Any] = {
        "package_update": True,
        "packages": list(profile.packages),
        "write_files": [{"path": f.path, "permissions": f.permissions, "content": f.content} for f in files],
        # runcmd runs after package installation, so nginx and its unit exist by then.
        "runcmd": [[APPLY_SCRIPT]],
    }
    return "#cloud-config\n" + yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, width=1000)


def _gzip(text: str) -> bytes:
    # mtime=0: the same text packs to the same bytes, so a plan stays a pure function of the stack.
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


def pack_user_data(text: str) -> str:
    """gzip, then base64: cloud-init recognises gzip user data by its magic bytes and unpacks it.

    The base64 form is what both providers take: ``user_data_base64`` on ``aws.ec2.Instance`` ("gzip-encoded
    user data must be base64-encoded and passed via this argument", SDK docstring), and ``user_data`` on
    ``alicloud.ecs.Instance`` ("supports setting a base64-encoded value, and it is the recommended usage").
    EC2 counts its 16 KB limit on the decoded bytes, i.e. the gzip stream.
    """
    return base64.b64encode(_gzip(text)).decode()


def unpack_user_data(packed: str) -> str:
    return gzip.decompress(base64.b64decode(packed, validate=True)).decode()


@dataclass(frozen=True)
class Delivery:
    """A shell script that brings a running VM to a config: the files, then the apply script."""

    digest: str
    script: str

    @property
    def key(self) -> str:
        """Short hash of the delivered files; names the command or document, so a change replaces it."""
        return self.digest[:12]


def files_digest(files: Sequence[BootFile]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.path}\0{f.permissions}\0{f.content}\0".encode())
    return h.hexdigest()


def _write_file(f: BootFile) -> list[str]:
    target = f'"$root{f.path}"'
    temp = f'"$root{f.path}.wfga-new"'
    if len(f.content) > _COMPRESS_ABOVE:
        payload = base64.encodebytes(_gzip(f.content)).decode().rstrip("\n")
        write = [f"base64 -d <<'{_HEREDOC_END}' | gzip -dc > {temp}", payload, _HEREDOC_END]
    else:
        if any(line == _HEREDOC_END for line in f.content.splitlines()) or not f.content.endswith("\n"):
            raise ValueError(f"{f.path}: content cannot travel in a here-document")
        write = [f"cat > {temp} <<'{_HEREDOC_END}'", f.content[:-1], _HEREDOC_END]
    if f.permissions.endswith("00"):
        # Owner only (a credential): never readable by others, not even before the chmod.
        write = ["umask 077", *write, "umask 022"]
    return [
        f'mkdir -p "$root{posixpath.dirname(f.path)}"',
        *write,
        f"chmod {f.permissions} {temp}",
        f"mv -f {temp} {target}",
    ]


def render_delivery(
    files: Sequence[BootFile],
    *,
    apply_script: str = APPLY_SCRIPT,
    service: str = "nginx",
    owner: str = "the VM access point's",
    doc: str = "docs/vm-access-points.md",
) -> Delivery:
    """The day-2 delivery of ``files``: rewrite each (atomically), then run the apply script.

    The apply script is the one the bootstrap runs: for nginx, ``nginx -t`` on the staged config,
    install it, reload (never restart).  When it fails, the script exits non-zero, the running
    config stays, and Cloud Assistant / Systems Manager report the run as failed.  ``service``,
    ``owner`` and ``doc`` only word the script's comments and last line (another service's delivery,
    such as a TURN relay's coturn, ships its own files and apply script).
    """
    digest = files_digest(files)
    if not any(f.path == apply_script for f in files):
        raise ValueError(f"a delivery must ship the apply script {apply_script}")
    lines = [
        "#!/bin/sh",
        f"# wfga {service} delivery {digest[:12]}: {owner} files, then the bootstrap's apply script.",
        f"# Generated from the stack configuration; see {doc}.",
        "set -eu",
        'root="${WFGA_ROOT:-}"',
        f"# A fresh VM may get this while cloud-init still installs {service}: let the bootstrap finish first.",
        "if command -v cloud-init >/dev/null 2>&1; then",
        "    cloud-init status --wait >/dev/null 2>&1 || true",
        "fi",
        "umask 022",
    ]
    for f in files:
        lines += _write_file(f)
    lines += [f'"$root{apply_script}"', f'echo "wfga: {service} config {digest[:12]} is live"', ""]
    return Delivery(digest=digest, script="\n".join(lines))


def render_vm_delivery(
    mappings: Sequence[PortMapping],
    *,
    distro: Distro,
    connections: int = DEFAULT_CONNECTIONS,
    listen_address: str | None = None,
) -> Delivery:
    """The delivery of exactly the files :func:`render_user_data` writes for the same arguments."""
    return render_delivery(
        bootstrap_files(mappings, distro=distro, connections=connections, listen_address=listen_address)
    )
