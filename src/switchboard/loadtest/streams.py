"""Loss, duplicates and order of one stream: what one receiver got from one sender.

A sender numbers its messages to each destination 0, 1, 2, ... and sends them in that order
on one connection, so a receiver must see them in that order, each once. The tracker keeps
the contiguous prefix it has seen plus the numbers above it, so memory stays small while
nothing is missing, and every figure is exact:

- ``unique``: distinct numbers seen (loss is what the senders had acknowledged minus this);
- ``duplicates``: a number seen again;
- ``reordered``: a number that arrived after a higher one (a swap of two counts once).
"""

from __future__ import annotations


class StreamTracker:
    __slots__ = ("above", "duplicates", "highest", "prefix", "reordered", "unique")

    def __init__(self) -> None:
        self.prefix = 0
        self.above: set[int] = set()
        self.highest = -1
        self.unique = 0
        self.duplicates = 0
        self.reordered = 0

    def seen(self, number: int) -> bool:
        """Count ``number``; False when it is a duplicate (the caller records no latency)."""
        if number < self.prefix or number in self.above:
            self.duplicates += 1
            return False
        if number < self.highest:
            self.reordered += 1
        else:
            self.highest = number
        self.unique += 1
        if number == self.prefix:
            self.prefix += 1
            while self.prefix in self.above:
                self.above.remove(self.prefix)
                self.prefix += 1
        else:
            self.above.add(number)
        return True
