"""Operator tools built on plans: diff, node-config checks, probe, diagram and reports.

Imports wfga.offline, wfga.plan and wfga.model; the command line (``wfga.cli``) sits on top.
"""
