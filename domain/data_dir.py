"""Where the embedded default keeps its files: one rule for `billing dev` and every command.

1. `BILLING_DATA_DIR`, when set;
2. else `./var` when it already holds the embedded default's files (a `billing dev` started
   here before), so an existing checkout keeps its data;
3. else the per-user data directory: `$XDG_DATA_HOME/stripe-billing`, by default
   `~/.local/share/stripe-billing`, the same from any working directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

LOCAL_DIR = Path("var")
APP_DIR_NAME = "stripe-billing"
# Files that mark a directory as the embedded default's (written by `billing dev`).
MARKERS = ("billing.db", "dev-secrets.json")


def resolve_data_dir(environ: Mapping[str, str], cwd: Path, home: Path) -> Path:
    """The data directory by the rule above; nothing is created or written."""
    explicit = environ.get("BILLING_DATA_DIR", "").strip()
    if explicit:
        return Path(explicit)
    local = cwd / LOCAL_DIR
    if any((local / marker).exists() for marker in MARKERS):
        return local
    xdg = environ.get("XDG_DATA_HOME", "").strip()
    base = Path(xdg) if xdg else home / ".local" / "share"
    return base / APP_DIR_NAME
