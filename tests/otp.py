"""TOTP codes from an independent generator: Debian's oathtool (RECIPES.md 5)."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime


def oathtool_code(secret: str, at: float | None = None) -> str:
    if shutil.which("oathtool") is None:
        raise RuntimeError("oathtool is not installed (./dev test installs it)")
    when = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    out = subprocess.run(
        ["oathtool", "--totp", "-b", secret, "--now", when.strftime("%Y-%m-%d %H:%M:%S UTC")],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()
