"""The metrics sample: the first ``per_window`` messages of every window are timed and sized,
and ``bytes_in`` is exact when all were sized, estimated from their mean otherwise.

Driven directly, then through a node on a fake transport (``fakes.py``): no sockets.
"""

from __future__ import annotations

import asyncio
from time import perf_counter

from switchboard.core.sampler import Sampler
from switchboard.core.stats import SIZE_BUCKETS, Histogram, Stats

from ..conftest import timeout, wait_until
from .fakes import Client, make_node


class Arrivals:
    """The sampler's ``count``: messages received so far, as the node counts them."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> int:
        return self.count


def arrive(sampler: Sampler, arrivals: Arrivals, *sizes: int) -> None:
    """Messages of ``sizes`` arrive; each is measured while the window still wants one, as
    the pipeline does."""
    for size in sizes:
        arrivals.count += 1
        if sampler.left:
            sampler.measured(perf_counter(), size)


async def test_a_window_measures_its_first_messages_then_none_until_the_next() -> None:
    stats = Stats()
    sampler = Sampler(stats, Arrivals(), per_window=2, window=0.05)
    assert sampler.left == 0  # not started: the pipeline times nothing
    sampler.start(asyncio.get_running_loop())
    try:
        assert sampler.left == 2
        sampler.measured(perf_counter() - 0.003, 64)
        sampler.measured(perf_counter(), 300)
        assert sampler.left == 0  # the window's sample is complete: later messages go untimed
        assert sum(stats.processing.counts) == 2
        assert stats.processing.sum >= 0.003  # the time since each message began
        expected = Histogram(SIZE_BUCKETS)
        expected.observe(64)
        expected.observe(300)
        assert (stats.size.counts, stats.size.sum) == (expected.counts, expected.sum)
        await wait_until(lambda: sampler.left == 2)  # the next window wants two again
    finally:
        sampler.stop()


async def test_bytes_in_is_exact_when_every_message_was_measured() -> None:
    arrivals = Arrivals()
    sampler = Sampler(Stats(), arrivals, per_window=5, window=60.0)
    sampler.start(asyncio.get_running_loop())
    arrive(sampler, arrivals, 10, 20, 35)
    sampler.stop()  # closes the open window
    assert sampler.bytes_in == 65


async def test_bytes_in_is_estimated_from_the_sampled_mean_past_the_sample() -> None:
    arrivals = Arrivals()
    sampler = Sampler(Stats(), arrivals, per_window=2, window=0.05)
    sampler.start(asyncio.get_running_loop())
    arrive(sampler, arrivals, 10, 30, 1000, 1000, 1000)  # the last three are not sized
    await wait_until(lambda: sampler.bytes_in > 0)  # the window closed
    assert sampler.bytes_in == 5 * 20  # five messages at the mean of the two sized
    arrive(sampler, arrivals, 7, 9)  # a window whose every message is sized: exact again
    sampler.stop()
    assert sampler.bytes_in == 100 + 16


async def test_stop_counts_the_open_window_and_no_window_opens_after_it() -> None:
    arrivals = Arrivals()
    sampler = Sampler(Stats(), arrivals, per_window=3, window=0.02)
    sampler.start(asyncio.get_running_loop())
    arrive(sampler, arrivals, 50)
    sampler.stop()
    assert sampler.left == 0
    assert sampler.bytes_in == 50  # the window cut short still counts
    await asyncio.sleep(timeout(0.1))  # the thing under test: several windows would have opened
    assert sampler.left == 0


async def test_a_node_samples_each_windows_first_messages_and_estimates_the_rest() -> None:
    node = make_node()
    sampler = node.sampler
    assert sampler is not None
    sampler.per_window, sampler.window = 2, 0.05  # before the node starts its timers
    payloads = ['{"type":"echo","data":1}', '{"type":"echo","data":333}', '{"type":"echo"}']
    sized = len(payloads[0]) + len(payloads[1])
    assert sized % 2 == 0  # so the estimate below is a whole number
    node.start_timers()
    try:
        client = Client(node)
        for payload in payloads:
            client.send(payload)
        assert sum(node.stats.processing.counts) == 2  # the third was not timed
        assert node.stats.size.sum == sized
        await wait_until(lambda: node.bytes_in() > 0)  # the window closed
        assert node.bytes_in() == 3 * sized // 2
        await wait_until(lambda: sampler.left == 2)
        client.send(payloads[2])
        assert sum(node.stats.processing.counts) == 3  # a new window times again
    finally:
        node.stop_timers()
    assert node.bytes_in() == 3 * sized // 2 + len(payloads[2])


async def test_a_node_counts_bytes_exactly_whatever_the_messages_were() -> None:
    node = make_node()
    payloads = ['{"type":"echo","data":"abc"}', '{"type":"no-such-route"}', "not json at all"]
    node.start_timers()
    try:
        client = Client(node)
        for payload in payloads:
            client.send(payload)
    finally:
        node.stop_timers()
    # Every message is both counted and sized, routed or not, so nothing is estimated.
    assert node.messages_in() == 3
    assert node.bytes_in() == sum(len(p) for p in payloads)
