"""Where agentdistill keeps what it builds once and reuses: converted models, the engine, indexes, embeddings.

The bottom of the package: every layer may import it, it imports nothing of the package."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$AGENTDISTILL_CACHE or ~/.cache/agentdistill."""
    return Path(os.environ.get("AGENTDISTILL_CACHE", "~/.cache/agentdistill")).expanduser()
