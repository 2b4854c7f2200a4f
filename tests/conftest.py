"""The suite's fixtures are the ones plugin authors use: see ``crm_platform.testing``.

``CRM_TEST_DB`` picks the database: ``postgres`` or ``sqlite`` (default: PostgreSQL when it
answers, else SQLite). ``CRM_REQUIRE_SERVICES=1`` (set by ``.ci/run``) turns a missing
PostgreSQL or Redis into a failure instead of a fallback.
"""

from __future__ import annotations

from crm_platform.testing import *  # noqa: F403 - fixtures and hooks
from crm_platform.testing import (  # noqa: F401 - names the tests import from conftest
    DB_KIND,
    OWNER_ROLE,
    PASSWORD,
    PG_ADMIN,
    REQUIRE,
    Factory,
    csrf_token_from,
    in_tenant,
    login,
    pg_url,
)
