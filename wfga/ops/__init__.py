"""Operator tools built on plans: diff, node-config checks, probe (with its TURN client,
``turnclient``), diagram and reports; and ``package_types``, which renders the component package's
schema types from the config models.

Imports wfga.offline, wfga.plan and wfga.model; the command line (``wfga.cli``) sits on top.
"""
