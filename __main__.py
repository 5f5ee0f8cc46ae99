"""wfga: WildFire IM global access.  Thin shell: read config, plan, build components, export."""

from __future__ import annotations

import json

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws
import pulumi_cloudflare as cloudflare
from pulumi.runtime import config as runtime_config

from components.alicloud_nlb_access_point import AlicloudNlbAccessPoint, AlicloudNlbAccessPointArgs
from components.alicloud_vm_access_point import AlicloudVmAccessPoint, AlicloudVmAccessPointArgs
from components.aws_nlb_access_point import AwsNlbAccessPoint, AwsNlbAccessPointArgs
from components.aws_vm_access_point import AwsVmAccessPoint, AwsVmAccessPointArgs
from components.cen_core import CenCore, CenCoreArgs, CenIds
from components.cen_link import CenLink, CenLinkArgs
from components.cluster_ingress import ClusterIngress, ClusterIngressArgs
from components.object_storage import ObjectStorage, ObjectStorageArgs
from components.service_domain import ServiceDomain, ServiceDomainArgs
from components.service_domain_parts import EdgeProviders
from components.service_domain_zone import ServiceDomainZone, ServiceDomainZoneArgs
from components.vpc_peering import VpcPeering, VpcPeeringArgs
from wfga.model.config import EDGE_KEYS, NAMESPACE, ConfigError, StackConfig, parse_stack_config
from wfga.model.edge import EdgeConfig, parse_edge_config
from wfga.plan.edge import ACM_REGION, ALICLOUD_EDGE_REGION, cloudflare_zone_plans
from wfga.plan.outputs import node_outputs
from wfga.plan.portplan import AccessPointPlan, plan_stack


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


def read_edge_config() -> EdgeConfig:
    config = pulumi.Config(NAMESPACE)
    keys = [f"{NAMESPACE}:{key}" for key in EDGE_KEYS]
    values = {key: _decode(text) for key in keys if (text := config.get(key.split(":", 1)[1])) is not None}
    # The CLI hands secret key names to the program in the environment; the mocks set them directly.
    secret = set(runtime_config.get_config_secret_keys_env()) | {k for k in keys if runtime_config.is_config_secret(k)}
    try:
        return parse_edge_config(values, secret)
    except ConfigError as err:
        raise pulumi.RunError(str(err)) from None


cfg, plans = read_config()
edge = read_edge_config()
cluster = cfg.cluster
providers: dict[str, alicloud.Provider] = {}


aws_providers: list[aws.Provider] = []


def provider(region: str) -> alicloud.Provider:
    if region not in providers:
        providers[region] = alicloud.Provider(f"alicloud-{region}", region=region)
    return providers[region]


def aws_provider() -> aws.Provider:
    # pulumi-aws 7 takes `region=` per resource, so one explicit provider serves every region.
    if not aws_providers:
        regions = [cluster.region] if cluster.cloud == "aws" else []
        regions += [ap.region for ap in cfg.access_points if ap.cloud == "aws"]
        # CloudFront alone (a global service) needs no particular home region.
        aws_providers.append(aws.Provider("aws", region=regions[0] if regions else ACM_REGION))
    return aws_providers[0]


def cluster_provider() -> alicloud.Provider | aws.Provider:
    return aws_provider() if cluster.cloud == "aws" else provider(cluster.region)


core: CenIds | None = None
if cfg.core_stack is not None:
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
    point: AlicloudNlbAccessPoint | AlicloudVmAccessPoint | AwsNlbAccessPoint | AwsVmAccessPoint
    if ap.cloud == "aws" and ap.kind == "vm":
        point = AwsVmAccessPoint(plan.name, AwsVmAccessPointArgs(plan=plan, provider=aws_provider()))
    elif ap.cloud == "aws":
        point = AwsNlbAccessPoint(
            plan.name, AwsNlbAccessPointArgs(plan=plan, cluster_cidr=str(cluster.cidr), provider=aws_provider())
        )
    elif ap.kind == "vm":
        point = AlicloudVmAccessPoint(plan.name, AlicloudVmAccessPointArgs(plan=plan, provider=provider(ap.region)))
    else:
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
    if ap.link == "vpc-peering":
        VpcPeering(
            plan.name,
            VpcPeeringArgs(
                access_point=ap,
                cluster=cluster,
                vpc_id=point.vpc_id,
                route_table_id=point.route_table_id,
                provider=aws_provider(),
            ),
        )
    if ap.link == "cen":
        assert core is not None and isinstance(point, AlicloudNlbAccessPoint | AlicloudVmAccessPoint)
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
                cluster_provider=cluster_provider(),
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

if edge.service_domains or edge.object_storage is not None:
    edge_providers = EdgeProviders(
        # DCDN, CDN and Alibaba DNS are global services; any region's endpoint manages them.
        alicloud=provider(cluster.region if cluster.cloud == "alicloud" else ALICLOUD_EDGE_REGION)
        if edge.uses_alicloud
        else None,
        # CloudFront is global; its certificates name their region (us-east-1) themselves.
        aws=aws_provider() if edge.uses_aws else None,
        cloudflare=cloudflare.Provider(
            "cloudflare", api_token=pulumi.Config(NAMESPACE).require_secret("cloudflare_api_token")
        )
        if edge.uses_cloudflare
        else None,
    )
    if edge_providers.cloudflare is not None:
        for zone_plan in cloudflare_zone_plans(edge):
            ServiceDomainZone(
                zone_plan.zone.name, ServiceDomainZoneArgs(plan=zone_plan, provider=edge_providers.cloudflare)
            )
    pulumi.export(
        "service_domains",
        {
            sd.name: ServiceDomain(
                sd.name, ServiceDomainArgs(config=sd, zone=edge.zone(sd.zone), providers=edge_providers)
            ).summary
            for sd in edge.service_domains
        },
    )
    if edge.object_storage is not None:
        storage = ObjectStorage(
            edge.object_storage.cdn.domain,
            ObjectStorageArgs(
                config=edge.object_storage, zone=edge.zone(edge.object_storage.cdn.zone), providers=edge_providers
            ),
        )
        pulumi.export("object_storage", storage.summary)
        pulumi.export("media_config", storage.media_config)
