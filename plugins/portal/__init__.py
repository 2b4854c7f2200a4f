"""The Portal module: the customer self-service portal of each workspace (see
docs/modules/portal.md)."""
