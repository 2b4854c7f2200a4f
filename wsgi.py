"""WSGI entry point: ``gunicorn wsgi:app``."""

from crm_platform import create_app

app = create_app()
