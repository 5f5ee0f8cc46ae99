"""Pulumi ComponentResources: each translates part of the pure plan in ``wfga`` into resources."""
