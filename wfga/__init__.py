"""wfga: WildFire IM global access, as code.

The pure core in layers (``model`` -> ``plan`` -> ``offline`` -> ``ops`` -> ``cli``); the
ComponentResources are the subpackage ``wfga.components`` when installed (``components/`` in a
source checkout).
"""
