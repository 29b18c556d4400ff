"""Settings of this node as a member of a cluster: its name; the broker's settings go here too."""

from __future__ import annotations

import socket

from pydantic import BaseModel, Field


class ClusterSettings(BaseModel):
    """Who this node is among the others."""

    node_id: str = Field(
        default_factory=socket.gethostname, description="Name of this node in logs and welcome."
    )
