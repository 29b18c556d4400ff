"""The control plane: probes, metrics, the management API and the dashboard (FastAPI)."""
