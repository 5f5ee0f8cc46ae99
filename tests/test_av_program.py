"""Audio/video under mocks: each TURN address followed to its EIP, VM, security group and user data;
the cluster admits Janus's RTP range from the access points with TURN, and from nowhere else."""

from __future__ import annotations

import base64
import copy
import hashlib
import ipaddress
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT, one, stack_plan, stack_values
from wfga.model.config import ConfigError
from wfga.offline.engine import Plan, ResourceRecord, run_program
from wfga.offline.rules import reveal
from wfga.offline.stackfile import SECRET_PLACEHOLDER, StackValues

SECRET = frozenset({"wfga:turn_password"})
SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")
EIPS = {"alicloud:ecs/eipAddress:EipAddress": "ipAddress", "aws:ec2/eip:Eip": "publicIp"}
ASSOCIATIONS = ("alicloud:ecs/eipAssociation:EipAssociation", "aws:ec2/eipAssociation:EipAssociation")
INSTANCES = ("alicloud:ecs/instance:Instance", "aws:ec2/instance:Instance")
GROUPS = ("alicloud:ecs/securityGroup:SecurityGroup", "aws:ec2/securityGroup:SecurityGroup")
ALI_RULE = "alicloud:ecs/securityGroupRule:SecurityGroupRule"
AWS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
RELAY = (49152, 65535)
RTP = (20000, 40000)


def plan_av(values: dict[str, Any], secret: frozenset[str] = SECRET) -> Plan:
    return run_program(StackValues(stack="test", values=values, secret_keys=secret), PROJECT)


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and (next(iter(value.items()), None) == SECRET_SIG)


def ingress(plan: Plan, group_id: str) -> set[tuple[str, int, int, str]]:
    """(protocol, first port, last port, source CIDR) of every ingress rule of the group, both clouds."""
    rules: set[tuple[str, int, int, str]] = set()
    for r in plan.of_type(ALI_RULE):
        if r.inputs["securityGroupId"] == group_id:
            assert r.inputs["type"] == "ingress" and r.inputs["policy"] == "accept"
            first, last = map(int, r.inputs["portRange"].split("/"))
            rules.add((r.inputs["ipProtocol"], first, last, r.inputs["cidrIp"]))
    for r in plan.of_type(AWS_RULE):
        if r.inputs["securityGroupId"] == group_id:
            rules.add(
                (r.inputs["ipProtocol"], int(r.inputs["fromPort"]), int(r.inputs["toPort"]), r.inputs["cidrIpv4"])
            )
    return rules


def behind(plan: Plan, ip: str) -> tuple[ResourceRecord, ResourceRecord, list[ResourceRecord]]:
    """A public TURN address -> its EIP, the instance it is associated with, and that VM's groups."""
    eip = one([r for t, attr in EIPS.items() for r in plan.of_type(t) if r.state[attr] == ip], f"EIP {ip}")
    allocation = eip.state.get("allocationId", eip.id)
    association = one(
        [r for t in ASSOCIATIONS for r in plan.of_type(t) if r.inputs["allocationId"] == allocation], "association"
    )
    instance = one([r for t in INSTANCES for r in plan.of_type(t) if r.id == association.inputs["instanceId"]], "VM")
    ids = instance.inputs.get("securityGroups") or instance.inputs["vpcSecurityGroupIds"]
    groups = [one([r for t in GROUPS for r in plan.of_type(t) if r.id == i], f"group {i}") for i in ids]
    return eip, instance, groups


def turn_ips(plan: Plan) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ap, item in plan.outputs["turn_servers"].items():
        ips = [url.split(":")[1] for url in item["urls"]]
        out[ap] = list(dict.fromkeys(ips))
    return out


