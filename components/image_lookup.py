"""The image a VM boots when the stack names none: the newest match of the distribution's pattern.

Plain functions, not components (as :mod:`.networks`): the invokes belong to the caller.  Both look
up a list and take its newest entry, so an empty answer is wfga's clear error naming the setting to
give (:func:`wfga.model.images.image_not_found`), not an index error or a provider message that
names no access point.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_alicloud as alicloud
import pulumi_aws as aws

from wfga.model.images import IMAGES, image_not_found


def _newest(ids: Sequence[str], message: str) -> str:
    if not ids:
        raise pulumi.RunError(message)
    return ids[0]


def alicloud_image(
    distro: str, region: str, setting: str, provider: alicloud.Provider, parent: pulumi.Resource
) -> pulumi.Output[str]:
    query = IMAGES[("alicloud", distro)]
    message = image_not_found("alicloud", distro, region, setting)
    return alicloud.ecs.get_images_output(
        name_regex=query.name,
        owners=query.owners[0],
        # The provider sorts the answer newest first with most_recent.
        most_recent=True,
        opts=pulumi.InvokeOutputOptions(provider=provider, parent=parent),
    ).apply(lambda result: _newest([image.id for image in result.images], message))


def aws_image(
    distro: str, region: str, setting: str, provider: aws.Provider, parent: pulumi.Resource
) -> pulumi.Output[str]:
    query = IMAGES[("aws", distro)]
    message = image_not_found("aws", distro, region, setting)
    # get_ami_ids answers an empty list where get_ami fails with the provider's own message;
    # its ids are "sorted by creation time" newest first unless sort_ascending (SDK docstring).
    return aws.ec2.get_ami_ids_output(
        owners=list(query.owners),
        filters=[aws.ec2.GetAmiIdsFilterArgs(name="name", values=[query.name])],
        region=region,
        opts=pulumi.InvokeOutputOptions(provider=provider, parent=parent),
    ).apply(lambda result: _newest(list(result.ids), message))
