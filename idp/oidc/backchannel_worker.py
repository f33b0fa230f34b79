"""The back-channel logout worker: one daemon thread per process that delivers the
logout tokens a request queued, right after that request committed, off the request
path (Back-Channel Logout 1.0 section 2.5; issue 11). It is started on first use, so it
exists in each gunicorn worker process and under the test servers alike. Whatever
fails here is logged and never reaches the response; deliveries it misses (process
ended, RP down) are retried by ``idp jobs run`` (:func:`idp.oidc.backchannel.deliver_due`).
``IDP_BACKCHANNEL_LOGOUT_WORKER=false`` leaves all delivery to the job."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable

from flask import Flask

from idp.db import get_db, now

log = logging.getLogger(__name__)
_KEY = "idp_backchannel_worker"
_LOCK = threading.Lock()


class DeliveryWorker:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.jobs: queue.Queue[list[int]] = queue.Queue()
        self.thread: threading.Thread | None = None

    def submit(self, ids: Iterable[int]) -> None:
        with _LOCK:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, name="backchannel-logout", daemon=True
                )
                self.thread.start()
        self.jobs.put(list(ids))

    def wait_idle(self) -> None:
        """Block until every submitted batch was tried (tests, and a clean shutdown)."""
        self.jobs.join()

    def _run(self) -> None:
        from idp.oidc.backchannel import deliver_due

        settings = self.app.extensions["idp_settings"]
        while True:
            ids = self.jobs.get()
            try:
                with self.app.app_context(), get_db(self.app).factory() as db:
                    deliver_due(db, settings, now(), ids=ids)
            except Exception:  # noqa: BLE001 - the job retries; never crash the thread
                log.exception("back-channel logout worker: delivery failed")
            finally:
                self.jobs.task_done()


def worker_for(app: Flask) -> DeliveryWorker:
    with _LOCK:
        worker = app.extensions.get(_KEY)
        if worker is None:
            worker = app.extensions[_KEY] = DeliveryWorker(app)
    return worker


def kick(app: Flask, ids: Iterable[int]) -> None:
    """Hand newly committed deliveries to the worker (unless it is switched off)."""
    if not app.extensions["idp_settings"].backchannel_logout_worker:
        return
    try:
        worker_for(app).submit(ids)
    except Exception:  # noqa: BLE001 - after commit: the response must not fail
        log.exception("back-channel logout worker: could not start")
