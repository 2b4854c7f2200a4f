"""Analytics: a report builder on every module's records, built-in reports, dashboards."""
