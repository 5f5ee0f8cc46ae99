"""Pure planners and renderers: config models in, plain values out, no Pulumi.

``portplan`` (ports, load balancers, backup entries), ``edge`` (CDN plans), ``nginx`` and
``cloudinit`` (VM access point files), ``turn`` (TURN relay files, rules and client lines),
``outputs`` (stack outputs), ``names`` (AWS load balancer and target group names).  Imports only wfga.model.
"""
