"""The front door: one component that owns a cluster's whole global access.

It takes the user-facing configuration (the same models a stack file is parsed into), plans it,
and builds the cluster side, every access point with its private link, cluster ingress and TURN
relay, and the service-domain and object-storage edge.  The knowledge of which component serves which cloud and
kind, which link joins which pair, and which provider serves which region lives here, so any
program (this repository's ``__main__.py``, an ``examples/`` program, or another Pulumi program)
gets the same infrastructure from the same config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws

from wfga.model.av import AvConfig
from wfga.model.config import NAMESPACE, AccessPoint, ConfigError, StackConfig
from wfga.model.edge import EdgeConfig
from wfga.plan.edge import ACM_REGION, ALICLOUD_EDGE_REGION, bucket_settings, cloudflare_zone_plans, storage_hosts
from wfga.plan.outputs import node_outputs
from wfga.plan.portplan import AccessPointPlan, plan_stack
from wfga.plan.turn import janus_lines, media_outputs

from .alicloud_nlb_access_point import AlicloudNlbAccessPoint, AlicloudNlbAccessPointArgs
from .alicloud_turn_relay import AlicloudTurnRelay, AlicloudTurnRelayArgs
from .alicloud_vm_access_point import AlicloudVmAccessPoint, AlicloudVmAccessPointArgs
from .aws_nlb_access_point import AwsNlbAccessPoint, AwsNlbAccessPointArgs
from .aws_turn_relay import AwsTurnRelay, AwsTurnRelayArgs
from .aws_vm_access_point import AwsVmAccessPoint, AwsVmAccessPointArgs
from .cen_core import CenCore, CenCoreArgs, CenIds
from .cen_link import CenLink, CenLinkArgs
from .cluster_ingress import ClusterIngress, ClusterIngressArgs
from .object_storage import ObjectStorage, ObjectStorageArgs
from .service_domain import ServiceDomain, ServiceDomainArgs
from .service_domain_parts import EdgeProviders
from .vpc_peering import VpcPeering, VpcPeeringArgs

if TYPE_CHECKING:
    # Imported by _cloudflare_provider and _cloudflare_zones, which run only when the edge uses
    # Cloudflare: pulumi_cloudflare takes over a second and over 100 MB to import, which a plan of
    # any other stack should not pay.
    import pulumi_cloudflare as cloudflare

AccessPointComponent = AlicloudNlbAccessPoint | AlicloudVmAccessPoint | AwsNlbAccessPoint | AwsVmAccessPoint


@dataclass(frozen=True)
class GlobalAccessArgs:
    """The stack's configuration as validated models (see ``wfga.model``), not plans."""

    config: StackConfig
    edge: EdgeConfig = field(default_factory=EdgeConfig)
    # Only for a service domain or storage on Cloudflare: the API token, kept secret.
    cloudflare_api_token: pulumi.Input[str] | None = None
    # Required when audio/video is on (config.av): the TURN password every client shares
    # (wfga:turn_password), kept secret; a TURN relay goes into each access point config.av names.
    turn_password: pulumi.Input[str] | None = None


