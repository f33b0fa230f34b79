"""Development helpers: the demo's in-process SMTP sink and its outbox page."""
