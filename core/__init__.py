"""Plumbing below the services: settings, errors, text rules, tokens, rate limits, metrics, sockets, the runtime."""
