"""Live IdP + demo relying parties for Playwright on Debian's Chromium (RECIPES.md 2).
What they run is in tests/e2e/live.py, shared with ``scripts/screenshots``."""

from __future__ import annotations

import pytest

from tests.conftest import collect_garbage_quietly, fresh_database_url
from tests.e2e.live import CHROMIUM, CHROMIUM_ARGS, Live, start_live


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture
def live(template_db, tmp_path, smtp_sink) -> Live:
    """The IdP, demo RPs (eMT: password; e-Invoice: mfa, asks consent; search:
    mfa-email), somchai with a soft token, alice without a second factor."""
    env = start_live(fresh_database_url(template_db, tmp_path), smtp_sink)
    yield env
    env.stop()
    collect_garbage_quietly()  # the server threads' leftovers warn here, not later
