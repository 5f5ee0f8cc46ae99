"""Not a component: reads the stack's ``wfga:`` config from the Pulumi runtime into the models."""

from __future__ import annotations

import json

import pulumi
from pulumi.runtime import config as runtime_config

from wfga.model.config import NAMESPACE, ConfigError, StackConfig, parse_stack_config
from wfga.model.edge import EdgeConfig


def _decode(text: str) -> object:
    # Structured config reaches the program as JSON text, plain strings as themselves.
    try:
        return json.loads(text)
    except ValueError:
        return text


def load_stack_config() -> tuple[StackConfig, EdgeConfig]:
    """The validated ``wfga:`` namespace of the running stack; a user mistake stops the program
    with every problem listed by key path (a RunError prints without a traceback)."""
    config = pulumi.Config(NAMESPACE)
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    values = {}
    for key in sorted(k for k in keys if k.startswith(f"{NAMESPACE}:")):
        text = config.get(key.split(":", 1)[1])
        if text is not None:
            values[key] = _decode(text)
    # The CLI hands secret key names to the program in the environment; the mocks set them directly.
    secret = set(runtime_config.get_config_secret_keys_env()) | {
        k for k in values if runtime_config.is_config_secret(k)
    }
    try:
        stack = parse_stack_config(values, secret)
        return stack, stack.edge
    except ConfigError as err:
        raise pulumi.RunError(str(err)) from None
