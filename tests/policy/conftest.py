"""The policy pack's modules and the mocks' recorder, importable as the pack itself imports them.

`pulumi preview --policy-pack policy` runs `policy/__main__.py` with `policy/` first on
sys.path, so the pack imports `wgsites_rules` and `key_material` as top-level modules;
the tests do the same.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT / "policy", ROOT / "tests" / "mocks"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
