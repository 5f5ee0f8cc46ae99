"""Render the cloud-init user data (``#cloud-config``) of a VM access point.

Pure: mappings and a distribution name in, YAML text out.  The user data

* installs nginx and its stream module with the distribution's package manager;
* writes the rendered ``nginx.conf`` to a staging path, kernel settings to ``/etc/sysctl.d`` and a
  systemd drop-in that raises nginx's open-file limit;
* runs one apply script that tests the staged config, installs it and reloads nginx when it is
  already running (starts it otherwise).  A later config change ships a new staged file and runs
  the same script, so established long links survive every change.

Verified here: the output passes cloud-init's own schema check (Debian's cloud-init 22.4), and the
Debian package names and module directory match Debian 12.  Unverified (taken from public
packaging, not tried on an image): that Ubuntu's packages match Debian's; that Alibaba Cloud
Linux 3 and Amazon Linux 2023 ship ``nginx`` and ``nginx-mod-stream`` in their default
repositories, put the module snippet in ``/usr/share/nginx/modules/`` and run workers as ``nginx``;
and that SELinux, when enforcing on such an image, lets nginx bind the public ports and connect to
the nodes (it is not configured here).
"""

from __future__ import annotations

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

# The nginx units of Debian and the RHEL family both reload with `nginx -s reload`, which starts new
# workers on the new config while old workers keep serving their open connections until they close.
APPLY = f"""#!/bin/sh
# Applies the staged wfga nginx config.  Reload, never restart: a restart would cut every long link
# of every user on this access point.  The live config is only replaced once nginx accepts the new
# one, so a bad change can never leave a config behind that breaks the next boot.
set -eu
staged={STAGED_CONF}
systemctl restart systemd-sysctl.service
systemctl daemon-reload
nginx -t -q -c "$staged"
install -m 0644 "$staged" /etc/nginx/nginx.conf
systemctl enable nginx
if systemctl is-active --quiet nginx; then
    systemctl reload nginx
else
    systemctl start nginx
fi
"""


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


def render_user_data(
    mappings: Sequence[PortMapping],
    *,
    distro: Distro,
    connections: int = DEFAULT_CONNECTIONS,
    listen_address: str | None = None,
) -> str:
    """``#cloud-config`` user data that turns a fresh ``distro`` VM into the access point for ``mappings``."""
    profile = _profile(distro)
    conf = nginx_conf(mappings, distro=distro, connections=connections, listen_address=listen_address)
    sizing = Sizing(connections=connections, listeners=len(mappings))
    limits = f"[Service]\nLimitNOFILE={sizing.rlimit_nofile}\n"
    data: dict[str, Any] = {
        "package_update": True,
        "packages": list(profile.packages),
        "write_files": [
            {"path": STAGED_CONF, "permissions": "0644", "content": conf},
            {
                "path": SYSCTL_FILE,
                "permissions": "0644",
                "content": _sysctl_file(sysctl_settings(mappings, connections)),
            },
            {"path": LIMITS_DROP_IN, "permissions": "0644", "content": limits},
            {"path": APPLY_SCRIPT, "permissions": "0755", "content": APPLY},
        ],
        # runcmd runs after package installation, so nginx and its unit exist by then.
        "runcmd": [[APPLY_SCRIPT]],
    }
    return "#cloud-config\n" + yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, width=1000)
