"""Core engine: connections, registry, outbox, routing, hub and heartbeat.

The core talks to a socket through the small :class:`~.connection.Transport`
protocol and never imports picows.
"""
