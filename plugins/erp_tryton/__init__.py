"""Tryton ERP connector for the ERP plugin (``plugins.erp``): see docs/modules/erp-tryton.md."""
