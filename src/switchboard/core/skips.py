"""Publications a connection is not to get back: the ones it published with a skip.

A publish that skips its sender (``app.publish(..., skip=conn)``) goes through the broker
like any other, so the node learns its offset from two directions that race on a cluster:
the publish's answer and the publication itself. Until the answer comes, publications of
that channel for the skipped connection are held (in order); the answer names the one to
drop, whether it arrived already (held) or is still to come (remembered). Its other
publications then go out in their order, so the connection misses nothing else and sees no
reordering. Only connections of this node can be skipped, and only while they are live
subscribers of the channel (there is nothing to skip otherwise).
"""

from __future__ import annotations

from ..broker.base import Publication, StreamPosition
from .connection import Connection


class _Skip:
    """One connection's skips on one channel."""

    __slots__ = ("drop", "held", "pending")

    def __init__(self) -> None:
        #: Its skipping publishes whose offset is not known yet.
        self.pending = 0
        #: Publications for it that arrived meanwhile, in order.
        self.held: list[Publication] = []
        #: Positions of its own publications still to arrive (to drop then).
        self.drop: list[StreamPosition] = []

    def own(self, publication: Publication) -> bool:
        """Whether ``publication`` is one to drop; drops that can no longer arrive (an
        earlier offset of the same epoch: delivery is in order) are forgotten."""
        mine = False
        keep = []
        for position in self.drop:
            if position.epoch != publication.epoch or position.offset > publication.offset:
                keep.append(position)
            elif position.offset == publication.offset:
                mine = True
        self.drop = keep
        return mine

    @property
    def idle(self) -> bool:
        return not self.pending and not self.held and not self.drop


class Skips:
    """Skips in progress, by channel and connection (empty but for publishes in flight)."""

    __slots__ = ("by_channel",)

    def __init__(self) -> None:
        self.by_channel: dict[str, dict[Connection, _Skip]] = {}

    def expect(self, conn: Connection, channel: str) -> None:
        """``conn``'s publish to ``channel``, which it must not get back, is being made."""
        skip = self.by_channel.setdefault(channel, {}).get(conn)
        if skip is None:
            skip = self.by_channel[channel][conn] = _Skip()
        skip.pending += 1

    def settle(
        self, conn: Connection, channel: str, position: StreamPosition | None
    ) -> list[Publication]:
        """The publish answered with ``position`` (None: it failed); returns the held
        publications ``conn`` is to get now, in order (none while others are pending)."""
        skipping = self.by_channel.get(channel)
        skip = None if skipping is None else skipping.get(conn)
        if skip is None:
            return []  # it left the channel meanwhile
        skip.pending -= 1
        if position is not None:
            held = skip.held
            for index, pub in enumerate(held):
                if pub.offset == position.offset and pub.epoch == position.epoch:
                    del held[index]
                    break
            else:
                skip.drop.append(position)
        release: list[Publication] = []
        if not skip.pending:
            release, skip.held = skip.held, []
        if skip.idle:
            self._forget(channel, conn)
        return release

    def sift(
        self,
        publication: Publication,
        targets: list[Connection],
        live: dict[Connection, None],
        skipping: dict[Connection, _Skip],
    ) -> list[Connection]:
        """``targets`` (among ``live``) without the connections ``publication`` is not to
        reach now: its publisher, or one whose own publish is still unanswered (it waits)."""
        if not any(conn in live for conn in skipping):
            return targets
        sifted = []
        for conn in targets:
            skip = skipping.get(conn)
            if skip is None:
                sifted.append(conn)
            elif skip.own(publication):
                if skip.idle:
                    self._forget(publication.channel, conn)
            elif skip.pending:
                skip.held.append(publication)
            else:
                sifted.append(conn)
        return sifted

    def forget(self, conn: Connection, channel: str) -> None:
        """``conn`` left ``channel``: nothing of it is held or dropped any more."""
        self._forget(channel, conn)

    def _forget(self, channel: str, conn: Connection) -> None:
        skipping = self.by_channel.get(channel)
        if skipping is not None and skipping.pop(conn, None) is not None and not skipping:
            del self.by_channel[channel]
