"""Pulumi ComponentResources: each translates part of the pure plan in ``wfga`` into resources.

Installed (``pip install .``), this folder is ``wfga.components``.  ``GlobalAccess`` builds a whole
cluster's global access from the configuration models; the lower components are public too, for a
program that composes an access point, a link or a cluster ingress itself (see ``examples/``).
``components.package`` serves them to programs in other languages (see ``package/``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .alicloud_nlb_access_point import AlicloudNlbAccessPoint, AlicloudNlbAccessPointArgs
from .alicloud_vm_access_point import AlicloudVmAccessPoint, AlicloudVmAccessPointArgs
from .aws_nlb_access_point import AwsNlbAccessPoint, AwsNlbAccessPointArgs
from .aws_vm_access_point import AwsVmAccessPoint, AwsVmAccessPointArgs
from .cen_core import CenCore, CenCoreArgs, CenIds
from .cen_link import CenLink, CenLinkArgs
from .cluster_ingress import ClusterIngress, ClusterIngressArgs
from .global_access import GlobalAccess, GlobalAccessArgs
from .object_storage import ObjectStorage, ObjectStorageArgs
from .service_domain import ServiceDomain, ServiceDomainArgs
from .service_domain_parts import EdgeProviders
from .stack_config import load_stack_config
from .vpc_peering import VpcPeering, VpcPeeringArgs

if TYPE_CHECKING:
    from .service_domain_zone import ServiceDomainZone, ServiceDomainZoneArgs

# Names whose modules import pulumi_cloudflare (over a second and 100 MB per process): imported on first use
# (PEP 562), so a program without a Cloudflare edge never loads it.
_LAZY = {"ServiceDomainZone": ".service_domain_zone", "ServiceDomainZoneArgs": ".service_domain_zone"}

__all__ = [
    "AlicloudNlbAccessPoint",
    "AlicloudNlbAccessPointArgs",
    "AlicloudVmAccessPoint",
    "AlicloudVmAccessPointArgs",
    "AwsNlbAccessPoint",
    "AwsNlbAccessPointArgs",
    "AwsVmAccessPoint",
    "AwsVmAccessPointArgs",
    "CenCore",
    "CenCoreArgs",
    "CenIds",
    "CenLink",
    "CenLinkArgs",
    "ClusterIngress",
    "ClusterIngressArgs",
    "EdgeProviders",
    "GlobalAccess",
    "GlobalAccessArgs",
    "ObjectStorage",
    "ObjectStorageArgs",
    "ServiceDomain",
    "ServiceDomainArgs",
    "ServiceDomainZone",
    "ServiceDomainZoneArgs",
    "VpcPeering",
    "VpcPeeringArgs",
    "load_stack_config",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
