"""``crm plugin new`` writes a package that loads as a plugin and passes its own test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crm_platform.scaffold import ScaffoldError, create_plugin, plugin_names

pytestmark = pytest.mark.once  # not repeated in the SQLite run (see the Makefile)


def test_names_are_derived() -> None:
    assert plugin_names("acme-notes") == {
        "key": "acme_notes",
        "package": "crm_acme_notes",
        "dist": "crm-plugin-acme-notes",
        "slug": "acme-notes",
        "title": "Acme Notes",
    }


@pytest.mark.parametrize("bad", ["", "9lives", "-x", "a b", "../evil", "x" * 31])
def test_bad_names_are_refused(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError):
        create_plugin(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_a_folder_in_use(runner: Any, tmp_path: Path) -> None:
    assert runner.invoke(args=["plugin", "new", "loyalty", "--dir", str(tmp_path)]).exit_code == 0
    again = runner.invoke(args=["plugin", "new", "loyalty", "--dir", str(tmp_path)])
    assert again.exit_code == 2
    assert "already exists" in again.output


def test_scaffolded_plugin_passes_its_own_test(runner: Any, tmp_path: Path) -> None:
    result = runner.invoke(args=["plugin", "new", "acme-notes", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    package = tmp_path / "crm-plugin-acme-notes"
    env = {**os.environ, "PYTHONPATH": str(package)}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
