"""Tenant lifecycle: members and roles, invitations, workspace settings and the audit log.

A built-in plugin: it uses only ``crm_platform.sdk`` and is registered through the
``crm.plugins`` entry point like any third-party plugin.
"""