class GlobalAccess(pulumi.ComponentResource):
    """Cluster side, access points, links, cluster ingress and edge of one WildFire IM cluster.

    Outputs that do not apply to the configuration (no access point, no CEN built here, no edge)
    are None.
    """

    backup_addresses: pulumi.Output[Any] | None
    node_config: pulumi.Output[Any] | None
    backup_entries: pulumi.Output[Any] | None
    port_map: pulumi.Output[Any] | None
    access_points: dict[str, Any] | None
    cen: dict[str, pulumi.Input[str]] | None
    service_domains: dict[str, Any] | None
    object_storage: pulumi.Output[Any] | None
    media_config: list[str] | None
    turn_servers: pulumi.Output[Any] | None
    janus_config: str | None

    def __init__(self, name: str, args: GlobalAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Plan before registering anything: a config the port plan refuses registers no resource.
        try:
            plans = plan_stack(args.config)
        except ConfigError as err:
            raise pulumi.RunError(str(err)) from None
        if args.config.audio_video is not None and args.turn_password is None:
            raise pulumi.RunError(f"{NAMESPACE}:turn_password: required with {NAMESPACE}:av; set it as a secret")
        super().__init__("wfga:global_access:GlobalAccess", name, None, opts)
        self._cfg = args.config
        self._av: AvConfig | None = args.config.audio_video
        self._turn_password = args.turn_password
        self._alicloud: dict[str, alicloud.Provider] = {}
        self._aws: aws.Provider | None = None
        self.cen = None
        core = self._core()
        self._access_points(plans, core)
        self._edge(args.edge, args.cloudflare_api_token)
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, Any]:
        """The outputs that apply to this configuration, by name: what a program exports."""
        every = {
            "cen": self.cen,
            "backup_addresses": self.backup_addresses,
            "node_config": self.node_config,
            "backup_entries": self.backup_entries,
            "port_map": self.port_map,
            "access_points": self.access_points,
            "service_domains": self.service_domains,
            "object_storage": self.object_storage,
            "media_config": self.media_config,
            "turn_servers": self.turn_servers,
            "janus_config": self.janus_config,
        }
        return {name: value for name, value in every.items() if value is not None}

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        # These resources were top-level before this component existed; the alias keeps their
        # (and, by inheritance, their children's) old URNs, so a deployed stack updates in place.
        return pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)], **kwargs)

    def _alicloud_provider(self, region: str) -> alicloud.Provider:
        if region not in self._alicloud:
            self._alicloud[region] = alicloud.Provider(f"alicloud-{region}", region=region, opts=self._child())
        return self._alicloud[region]

    def _aws_provider(self) -> aws.Provider:
        # pulumi-aws 7 takes `region=` per resource, so one explicit provider serves every region.
        if self._aws is None:
            cfg = self._cfg
            regions = [cfg.cluster.region] if cfg.cluster.cloud == "aws" else []
            regions += [ap.region for ap in cfg.access_points if ap.cloud == "aws"]
            # CloudFront alone (a global service) needs no particular home region.
            self._aws = aws.Provider("aws", region=regions[0] if regions else ACM_REGION, opts=self._child())
        return self._aws

    def _cluster_provider(self) -> alicloud.Provider | aws.Provider:
        cluster = self._cfg.cluster
        return self._aws_provider() if cluster.cloud == "aws" else self._alicloud_provider(cluster.region)

    def _core(self) -> CenIds | None:
        cfg = self._cfg
        if cfg.core_stack is not None:
            reference = pulumi.StackReference(cfg.core_stack, opts=self._child())
            cen = reference.require_output("cen")
            return CenIds(
                cen_id=cen.apply(lambda c: str(c["cen_id"])),
                transit_router_id=cen.apply(lambda c: str(c["transit_router_id"])),
                route_table_id=cen.apply(lambda c: str(c["route_table_id"])),
                vpc_attachment_id=cen.apply(lambda c: str(c["vpc_attachment_id"])),
            )
        if cfg.layout == "core" or any(ap.link == "cen" for ap in cfg.access_points):
            core = CenCore(
                f"{cfg.cluster.name}-cen",
                CenCoreArgs(cluster=cfg.cluster, provider=self._alicloud_provider(cfg.cluster.region)),
                self._child(),
            ).ids
            self.cen = core.as_output()
            return core
        return None

    def _access_point(self, plan: AccessPointPlan) -> AccessPointComponent:
        ap, cluster = plan.config, self._cfg.cluster
        if ap.cloud == "aws" and ap.kind == "vm":
            return AwsVmAccessPoint(
                plan.name, AwsVmAccessPointArgs(plan=plan, provider=self._aws_provider()), self._child()
            )
        if ap.cloud == "aws":
            return AwsNlbAccessPoint(
                plan.name,
                AwsNlbAccessPointArgs(plan=plan, cluster_cidr=str(cluster.cidr), provider=self._aws_provider()),
                self._child(),
            )
        provider = self._alicloud_provider(ap.region)
        if ap.kind == "vm":
            return AlicloudVmAccessPoint(
                plan.name, AlicloudVmAccessPointArgs(plan=plan, provider=provider), self._child()
            )
        return AlicloudNlbAccessPoint(
            plan.name, AlicloudNlbAccessPointArgs(plan=plan, provider=provider), self._child()
        )

    def _turn_relay(self, ap: AccessPoint, point: AccessPointComponent) -> list[pulumi.Output[str]]:
        """The access point's TURN relay, in its VPC; its public addresses, turn-1 first."""
        av, password, cidr = self._av, self._turn_password, str(self._cfg.cluster.cidr)
        assert av is not None and password is not None
        opts = pulumi.ResourceOptions(parent=self)
        relay: AlicloudTurnRelay | AwsTurnRelay
        if ap.cloud == "aws":
            relay = AwsTurnRelay(
                ap.name,
                AwsTurnRelayArgs(
                    access_point=ap,
                    av=av,
                    cluster_cidr=cidr,
                    network=point.network,
                    turn_password=password,
                    provider=self._aws_provider(),
                ),
                opts,
            )
        else:
            relay = AlicloudTurnRelay(
                ap.name,
                AlicloudTurnRelayArgs(
                    access_point=ap,
                    av=av,
                    cluster_cidr=cidr,
                    network=point.network,
                    turn_password=password,
                    provider=self._alicloud_provider(ap.region),
                ),
                opts,
            )
        return list(relay.addresses.values())

    def _access_points(self, plans: list[AccessPointPlan], core: CenIds | None) -> None:
        cfg, cluster, av = self._cfg, self._cfg.cluster, self._av
        addresses: dict[tuple[str, str, str], pulumi.Output[str]] = {}
        access_points: dict[str, Any] = {}
        turn_addresses: dict[str, list[pulumi.Output[str]]] = {}
        for plan in plans:
            ap = plan.config
            point = self._access_point(plan)
            has_turn = av is not None and ap.name in av.access_points
            if has_turn:
                turn_addresses[ap.name] = self._turn_relay(ap, point)
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
                        provider=self._aws_provider(),
                    ),
                    self._child(),
                )
            if ap.link == "cen":
                # The config model allows link cen only between Alibaba Cloud VPCs, and a CEN
                # access point always gets a core (built above or read from the core stack).
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
                        provider=self._alicloud_provider(ap.region),
                        cluster_provider=self._alicloud_provider(cluster.region),
                    ),
                    self._child(),
                )
            if cluster.security_group_id is not None:
                ClusterIngress(
                    plan.name,
                    ClusterIngressArgs(
                        access_point=ap,
                        cluster=cluster,
                        security_group_id=cluster.security_group_id,
                        cluster_provider=self._cluster_provider(),
                        janus=av.janus if av is not None and has_turn else None,
                    ),
                    self._child(),
                )
        self.backup_addresses = self.node_config = self.backup_entries = self.port_map = None
        self.access_points = None
        if plans:
            keys = list(addresses)
            nodes = pulumi.Output.all(*addresses.values()).apply(
                lambda ips: node_outputs(cfg, plans, dict(zip(keys, ips, strict=True)))
            )
            self.backup_addresses = nodes["backup_addresses"]
            self.node_config = nodes["node_config"]
            self.backup_entries = nodes["backup_entries"]
            self.port_map = nodes["port_map"]
            self.access_points = access_points
        self.turn_servers = self.janus_config = None
        if av is not None:
            # wfga caps a CEN link (cen_bandwidth_mbps); peering and existing links have no cap of its own.
            caps = {ap.name: ap.cen_bandwidth_mbps if ap.link == "cen" else None for ap in cfg.access_points}
            names = list(turn_addresses)
            counts = [len(turn_addresses[n]) for n in names]
            flat = [ip for n in names for ip in turn_addresses[n]]

            def by_access_point(ips: list[str]) -> dict[str, list[str]]:
                out, start = {}, 0
                for n, count in zip(names, counts, strict=True):
                    out[n], start = ips[start : start + count], start + count
                return out

            self.turn_servers = pulumi.Output.all(*flat).apply(
                lambda ips: media_outputs(av, by_access_point(list(ips)), caps)
            )
            self.janus_config = janus_lines(av.janus)

    def _cloudflare_provider(self, api_token: pulumi.Input[str] | None) -> cloudflare.Provider:
        if api_token is None:
            raise pulumi.RunError(f"{NAMESPACE}:cloudflare_api_token: required for Cloudflare; set it as a secret")
        import pulumi_cloudflare as cloudflare  # noqa: PLC0415 - see the TYPE_CHECKING import

        return cloudflare.Provider("cloudflare", api_token=api_token, opts=self._child())

    def _cloudflare_zones(self, edge: EdgeConfig, provider: cloudflare.Provider) -> None:
        from .service_domain_zone import ServiceDomainZone, ServiceDomainZoneArgs  # noqa: PLC0415 - as above

        for zone_plan in cloudflare_zone_plans(edge):
            ServiceDomainZone(
                zone_plan.zone.name, ServiceDomainZoneArgs(plan=zone_plan, provider=provider), self._child()
            )

    def _edge(self, edge: EdgeConfig, cloudflare_api_token: pulumi.Input[str] | None) -> None:
        self.service_domains = self.object_storage = self.media_config = None
        if not edge.service_domains and edge.object_storage is None:
            return
        cluster = self._cfg.cluster
        cloudflare_provider = self._cloudflare_provider(cloudflare_api_token) if edge.uses_cloudflare else None
        providers = EdgeProviders(
            # DCDN, CDN and Alibaba DNS are global services; any region's endpoint manages them.
            alicloud=self._alicloud_provider(cluster.region if cluster.cloud == "alicloud" else ALICLOUD_EDGE_REGION)
            if edge.uses_alicloud
            else None,
            # CloudFront is global; its certificates name their region (us-east-1) themselves.
            aws=self._aws_provider() if edge.uses_aws else None,
            cloudflare=cloudflare_provider,
        )
        if cloudflare_provider is not None:
            self._cloudflare_zones(edge, cloudflare_provider)
        self.service_domains = {
            sd.name: ServiceDomain(
                sd.name, ServiceDomainArgs(config=sd, zone=edge.zone(sd.zone), providers=providers), self._child()
            ).summary
            for sd in edge.service_domains
        }
        store = edge.object_storage
        if store is not None:
            front = store.upload_front
            storage = ObjectStorage(
                # The first download host, the name this component had when the storage had one host.
                storage_hosts(store)[0].domain,
                ObjectStorageArgs(
                    config=store,
                    zone=edge.zone(store.cdn.zone),
                    providers=providers,
                    # Bucket settings go through the bucket's own region.
                    oss_provider=self._alicloud_provider(str(store.region))
                    if store.kind == "oss" and bucket_settings(store)
                    else None,
                    upload_zone=edge.zone(front.zone) if front is not None else None,
                ),
                self._child(),
            )
            self.object_storage = storage.summary
            self.media_config = storage.media_config
