"""The CRM's own fixtures (app, client, factory, login, run_jobs...) for this plugin's tests."""

from crm_platform.testing import *  # noqa: F403
