"""The wfga component package's plugin: serves GlobalAccess and the access points to Pulumi.

The Pulumi CLI runs this folder (``python package/ ENGINE_ADDRESS``) after ``pulumi package add``;
the schema comes from ``components/package.py``.
"""

import sys
from pathlib import Path

# Run from a checkout (a local path or a clone of the repository): import wfga from it, not from an
# installed copy that could be another version.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.package import serve

serve()