def test_every_turn_address_is_a_protected_eip_on_a_vm_in_its_access_points_vpc():
    plan = stack_plan("av-demo")
    values = stack_values("av-demo")
    counts = {name: s.get("count", 1) for name, s in values["wfga:av"]["access_points"].items()}
    ips = turn_ips(plan)
    assert {ap: len(v) for ap, v in ips.items()} == counts == {"sg": 2, "va": 1}
    # zone -> subnet of each access point: the ones wfga creates (in the VPC it creates) or those given.
    created = {
        r.id: (r.inputs["vpcId"], r.inputs.get("zoneId") or r.inputs["availabilityZone"])
        for r in plan.resources
        if r.type in ("alicloud:vpc/switch:Switch", "aws:ec2/subnet:Subnet")
    }
    given = {
        subnet: (ap["vpc_id"], zone)
        for ap in values["wfga:access_points"]
        for zone, subnet in (ap.get("subnets") or ap.get("vswitches") or {}).items()
    }
    assert given  # av-demo holds an existing VPC (va) and one wfga creates (sg)
    zones: dict[str, list[str]] = {}
    for ap, addresses in ips.items():
        vpc = plan.outputs["access_points"][ap]["vpc_id"]
        for ip in addresses:
            eip, instance, groups = behind(plan, ip)
            assert eip.protect
            (group,) = groups
            assert group.inputs["vpcId"] == vpc
            subnet_vpc, zone = {**created, **given}[instance.inputs.get("vswitchId") or instance.inputs["subnetId"]]
            assert subnet_vpc == vpc
            zones.setdefault(ap, []).append(zone)
            assert instance.name.startswith(f"{ap}-turn-")
    # turn-N sits in zones[(N - 1) % len(zones)]: the two Singapore servers in different zones.
    assert zones == {"sg": ["ap-southeast-1a", "ap-southeast-1b"], "va": ["us-east-1a"]}


def test_turn_groups_open_exactly_3478_to_the_internet_and_the_relay_range_to_the_cluster_only():
    plan = stack_plan("av-demo")
    cluster = stack_values("av-demo")["wfga:cluster"]["cidr"]
    checked = 0
    for addresses in turn_ips(plan).values():
        for ip in addresses:
            _, _, (group,) = behind(plan, ip)
            assert ingress(plan, group.id) == {
                ("udp", 3478, 3478, "0.0.0.0/0"),
                ("tcp", 3478, 3478, "0.0.0.0/0"),
                ("udp", *RELAY, cluster),
            }
            checked += 1
    assert checked == 3


VARIANTS: list[tuple[str, dict[str, Any], set[tuple[str, int, int, str]]]] = [
    (
        "tls",
        {"tls": True},
        {("udp", 3478, 3478, "0.0.0.0/0"), ("tcp", 3478, 3478, "0.0.0.0/0"), ("tcp", 5349, 5349, "0.0.0.0/0")},
    ),
    ("tcp only", {"transports": "tcp"}, {("tcp", 3478, 3478, "0.0.0.0/0")}),
    ("udp only, own relay range", {"transports": "udp", "relay_ports": {"min": 30000, "max": 45000}}, set()),
]


