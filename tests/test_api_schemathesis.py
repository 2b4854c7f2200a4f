"""The API fuzzed against its own OpenAPI document (schemathesis, in-process over WSGI).

Every operation of ``/api/v1/openapi.json`` (the core's and every built-in plugin's, all
modules on) is called with generated parameters and bodies, with a valid read-write API key
of a tenant that has a few records: no answer may be a server error, and every answer must
match the document (status code documented, content type, body schema).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
import schemathesis.checks as checks
from conftest import in_tenant, make_api_key
from hypothesis import HealthCheck, given, settings

from crm_platform.customers import Account, Contact
from crm_platform.identity import Tenant
from crm_platform.modules import enable_module, installed_modules

pytestmark = pytest.mark.postgres  # once per CI run (the SQLite run repeats DB behaviour only)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "RATELIMIT_ENABLED": False}


@pytest.fixture
def api_key(app: Any, factory: Any) -> str:
    """A read-write key of a tenant with every module on and an account with a contact."""
    tenant = factory.tenant("alpha")
    with in_tenant(app, tenant) as session:
        row = session.get(Tenant, tenant.id)
        for key in installed_modules():
            enable_module(row, key)
        account = Account(name="Alpha Co")
        session.add(account)
        session.flush()
        session.add(Contact(first_name="Ada", last_name="Lovelace", account_id=account.id))
        session.commit()
    return make_api_key(app, tenant, tenant.owner_email)


EXAMPLES = 12
#: No server errors, and every answer as documented (status, content type, headers, body).
#: Not "every schema-valid request is accepted": the document describes shapes, while the API
#: also checks values (a sort field's name, an existing id), answering 400/404/409 as documented.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


#: The operations are split in parts that pytest-xdist workers share.
SHARDS = 3


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_answers_per_its_document(app: Any, api_key: str, shard: int) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {api_key}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 80  # the core's and every built-in plugin's operations
    for operation in operations[shard::SHARDS]:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - gather them all
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
