"""Billing: plans, entitlements, payment gateways (built in a later issue)."""
