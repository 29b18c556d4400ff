"""Observability: structured logs (metrics and tracing come with the control plane)."""
