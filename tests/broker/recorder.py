"""A node's side of a broker for the broker tests: keeps what arrives."""

from __future__ import annotations

from switchboard.broker import Dispatch, Publication


class Received:
    """A :class:`~switchboard.broker.base.BrokerHandler` recording publications and
    dispatches; each dispatch "reaches" ``reach`` connections."""

    def __init__(self, reach: int = 1) -> None:
        self.reach = reach
        self.publications: list[Publication] = []
        self.dispatches: list[Dispatch] = []

    def on_publication(self, publication: Publication) -> None:
        self.publications.append(publication)

    def on_dispatch(self, dispatch: Dispatch) -> int:
        self.dispatches.append(dispatch)
        return self.reach
