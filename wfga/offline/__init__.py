"""The offline plan: stack files read as Pulumi would, and the program run under the mock runtime.

``stackfile`` merges ``Pulumi.yaml`` and a stack file; ``engine`` runs ``__main__.py`` under mocks
and records every resource and output.  Imports wfga.model and wfga.plan.
"""
