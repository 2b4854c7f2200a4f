"""Every hook is documented in docs/hooks.md and has a test named ``test_hook_<name>``.

Datasette's discipline: adding a hook spec without its reference entry or its test fails here.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from crm_platform import hookspecs

pytestmark = pytest.mark.once  # not repeated in the SQLite run (see the Makefile)

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(
    name
    for name, obj in vars(hookspecs).items()
    if name.startswith("crm_") and inspect.isfunction(obj)
)


def _test_sources() -> str:
    files = list((ROOT / "tests").rglob("test_*.py"))
    files += list((ROOT / "examples").rglob("tests/test_*.py"))
    return "\n".join(path.read_text() for path in files)


def test_hooks_are_found() -> None:
    assert {"crm_module", "crm_blueprints", "crm_event", "crm_record_panels"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook: str) -> None:
    docs = (ROOT / "docs" / "hooks.md").read_text()
    assert re.search(rf"^### `{hook}\(", docs, re.MULTILINE), f"{hook} missing in docs/hooks.md"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring(hook: str) -> None:
    assert (getattr(hookspecs, hook).__doc__ or "").strip(), f"{hook} has no docstring"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook: str) -> None:
    assert re.search(rf"def test_hook_{hook}\b", _test_sources()), f"no test_hook_{hook}"
