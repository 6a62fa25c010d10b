"""Plumbing below the services, with no data access of its own: settings, error codes, text rules, rate limits,
metrics, socket caps, persisted-query stores, the viewer and pages."""
