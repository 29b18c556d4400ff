"""Settings of channels: what each namespace keeps and allows, and how much history in all."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .server import MiB


class NamespaceOptions(BaseModel):
    """What channels of one namespace (``room`` in ``room:42``) keep and allow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    history_size: int = Field(
        100, ge=0, le=100_000, description="Publications kept for recovery (0: none)."
    )
    history_ttl: float = Field(300.0, ge=0, description="Seconds a kept publication stays.")
    publish: bool = Field(True, description="Whether clients may publish (the server always can).")
    presence: bool = Field(False, description="Whether members are tracked and can be asked for.")
    join_leave: bool = Field(
        False,
        description="Whether subscribers get join and leave events (costly in big channels).",
    )
    subscribe_roles: list[str] = Field(
        default_factory=list, description="Roles that may subscribe (empty: anyone)."
    )
    publish_roles: list[str] = Field(
        default_factory=list, description="Roles that may publish (empty: anyone)."
    )
    presence_roles: list[str] = Field(
        default_factory=list, description="Roles that may ask for presence (empty: anyone)."
    )
    user_limited: bool = Field(
        False,
        description="Channels named ...#u1,u2 are open to users u1 and u2 only.",
    )
    channel_token: bool = Field(
        False,
        description="Subscribing needs a token for the channel (JWT with a `channel` claim).",
    )


class ChannelSettings(BaseModel):
    """Subscriptions per connection, the history bound and the options of each namespace."""

    max_subscriptions: int = Field(
        1000, ge=1, description="Channels one connection may subscribe to at once."
    )
    history_max_bytes: int = Field(
        64 * MiB,
        ge=0,
        description="Bytes of channel history kept across all channels of the embedded "
        "broker; past it the oldest publications are evicted first. 0: no bound.",
    )
    channel_defaults: NamespaceOptions = Field(
        default_factory=NamespaceOptions,
        description="Options of channels whose namespace has no entry in `namespaces`.",
    )
    namespaces: dict[str, NamespaceOptions] = Field(
        default_factory=dict, description="Per-namespace channel options, by namespace name."
    )

    def namespace(self, name: str) -> NamespaceOptions:
        """The options of namespace ``name`` (the defaults when it has no entry)."""
        return self.namespaces.get(name, self.channel_defaults)
