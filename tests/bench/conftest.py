"""`bench` is not an installed package (pyproject lists only the four parts), so these tests
import it from the checkout, as `python -m bench` run from the repository root does."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
