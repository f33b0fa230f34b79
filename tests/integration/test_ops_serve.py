"""Metrics of a server with several worker processes (issue 13): `idp serve` gives the
workers one multiprocess directory and one exporter on IDP_METRICS_PORT, which adds up
every worker's counts and goes away with the server."""

from __future__ import annotations

import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import fresh_database_url
from tests.served import free_port, idp_serve

HITS = 24


def _healthz_count(body: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == "idp_http_requests_total" and s.labels.get("endpoint") == "ops.healthz"
    )


def test_the_metrics_port_sums_every_worker_and_ends_with_the_server(
    template_db, tmp_path, monkeypatch
):
    metrics_port = free_port()
    monkeypatch.setenv("IDP_METRICS_PORT", str(metrics_port))
    url = fresh_database_url(template_db, tmp_path)
    with idp_serve(url, tmp_path / "serve.log", workers=2) as served:
        for _ in range(HITS):
            # A new connection each time, so that both workers take some.
            assert requests.get(f"{served.base}/healthz", timeout=10).status_code == 200
        assert requests.get(f"{served.base}/readyz", timeout=10).status_code == 200
        scraped = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        assert scraped.status_code == 200
        assert _healthz_count(scraped.text) == HITS
        # /metrics of the app itself (from loopback) shows the same sum.
        assert _healthz_count(requests.get(f"{served.base}/metrics", timeout=10).text) == HITS
    deadline = time.monotonic() + 30
    while True:  # the exporter notices its server is gone (polls once a second)
        try:
            requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2)
        except requests.ConnectionError:
            break
        assert time.monotonic() < deadline, "the metrics exporter outlived the server"
        time.sleep(0.5)


def test_the_metrics_directory_goes_away_with_the_server(template_db, tmp_path, monkeypatch):
    """Without IDP_METRICS_PORT too: each `idp serve` start made a directory for the
    workers' metrics files that stayed in the temporary directory after the server."""
    monkeypatch.delenv("IDP_METRICS_PORT", raising=False)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    url = fresh_database_url(template_db, tmp_path)
    with idp_serve(url, tmp_path / "serve.log", workers=2) as served:
        assert requests.get(f"{served.base}/healthz", timeout=10).status_code == 200
        (directory,) = scratch.glob("idp-metrics-*")
        assert any(directory.iterdir()), "the workers write their metrics here"
    deadline = time.monotonic() + 30
    while directory.exists():  # removed once the server is gone (polled once a second)
        assert time.monotonic() < deadline, "the metrics directory outlived the server"
        time.sleep(0.2)
