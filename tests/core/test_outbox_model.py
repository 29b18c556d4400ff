"""The outbox against a model of what each connection must receive, over random sequences of
replies, fan-outs to overlapping audiences, pauses, resumes and loop passes: shared lists and
copy on write change how frames are kept, never what a connection is written or when."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.core.connection import Connection
from switchboard.core.outbox import Outbox, SlowConsumerPolicy

from .test_outbox import Sink

N = 4
LIMIT = 24

# (op, connection index or audience mask, frame size)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(0, N - 1), st.integers(1, 9)),
        st.tuples(
            st.just("many"),
            st.sampled_from([0b1111, 0b0011, 0b0110, 0b1000, 0b1111]),
            st.integers(1, 9),
        ),
        st.tuples(st.just("pause"), st.integers(0, N - 1), st.just(0)),
        st.tuples(st.just("resume"), st.integers(0, N - 1), st.just(0)),
        st.tuples(st.just("pass"), st.just(0), st.just(0)),
    ),
    max_size=60,
)


class Model:
    """Each connection's own queue, bounded as the outbox's docstring says."""

    def __init__(self, policy: SlowConsumerPolicy) -> None:
        self.policy = policy
        self.queues: list[list[bytes]] = [[] for _ in range(N)]
        self.paused = [False] * N
        self.closed = [False] * N
        self.writes: list[list[bytes]] = [[] for _ in range(N)]
        self.dropped = 0
        self.slow = 0

    def send(self, i: int, frame: bytes) -> None:
        if self.closed[i]:
            return
        queue = self.queues[i]
        queue.append(frame)
        if len(queue) > 1 and sum(map(len, queue)) > LIMIT:
            self.slow += 1
            if self.policy is SlowConsumerPolicy.DISCONNECT:
                queue.clear()
                self.closed[i] = True
                return
            while sum(map(len, queue)) > LIMIT and len(queue) > 1:
                queue.pop(0)
                self.dropped += 1

    def end_of_pass(self) -> None:
        for i, queue in enumerate(self.queues):
            if queue and not self.paused[i]:
                self.writes[i].append(b"".join(queue))
                queue.clear()


def frames() -> Iterator[bytes]:
    n = 0
    while True:
        n += 1
        yield b"%d," % n


@pytest.mark.parametrize("policy", list(SlowConsumerPolicy))
@settings(max_examples=400, deadline=None)
@given(ops=OPS)
def test_every_connection_is_written_what_the_model_says(
    policy: SlowConsumerPolicy, ops: list[tuple[str, int, int]]
) -> None:
    loop = asyncio.new_event_loop()  # the outbox schedules its flush here; the test calls it
    try:
        sinks = [Sink() for _ in range(N)]
        conns = [Connection(str(i), sinks[i], "test", 0.0) for i in range(N)]

        def slow_consumer(conn: Connection) -> None:
            conn.closing = True  # what the node's close does first

        outbox = Outbox(loop, LIMIT, policy, slow_consumer)
        model = Model(policy)
        numbers = frames()
        for op, arg, size in ops:
            if op == "send":
                frame = next(numbers).ljust(size, b".")
                outbox.send(conns[arg], frame)
                model.send(arg, frame)
            elif op == "many":
                frame = next(numbers).ljust(size, b".")
                members = [i for i in range(N) if arg >> i & 1]
                outbox.send_many([conns[i] for i in members], frame)
                for i in members:
                    model.send(i, frame)
            elif op == "pause" and not model.paused[arg]:
                outbox.pause(conns[arg])
                model.paused[arg] = True
            elif op == "resume" and model.paused[arg]:
                outbox.resume(conns[arg])
                model.paused[arg] = False
            elif op == "pass":
                outbox.flush_all()
                model.end_of_pass()
        for i in range(N):
            if model.paused[i]:
                outbox.resume(conns[i])
                model.paused[i] = False
        outbox.flush_all()
        model.end_of_pass()
        assert [sink.writes for sink in sinks] == model.writes
        assert outbox.dropped_frames == model.dropped
        assert outbox.slow_consumers == model.slow
        assert outbox.frames_written == sum(c.messages_out for c in conns)
    finally:
        loop.close()
