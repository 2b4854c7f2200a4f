"""The provider console: platform staff run the platform from ``/provider/``.

Staff (``platform_staff``) are a platform role, never a tenant role. Every console page
requires staff (``access.require_staff``; anyone else gets 404), reads tenant data only
inside the audited ``tenancy.provider_scope``, and records each action in ``staff_actions``.
Modules: ``models`` (tables), ``access`` (staff check, decorator), ``actions`` (the staff
action log), ``approvals`` (hidden plugins), ``catalogue``, ``tenants``, ``dashboard``,
``failed_jobs``, ``impersonation``, ``hooks`` (the console's plugin hooks), ``views*``.

This package is imported by the web shell and the module switch, so it imports nothing heavy
here; the blueprint lives in ``views``.
"""
