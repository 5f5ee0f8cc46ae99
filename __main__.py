"""wfga: WildFire IM global access.  Wiring only: read the stack's config, build, export."""

from __future__ import annotations

import pulumi

from components.global_access import GlobalAccess, GlobalAccessArgs
from components.stack_config import load_stack_config
from wfga.model.config import NAMESPACE

config, edge = load_stack_config()
access = GlobalAccess(
    config.cluster.name,
    GlobalAccessArgs(
        config=config,
        edge=edge,
        cloudflare_api_token=pulumi.Config(NAMESPACE).get_secret("cloudflare_api_token"),
        turn_password=pulumi.Config(NAMESPACE).get_secret("turn_password") if config.audio_video is not None else None,
    ),
)

for output, value in access.outputs().items():
    pulumi.export(output, value)
