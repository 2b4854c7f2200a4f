"""Billing: plans, subscriptions, entitlements, payment gateways (local and Stripe), webhooks.

A built-in plugin (entry point ``billing = "billing.plugin"``) that imports only
``crm_platform.sdk``; see ``docs/billing.md``.
"""
