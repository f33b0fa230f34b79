"""The device label of a session (idp/account/devices.py): browser family and system,
first match wins (Edge and Opera say "Chrome", Chrome says "Safari")."""

from __future__ import annotations

import pytest

from idp.account.devices import Device, describe

W = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "


@pytest.mark.parametrize(
    ("ua", "browser", "system"),
    [
        (W + "Chrome/131.0.0.0 Safari/537.36", "Chrome", "Windows"),
        (W + "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge", "Windows"),
        (W + "Chrome/131.0.0.0 Safari/537.36 OPR/114.0.0.0", "Opera", "Windows"),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox",
            "Linux",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/18.1 Safari/605.1.15",
            "Safari",
            "macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) CriOS/131.0 Mobile/15E148 Safari/604.1",
            "Chrome",
            "iPhone",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
            "Samsung Internet",
            "Android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Mobile/15E148 Safari Line/14.5.0",
            "LINE",
            "iPhone",
        ),
        (W + "HeadlessChrome/156.0.0.0 Safari/537.36", "Chrome", "Windows"),
        ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) Chrome/131.0.0.0", "Chrome", "ChromeOS"),
        ("curl/8.5.0", None, None),
        ("", None, None),
    ],
)
def test_describe(ua, browser, system):
    assert describe(ua) == Device(browser, system)
