"""WSGI entry point: ``gunicorn wsgi:app``."""

import gc

from crm_platform import create_app

app = create_app()
# Start-up objects (app, models, plugins, compiled templates: about 350,000) never die: move
# them out of the cyclic collector's reach, or each full collection walks them all and
# stalls every request of the worker for about 0.2 s.
gc.freeze()
