"""The per-process client cache (idp.oidc.cache): an entry lives at most TTL_SECONDS,
so a client changed by another worker is honoured within a second (issue 12), and an
in-process change forgets it at once (SECURITY.md: a revoked client secret must stop
working)."""

from __future__ import annotations

from idp.oidc import cache
from idp.oidc.cache import MAX_ENTRIES, TTL_SECONDS, TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _loader(values: list[str]):
    calls = []

    def load():
        calls.append(1)
        return values[len(calls) - 1]

    return load, calls


def test_entry_is_reused_within_the_ttl_and_reloaded_after_it():
    clock = Clock()
    c = TTLCache(clock)
    load, calls = _loader(["old", "new"])
    assert c.get("rp", load) == "old"
    clock.now += TTL_SECONDS * 0.9
    assert c.get("rp", load) == "old"
    clock.now += TTL_SECONDS * 0.2  # past one TTL since the read: another worker's change shows
    assert c.get("rp", load) == "new"
    assert len(calls) == 2


def test_bump_forgets_every_entry_at_once():
    c = TTLCache(Clock())
    load, calls = _loader(["old", "new"])
    assert c.get("rp", load) == "old"
    cache.bump()
    assert c.get("rp", load) == "new"


def test_unknown_clients_are_not_cached():
    """A miss is asked again next time: a client registered a moment later works at
    once, and unknown ids sent by anyone cannot fill the cache."""
    c = TTLCache(Clock())
    load, calls = _loader([None, "registered"])
    assert c.get("rp", load) is None
    assert c.get("rp", load) == "registered"


def test_cache_is_bounded():
    c = TTLCache(Clock())
    for i in range(MAX_ENTRIES + 5):
        c.get(f"rp{i}", lambda: "x")
    assert len(c._entries) <= MAX_ENTRIES
