"""A short name for the device behind a User-Agent header ("Chrome on Windows"), so a
person recognises their sessions on /account (issue 11). Pure; no library of the kind
is installed, and a label needs only the browser family and the operating system.

The rules, first match wins (the order matters: Edge and Opera also say "Chrome",
Chrome also says "Safari", every Android browser says "Linux"):

- browser: ``Line/`` LINE, ``SamsungBrowser/`` Samsung Internet, ``Edg/``/``EdgA/``/
  ``EdgiOS/`` Edge, ``OPR/``/``Opera`` Opera, ``Firefox/``/``FxiOS/`` Firefox,
  ``Chrome/``/``CriOS/``/``HeadlessChrome/`` Chrome, ``Chromium/`` Chromium,
  ``Version/ ... Safari/`` Safari;
- system: ``iPhone`` iPhone, ``iPad`` iPad, ``Android`` Android, ``CrOS`` ChromeOS,
  ``Windows`` Windows, ``Macintosh``/``Mac OS X`` macOS, ``Linux`` Linux.

Anything else is unknown (None): the page then says so and shows the raw header's
start on hover. Product names are not translated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BROWSERS = (
    (re.compile(r"\bLine/"), "LINE"),
    (re.compile(r"SamsungBrowser/"), "Samsung Internet"),
    (re.compile(r"\bEdg(?:e|A|iOS)?/"), "Edge"),
    (re.compile(r"\bOPR/|\bOpera\b"), "Opera"),
    (re.compile(r"\bFirefox/|\bFxiOS/"), "Firefox"),
    (re.compile(r"\b(?:Headless)?Chrome/|\bCriOS/"), "Chrome"),
    (re.compile(r"\bChromium/"), "Chromium"),
    (re.compile(r"\bVersion/[\d.]+.*\bSafari/"), "Safari"),
)
_SYSTEMS = (
    (re.compile(r"\biPhone\b"), "iPhone"),
    (re.compile(r"\biPad\b"), "iPad"),
    (re.compile(r"\bAndroid\b"), "Android"),
    (re.compile(r"\bCrOS\b"), "ChromeOS"),
    (re.compile(r"\bWindows\b"), "Windows"),
    (re.compile(r"\bMacintosh\b|\bMac OS X\b"), "macOS"),
    (re.compile(r"\bLinux\b"), "Linux"),
)


@dataclass(frozen=True)
class Device:
    browser: str | None
    system: str | None


def describe(user_agent: str) -> Device:
    """The browser family and operating system named by ``user_agent`` (None: not
    recognised)."""
    ua = user_agent[:300]
    browser = next((name for pattern, name in _BROWSERS if pattern.search(ua)), None)
    system = next((name for pattern, name in _SYSTEMS if pattern.search(ua)), None)
    return Device(browser, system)