@pytest.mark.parametrize(("turn", "public"), [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_public_rules_follow_transports_and_tls(turn: dict[str, Any], public: set[tuple[str, int, int, str]]):
    values = stack_values("av-demo")
    values["wfga:av"]["turn"].update(turn)
    values["wfga:av"]["access_points"]["va"]["admin_cidr"] = "198.51.100.0/24"
    plan = plan_av(values)
    relay = turn.get("relay_ports", {"min": RELAY[0], "max": RELAY[1]})
    cluster = values["wfga:cluster"]["cidr"]
    if turn.get("transports") == "udp":
        public = {("udp", 3478, 3478, "0.0.0.0/0")}
    for ap, addresses in turn_ips(plan).items():
        _, _, (group,) = behind(plan, addresses[0])
        rules = ingress(plan, group.id)
        ssh = {("tcp", 22, 22, "198.51.100.0/24")} if ap == "va" else set()
        assert rules == public | {("udp", relay["min"], relay["max"], cluster)} | ssh
    urls = plan.outputs["turn_servers"]["va"]["urls"]
    assert any(u.startswith("turns:") for u in urls) == bool(turn.get("tls"))


def test_cluster_admits_janus_rtp_only_from_access_points_with_turn():
    values = stack_values("av-demo")
    plan = stack_plan("av-demo")
    cluster_group = values["wfga:cluster"]["security_group_id"]
    cidrs = {ap["name"]: ap["vpc_cidr"] for ap in values["wfga:access_points"]}
    udp = {rule for rule in ingress(plan, cluster_group) if rule[0] == "udp"}
    assert udp == {("udp", *RTP, cidrs["sg"]), ("udp", *RTP, cidrs["va"])}
    # The IM ports stay TCP and the same as without audio/video.
    without = copy.deepcopy(values)
    del without["wfga:av"], without["wfga:turn_password"]
    tcp = {rule for rule in ingress(plan, cluster_group) if rule[0] == "tcp"}
    assert tcp == ingress(plan_av(without, frozenset()), cluster_group)

    # TURN in Singapore only: Virginia's CIDR gets no RTP opening, and no TURN VM.
    del values["wfga:av"]["access_points"]["va"]
    only_sg = plan_av(values)
    assert {r for r in ingress(only_sg, cluster_group) if r[0] == "udp"} == {("udp", *RTP, cidrs["sg"])}
    assert list(only_sg.outputs["turn_servers"]) == ["sg"]
    assert not [r for r in only_sg.of_type("aws:ec2/instance:Instance")]


def test_user_data_is_secret_and_configures_coturn_for_janus():
    plan = stack_plan("av-demo")
    values = stack_values("av-demo")
    turn = values["wfga:av"]["turn"]
    # The offline plan never decrypts: the password is the placeholder, and only its key is on the VM.
    key = hashlib.md5(f"{turn['user']}:{turn['realm']}:{SECRET_PLACEHOLDER}".encode()).hexdigest()
    instances = [r for t in INSTANCES for r in plan.of_type(t) if "-turn-" in r.name]
    assert len(instances) == 3
    for instance in instances:
        assert is_secret(instance.inputs["userData"])
        data = reveal(instance.inputs["userData"])
        assert SECRET_PLACEHOLDER not in data
        cloud = yaml.safe_load(data)
        assert cloud["packages"] == ["coturn"]
        (conf,) = [f["content"] for f in cloud["write_files"] if f["path"] == "/etc/wfga/turnserver.conf"]
        lines = conf.splitlines()
        assert f"user={turn['user']}:0x{key}" in lines
        assert [line for line in lines if line.startswith("allowed-peer-ip=")] == ["allowed-peer-ip=172.16.0.50"]
        assert {"min-port=49152", "max-port=65535", "listening-port=3478"} <= set(lines)
    # Outside secret inputs (user data, the delivery) no input carries the key, and no output
    # carries a password or a key.
    plain = [{k: v for k, v in r.inputs.items() if not is_secret(v)} for r in plan.resources]
    assert key not in repr(plain)
    assert key not in repr(plan.outputs) and SECRET_PLACEHOLDER not in repr(plan.outputs)


DELIVERY = {"alicloud:ecs/command:Command", "aws:ssm/document:Document"}
RUNS = {"alicloud:ecs/ecsInvocation:EcsInvocation", "aws:ssm/association:Association"}


def deliveries(plan: Plan) -> dict[str, ResourceRecord]:
    """``<ap>-turn-N`` -> the Command or Document that delivers its coturn config."""
    return {r.name.removesuffix("-coturn"): r for t in DELIVERY for r in plan.of_type(t) if r.name.endswith("-coturn")}


def delivery_script(record: ResourceRecord) -> str:
    if record.type == "alicloud:ecs/command:Command":
        return base64.b64decode(reveal(record.inputs["commandContent"])).decode()
    (step,) = json.loads(reveal(record.inputs["content"]))["mainSteps"]
    return "\n".join(step["inputs"]["runCommand"]) + "\n"


APPLY_LINE = '"$root/usr/local/sbin/wfga-apply-coturn"'
STAGED = "etc/wfga/turnserver.conf"


def run_delivery(record: ResourceRecord, where: Path) -> tuple[Path, list[str]]:
    """Runs the delivery under a scratch root with cloud-init recorded and the apply script's run
    recorded instead of done (test_turn_render tests the apply script against recorders)."""
    root, calls, bin_dir = where / "root", where / "calls", where / "bin"
    bin_dir.mkdir(parents=True)
    recorder = bin_dir / "cloud-init"
    recorder.write_text('#!/bin/sh\necho "cloud-init $*" >> "$CALLS"\n')
    recorder.chmod(0o755)
    lines = delivery_script(record).splitlines()
    assert lines.count(APPLY_LINE) == 1
    script = "\n".join('echo apply >> "$CALLS"' if line == APPLY_LINE else line for line in lines) + "\n"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "WFGA_ROOT": str(root), "CALLS": str(calls)}
    subprocess.run(["sh", "-c", script], env=env, check=True, timeout=30)
    return root, calls.read_text().splitlines()


def test_turn_vms_keep_running_and_a_config_change_travels_by_delivery(tmp_path: Path):
    base = stack_plan("av-demo")
    values = stack_values("av-demo")
    values["wfga:av"]["janus"]["private_ips"].append("172.16.0.51")  # a second Janus server
    changed = plan_av(values)
    turn_instances = {r.name: r for t in INSTANCES for r in base.of_type(t) if "-turn-" in r.name}
    assert {n: r.ignore_changes for n, r in turn_instances.items()} == {
        "sg-turn-1": ["userData", "imageId"],
        "sg-turn-2": ["userData", "imageId"],
        "va-turn-1": ["userData", "userDataBase64", "ami", "associatePublicIpAddress"],
    }
    # Everything but the delivery is as it was: same VMs, EIPs and associations.
    for t in (*INSTANCES, *EIPS, *ASSOCIATIONS):
        before = {r.name: (r.id, r.inputs) for r in base.of_type(t) if "-turn-" in r.name}
        after = {r.name: (r.id, r.inputs) for r in changed.of_type(t) if "-turn-" in r.name}
        if t in INSTANCES:  # only the ignored user data differs
            before = {n: (i, {k: v for k, v in x.items() if k != "userData"}) for n, (i, x) in before.items()}
            after = {n: (i, {k: v for k, v in x.items() if k != "userData"}) for n, (i, x) in after.items()}
        assert before == after, t
    old, new = deliveries(base), deliveries(changed)
    assert sorted(old) == sorted(new) == sorted(turn_instances)
    for vm in old:
        # A new name (the hash of the files) replaces the command or document, and with it the run.
        assert old[vm].inputs["name"] != new[vm].inputs["name"]
        assert new[vm].inputs["name"].startswith(f"wfga-{vm}-coturn-")
        old_root, _ = run_delivery(old[vm], tmp_path / "old" / vm)
        new_root, _ = run_delivery(new[vm], tmp_path / "new" / vm)
        assert "allowed-peer-ip=172.16.0.51" not in (old_root / STAGED).read_text().splitlines()
        assert "allowed-peer-ip=172.16.0.51" in (new_root / STAGED).read_text().splitlines()
    runs = {r.name: r for t in RUNS for r in changed.of_type(t) if r.name.endswith("-coturn")}
    commands = {r.id for r in changed.of_type("alicloud:ecs/command:Command")}
    assert {runs[f"{vm}-coturn"].inputs.get("commandId") in commands for vm in ("sg-turn-1", "sg-turn-2")} == {True}
    assert runs["va-turn-1-coturn"].inputs["name"] == new["va-turn-1"].inputs["name"]
    # The same config keeps its name: nothing runs again.
    again = plan_av(stack_values("av-demo"))
    assert {vm: r.inputs["name"] for vm, r in deliveries(again).items()} == {
        vm: r.inputs["name"] for vm, r in old.items()
    }


def test_the_delivery_is_secret_and_writes_exactly_what_the_user_data_bootstraps(tmp_path: Path):
    plan = stack_plan("av-demo")
    instances = {r.name: r for t in INSTANCES for r in plan.of_type(t) if "-turn-" in r.name}
    for vm, record in deliveries(plan).items():
        secret_input = "commandContent" if record.type == "alicloud:ecs/command:Command" else "content"
        assert is_secret(record.inputs[secret_input]) and not is_secret(record.inputs["name"])
        boot = yaml.safe_load(reveal(instances[vm].inputs["userData"]))["write_files"]
        root, calls = run_delivery(record, tmp_path / vm)
        assert calls == ["cloud-init status --wait", "apply"]
        assert any(line.startswith("user=wfchat:0x") for line in (root / STAGED).read_text().splitlines())
        for f in boot:
            written = root / f["path"].lstrip("/")
            assert written.read_text() == f["content"], f["path"]
            assert oct(written.stat().st_mode & 0o777) == oct(int(f["permissions"], 8)), f["path"]
        assert sorted(p.name for p in root.rglob("*") if p.is_file()) == sorted(Path(f["path"]).name for f in boot)


def test_eip_associations_of_turn_vms_go_first_on_a_deliberate_replacement():
    plan = stack_plan("av-demo")
    associations = [r for t in ASSOCIATIONS for r in plan.of_type(t) if "-turn-" in r.name]
    assert len(associations) == 3
    assert all(r.delete_before_replace for r in associations)


def test_aws_turn_vms_get_the_ssm_agent_role():
    plan = stack_plan("av-demo")
    (instance,) = [r for r in plan.of_type(INSTANCES[1]) if "-turn-" in r.name]
    (profile,) = [r for r in plan.of_type("aws:iam/instanceProfile:InstanceProfile") if r.name == "va-turn-ssm"]
    (role,) = [r for r in plan.of_type("aws:iam/role:Role") if r.name == "va-turn-ssm"]
    (attachment,) = [
        r for r in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if r.name == "va-turn-ssm"
    ]
    assert instance.inputs["iamInstanceProfile"] == profile.state["name"]
    assert profile.inputs["role"] == role.state["name"] == attachment.inputs["role"]
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    assert attachment.urn in instance.dependencies


def test_outputs_name_every_turn_server_and_the_janus_settings():
    plan = stack_plan("av-demo")
    sg, va = plan.outputs["turn_servers"]["sg"], plan.outputs["turn_servers"]["va"]
    for item in (sg, va):
        for url in item["urls"]:
            assert ipaddress.IPv4Address(url.split(":")[1])
        assert item["client"].count("addIceServer(") == len(item["urls"])
        assert item["link_kbps_per_call"] == {
            "to_cluster": 880,
            "from_cluster": 1360,
            "participants": 9,
            "via_access_point": 1,
        }
    # Only the CEN link has a cap wfga sets (cen_bandwidth_mbps, default 100).
    assert (sg["calls_within_link"], va["calls_within_link"]) == (100_000 // 1360, None)
    assert 'rtp_port_range = "20000-40000"' in plan.outputs["janus_config"]
    assert "keep_private_host = true" in plan.outputs["janus_config"]


def test_pinned_turn_eips_are_used_not_created():
    values = stack_values("av-demo")
    values["wfga:av"]["access_points"]["sg"]["pinned_eips"] = [
        {"server": 2, "allocation_id": "eip-t5pinnedturn0002", "address": "47.236.10.2"}
    ]
    plan = plan_av(values)
    assert turn_ips(plan)["sg"][1] == "47.236.10.2"
    association = one(
        [r for r in plan.of_type(ASSOCIATIONS[0]) if r.inputs["allocationId"] == "eip-t5pinnedturn0002"], "association"
    )
    assert association.name == "sg-turn-2-eip"
    created = [r.name for r in plan.of_type("alicloud:ecs/eipAddress:EipAddress") if "-turn-" in r.name]
    assert created == ["sg-turn-1-eip"]


def test_audio_video_off_builds_nothing_and_needs_no_password():
    values = stack_values("av-demo")
    values["wfga:av"]["enabled"] = False
    del values["wfga:turn_password"]
    plan = plan_av(values, frozenset())
    assert "turn_servers" not in plan.outputs and "janus_config" not in plan.outputs
    assert not [r for r in plan.resources if "turn" in r.type.lower() or "-turn-" in r.name]


MISTAKES: list[tuple[str, Any, frozenset[str], str]] = [
    ("no password", lambda v: v.pop("wfga:turn_password"), frozenset(), "wfga:turn_password: required"),
    ("plain password", lambda v: v.update({"wfga:turn_password": "hunter2"}), frozenset(), "stored as plain text"),
    (
        "unknown access point",
        lambda v: v["wfga:av"]["access_points"].update({"tokyo": {"instance_type": "x"}}),
        SECRET,
        "wfga:av.access_points.tokyo: no access point tokyo",
    ),
    (
        "janus outside the cluster",
        lambda v: v["wfga:av"]["janus"].update(private_ips=["10.99.0.5"]),
        SECRET,
        "wfga:av.janus.private_ips[0]: 10.99.0.5 is outside the cluster cidr",
    ),
    ("misspelt key", lambda v: v["wfga:av"]["turn"].update(relm="x"), SECRET, "wfga:av.turn.relm: unknown key"),
]


@pytest.mark.parametrize(("mutate", "secret", "expected"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_mistakes_stop_the_plan_before_any_resource(mutate: Any, secret: frozenset[str], expected: str):
    values = stack_values("av-demo")
    mutate(values)
    with pytest.raises(ConfigError) as err:
        plan_av(values, secret)
    assert expected in str(err.value)
    assert "hunter2" not in str(err.value)


def test_aws_cluster_turn_in_a_vpc_wfga_creates_waits_for_its_gateway_and_opens_rtp_on_the_cluster():
    values = stack_values("aws-demo")
    values["wfga:av"] = {
        "janus": {"private_ips": ["10.0.3.50", "10.0.3.51"]},
        "turn": {"realm": "turn.example.com", "user": "wfchat"},
        "access_points": {"fra": {"instance_type": "c7i.large", "count": 3}},
    }
    values["wfga:turn_password"] = SECRET_PLACEHOLDER
    plan = plan_av(values)
    gateways = {r.inputs["vpcId"]: r.urn for r in plan.of_type("aws:ec2/internetGateway:InternetGateway")}
    vpc = plan.outputs["access_points"]["fra"]["vpc_id"]
    associations = [r for r in plan.of_type(ASSOCIATIONS[1]) if "-turn-" in r.name]
    assert sorted(r.name for r in associations) == ["fra-turn-1-eip", "fra-turn-2-eip", "fra-turn-3-eip"]
    assert all(gateways[vpc] in r.dependencies for r in associations)
    cluster = values["wfga:cluster"]["security_group_id"]
    assert {r for r in ingress(plan, cluster) if r[0] == "udp"} == {("udp", *RTP, "10.32.0.0/16")}
    (conf,) = {
        f["content"]
        for r in plan.of_type(INSTANCES[1])
        if "-turn-" in r.name
        for f in yaml.safe_load(reveal(r.inputs["userData"]))["write_files"]
        if f["path"] == "/etc/wfga/turnserver.conf"
    }
    assert [x for x in conf.splitlines() if x.startswith("allowed-peer-ip=")] == [
        "allowed-peer-ip=10.0.3.50",
        "allowed-peer-ip=10.0.3.51",
    ]
