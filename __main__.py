"""wfga: WildFire IM global access.  Thin shell: read config, plan, build components, export."""

from __future__ import annotations

import json

import pulumi
import pulumi_alicloud as alicloud
from pulumi.runtime import config as runtime_config

from components.alicloud_nlb_access_point import AlicloudNlbAccessPoint, AlicloudNlbAccessPointArgs
from components.cen_core import CenCore, CenCoreArgs, CenIds
from components.cen_link import CenLink, CenLinkArgs
from components.cluster_ingress import ClusterIngress, ClusterIngressArgs
from wfga.config import NAMESPACE, ConfigError, StackConfig, parse_stack_config
from wfga.outputs import node_outputs
from wfga.portplan import AccessPointPlan, plan_stack


def _decode(text: str) -> object:
    # Structured config reaches the program as JSON text, plain strings as themselves.
    try:
        return json.loads(text)
    except ValueError:
        return text


def read_config() -> tuple[StackConfig, list[AccessPointPlan]]:
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    config = pulumi.Config(NAMESPACE)
    values = {}
    for key in sorted(k for k in keys if k.startswith(f"{NAMESPACE}:")):
        text = config.get(key.split(":", 1)[1])
        if text is not None:
            values[key] = _decode(text)
    try:
        cfg = parse_stack_config(values)
        return cfg, plan_stack(cfg)
    except ConfigError as err:
        raise pulumi.RunError(str(err)) from None


cfg, plans = read_config()
cluster = cfg.cluster
providers: dict[str, alicloud.Provider] = {}


def provider(region: str) -> alicloud.Provider:
    if region not in providers:
        providers[region] = alicloud.Provider(f"alicloud-{region}", region=region)
    return providers[region]


core: CenIds | None = None
if cfg.layout == "region":
    assert cfg.core_stack is not None
    cen = pulumi.StackReference(cfg.core_stack).require_output("cen")
    core = CenIds(
        cen_id=cen.apply(lambda c: str(c["cen_id"])),
        transit_router_id=cen.apply(lambda c: str(c["transit_router_id"])),
        route_table_id=cen.apply(lambda c: str(c["route_table_id"])),
        vpc_attachment_id=cen.apply(lambda c: str(c["vpc_attachment_id"])),
    )
elif cfg.layout == "core" or any(ap.link == "cen" for ap in cfg.access_points):
    core = CenCore(f"{cluster.name}-cen", CenCoreArgs(cluster=cluster, provider=provider(cluster.region))).ids
    pulumi.export("cen", core.as_output())

addresses: dict[tuple[str, str, str], pulumi.Output[str]] = {}
access_points: dict[str, object] = {}
for plan in plans:
    ap = plan.config
    point = AlicloudNlbAccessPoint(plan.name, AlicloudNlbAccessPointArgs(plan=plan, provider=provider(ap.region)))
    addresses.update(point.addresses)
    access_points[plan.name] = {
        "region": ap.region,
        "vpc_id": point.vpc_id,
        "load_balancers": {
            lb.key: {
                "id": point.load_balancer_ids[lb.key],
                "public_ips": [point.addresses[(plan.name, lb.key, zone)] for zone in lb.zones],
                "nodes": list(lb.nodes),
            }
            for lb in plan.load_balancers
        },
    }
    if ap.link == "cen":
        assert core is not None
        CenLink(
            plan.name,
            CenLinkArgs(
                access_point=ap,
                cluster=cluster,
                core=core,
                vpc_id=point.vpc_id,
                route_table_id=point.route_table_id,
                vswitch_ids=point.vswitch_ids,
                provider=provider(ap.region),
                cluster_provider=provider(cluster.region),
            ),
        )
    if cluster.security_group_id is not None:
        ClusterIngress(
            plan.name,
            ClusterIngressArgs(
                access_point=ap,
                cluster=cluster,
                security_group_id=cluster.security_group_id,
                cluster_provider=provider(cluster.region),
            ),
        )

if plans:
    keys = list(addresses)
    nodes = pulumi.Output.all(*addresses.values()).apply(
        lambda ips: node_outputs(cfg, plans, dict(zip(keys, ips, strict=True)))
    )
    for name in ("backup_addresses", "node_config", "backup_entries", "port_map"):
        pulumi.export(name, nodes[name])
    pulumi.export("access_points", access_points)
