"""WSGI entry point: ``gunicorn idp.wsgi:app``."""

from idp import create_app

app = create_app()
