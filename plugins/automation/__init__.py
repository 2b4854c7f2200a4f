"""Workflow automation: rules tenant admins build without code, and approval steps."""
