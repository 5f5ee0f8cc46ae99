#!/usr/bin/env python3
"""Write docs/cloud-rules.md from the cloud rules (``--check``: exit 1 if the committed file is stale)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wfga.offline.rules import render_markdown  # noqa: E402

OUTPUT = ROOT / "docs" / "cloud-rules.md"


def main(argv: list[str]) -> int:
    text = render_markdown()
    if "--check" in argv:
        if not OUTPUT.is_file() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run scripts/gen_cloud_rules_doc.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
