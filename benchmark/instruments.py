"""The shipped scorers' manifest, readable without torch (the report names the instrument behind its numbers,
and `regbench report` starts without importing torch): what each weights file is, by sha256 and by the hash
that results record (``feature_extractor_weights``)."""
from __future__ import annotations

import json
from pathlib import Path

WEIGHTS = Path(__file__).parent / "scorers" / "weights"
MANIFEST = WEIGHTS / "manifest.json"


def manifest(path: Path | None = None) -> dict:
    try:
        return json.loads(Path(path or MANIFEST).read_text())
    except FileNotFoundError:
        return {}
