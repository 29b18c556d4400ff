"""The picows data plane: the HTTP upgrade, the per-connection listener, the listening server."""
