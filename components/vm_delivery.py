"""Config delivery to running VMs, shared by the VM access points (nginx) and the TURN relays (coturn).

A VM's user data only bootstraps it; later configs travel as a Cloud Assistant command (Alibaba
Cloud) or a Systems Manager document (AWS) whose name carries ``version``, the hash of the files
it writes: a new config gets a new name, which replaces the command and its invocation or
association, which runs it once.
"""

from __future__ import annotations

import base64
import json

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws

# Seconds the delivery may run on a VM (ecs.Command `timeout`, default 60; the SSM step's
# `timeoutSeconds`): on a fresh VM it first waits for cloud-init to install nginx or coturn.
DELIVERY_TIMEOUT_S = 1200
# The provider waits 1 minute by default for an Invocation to succeed; a fresh VM needs longer.
INVOCATION_CREATE_TIMEOUT = "25m"
SSM_CORE_POLICY = "policy/AmazonSSMManagedInstanceCore"


def partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws"


def ssm_document(script: str, description: str, step_name: str = "deliverNginxConfig") -> str:
    """A Command document (schema 2.2) that runs ``script`` as one shell script."""
    step = {
        "action": "aws:runShellScript",
        "name": step_name,
        "inputs": {"timeoutSeconds": str(DELIVERY_TIMEOUT_S), "runCommand": script.splitlines()},
    }
    return json.dumps({"schemaVersion": "2.2", "description": description, "mainSteps": [step]}, indent=1)


def ssm_instance_profile(
    name: str, description: str, region: str, opts: pulumi.ResourceOptions
) -> tuple[aws.iam.InstanceProfile, aws.iam.RolePolicyAttachment]:
    """An instance profile whose role lets the Systems Manager agent run documents on the VM.

    Returns the profile and the policy attachment, which an instance should depend on: without the
    policy the agent does not register, and an association waits for it in vain.
    """
    # IAM is global; the provider names the role and profile (unique per account).
    role = aws.iam.Role(
        f"{name}-ssm",
        description=description,
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
        tags={"Name": f"wfga-{name}-ssm"},
        opts=opts,
    )
    core = aws.iam.RolePolicyAttachment(
        f"{name}-ssm",
        role=role.name,
        policy_arn=f"arn:{partition(region)}:iam::aws:{SSM_CORE_POLICY}",
        opts=opts,
    )
    return aws.iam.InstanceProfile(f"{name}-ssm", role=role.name, opts=opts), core


def ssm_delivery(
    name: str,
    *,
    version: pulumi.Input[str],
    content: pulumi.Input[str],
    instance_id: pulumi.Input[str],
    region: str,
    opts: pulumi.ResourceOptions,
) -> None:
    """A Systems Manager document ``wfga-<name>-<version>`` holding ``content``, run once on the instance."""
    document = aws.ssm.Document(
        name,
        name=pulumi.Output.concat(f"wfga-{name}-", version),
        document_type="Command",
        document_format="JSON",
        content=content,
        region=region,
        tags={"Name": f"wfga-{name}"},
        opts=opts,
    )
    aws.ssm.Association(
        name,
        name=document.name,
        association_name=f"wfga-{name}",
        targets=[aws.ssm.AssociationTargetArgs(key="InstanceIds", values=[instance_id])],
        max_concurrency="1",
        max_errors="0",
        wait_for_success_timeout_seconds=DELIVERY_TIMEOUT_S + 300,
        region=region,
        opts=opts,
    )


def cloud_assistant_delivery(
    name: str,
    *,
    description: pulumi.Input[str],
    version: pulumi.Input[str],
    script: pulumi.Input[str],
    instance_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> None:
    """A Cloud Assistant command ``wfga-<name>-<version>`` running ``script``, invoked once on the instance."""
    command = alicloud.ecs.Command(
        name,
        name=pulumi.Output.concat(f"wfga-{name}-", version),
        description=description,
        # "The Base64-encoded content of the command" (SDK docstring); a secret script stays secret.
        command_content=pulumi.Output.from_input(script).apply(lambda s: base64.b64encode(s.encode()).decode()),
        type="RunShellScript",
        timeout=DELIVERY_TIMEOUT_S,
        opts=opts,
    )
    alicloud.ecs.EcsInvocation(
        name,
        command_id=command.id,
        instance_ids=[instance_id],
        repeat_mode="Once",
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create=INVOCATION_CREATE_TIMEOUT))
        ),
    )
