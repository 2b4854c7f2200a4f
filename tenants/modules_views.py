"""The module catalogue of a workspace: owners and admins switch modules on and off."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from crm_platform.sdk import (
    ValidationFailed,
    db,
    disable_module,
    enable_module,
    installed_modules,
    module_catalogue,
    require_permission,
    tenant_policy,
)

from .forms import EmptyForm
from .views import bp


@bp.get("/settings/modules")
@require_permission("settings.manage")
def modules() -> Any:
    """Every installed module, whether it is on, what it costs as a paid add-on, and what stops
    it being switched (a module the plan lacks links to the billing page to upgrade)."""
    return render_template(
        "tenants/modules.html",
        catalogue=module_catalogue(g.tenant),
        form=EmptyForm(),
        addons=tenant_policy(g.tenant).addons,
        upgrade_url=url_for("billing.page")
        if "billing.page" in current_app.view_functions
        else None,
    )


def _switch(key: str, switch_on: bool) -> Any:
    if key not in installed_modules():
        abort(404)
    form = EmptyForm()
    if not form.validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("tenants.modules"))
    try:
        descriptor = (enable_module if switch_on else disable_module)(g.tenant, key)
    except ValidationFailed as exc:
        db.session.rollback()
        flash(exc.errors.get("module") or str(exc), "error")
        return redirect(url_for("tenants.modules"))
    db.session.commit()
    message = _("%(name)s is on.") if switch_on else _("%(name)s is off; its data is kept.")
    flash(message % {"name": descriptor.name}, "success")
    return redirect(url_for("tenants.modules"))


@bp.post("/settings/modules/<module_key>/enable")
@require_permission("settings.manage")
def enable(module_key: str) -> Any:
    """Switch a module on (checks the plan and dependencies, runs its onboarding)."""
    return _switch(module_key, True)


@bp.post("/settings/modules/<module_key>/disable")
@require_permission("settings.manage")
def disable(module_key: str) -> Any:
    """Switch a module off; its data stays."""
    return _switch(module_key, False)
