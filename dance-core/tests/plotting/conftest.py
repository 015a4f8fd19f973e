from __future__ import annotations

import sys
from pathlib import Path

# figure_models is imported by name (registry targets are "module:Class" strings)
sys.path.insert(0, str(Path(__file__).parent))
