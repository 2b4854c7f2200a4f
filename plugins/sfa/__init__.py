"""Sales force automation (SFA): leads, pipelines and deals, the kanban board, forecasts.

A built-in module written only against ``crm_platform.sdk``, shaped like a third-party
plugin: ``plugin.py`` holds the hook implementations and delegates to one small module per
job (see README.md for the map).
"""
