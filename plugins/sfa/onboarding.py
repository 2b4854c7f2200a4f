"""What switching Sales on creates: the industry template's pipeline, lead sources and custom
fields, and the web form's secret. Idempotent: switched off and on again, nothing is added
twice and nothing the tenant changed is touched."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from crm_platform.sdk import ValidationFailed, create_custom_field, db, module_settings

from .industry import template_for
from .models import Pipeline
from .pipelines import pipeline_from_template
from .settings import MODULE, new_webform_key, sales_settings, save_sales_settings


def onboard(tenant: Any, actor: Any = None) -> None:
    """Set the module up for ``tenant`` (the tenant in context) from its industry template."""
    industry = getattr(tenant, "industry", None) or "generic"
    template = template_for(industry)
    first_time = not module_settings(MODULE).get("webform_key")
    if not db.session.scalar(select(func.count()).select_from(Pipeline)):
        pipeline_from_template(template, actor=actor)
    if first_time:
        save_sales_settings(
            {
                "webform_key": new_webform_key(),
                "lead_sources": [str(s) for s in template.sources],
                "industry": industry,
                "currency": sales_settings().currency,
            }
        )
        for field in template.fields:
            try:
                create_custom_field(
                    field.entity,
                    str(field.label),
                    field.type,
                    choices=[str(c) for c in field.choices],
                    key=field.key,
                )
            except ValidationFailed:
                continue  # the key is taken, or the tenant has all the fields it may have
