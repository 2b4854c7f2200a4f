"""Spreadsheet import and export of customer records (and of any plugin's import targets).

One small module per step: :mod:`.limits` (configured bounds), :mod:`.models` (the
tenant-scoped ``ImportJob`` that holds an uploaded file, its mapping and its outcome),
:mod:`.reading` (format, encoding and delimiter detection; rows of CSV and XLSX files),
:mod:`.mapping` (columns to target fields), :mod:`.engine` (checking and writing rows in
chunks; previews), :mod:`.core_targets` (the accounts and contacts targets, which the core
contributes through ``crm_import_targets`` like any plugin), :mod:`.runner` (the import job),
:mod:`.exporting` (list views to CSV and XLSX) and :mod:`.views` (the pages). See
``docs/import-export.md``.
"""

from __future__ import annotations
