"""The stack configuration contract: pydantic models and their key-path errors.

The bottom layer: imports nothing else from wfga.  ``config`` holds the cluster and access
points, ``edge`` the service domains, DNS zones and object storage, ``images`` the VM distros,
``av`` the audio/video keys (Janus, TURN).
"""
