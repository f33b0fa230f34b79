"""Who may read /metrics (SECURITY.md X-07: metrics are not public by default)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from idp.ops.access import is_allowed, parse_networks

LOOPBACK = parse_networks(["127.0.0.1/32", "::1/128"])


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # IPv4 through a dual-stack socket
        ("127.0.0.2", False),
        ("10.0.0.1", False),
        ("::2", False),
        ("", False),
        (None, False),
        ("localhost", False),  # a name is not an address
        ("127.0.0.1, 10.0.0.1", False),
    ],
)
def test_only_the_listed_addresses_may_read_the_metrics_x07(address, allowed):
    assert is_allowed(address, LOOPBACK) is allowed


def test_networks_are_parsed_and_an_empty_list_admits_nobody_x07():
    networks = parse_networks(["10.0.0.0/8", " 192.0.2.7 ", ""])
    assert is_allowed("10.200.1.1", networks) and is_allowed("192.0.2.7", networks)
    assert not is_allowed("192.0.2.8", networks)
    assert not is_allowed("127.0.0.1", parse_networks([]))
    with pytest.raises(ValueError):
        parse_networks(["10.0.0.0/33"])


def test_the_sample_dashboard_uses_only_metrics_idp_exports():
    """docs/grafana/idp.json must not chart a name that idp.ops.metrics does not have."""
    from prometheus_client import REGISTRY

    import idp.ops.metrics  # noqa: F401 - registers the metrics

    suffixes = ("", "_total", "_bucket", "_count", "_sum")  # a family's sample names
    exported = {family.name + end for family in REGISTRY.collect() for end in suffixes}
    dashboard = Path(__file__).resolve().parents[3] / "docs" / "grafana" / "idp.json"
    exprs = [t["expr"] for p in json.loads(dashboard.read_text())["panels"] for t in p["targets"]]
    used = {name for e in exprs for name in re.findall(r"\bidp_[a-z_]+", e)}
    assert used and used - exported == set()
