"""Browser end-to-end tests (Playwright driving Debian's Chromium against a live server).

A package so that its ``conftest`` does not shadow the top-level ``tests/conftest.py``,
which the other test modules import as ``conftest``.
"""
