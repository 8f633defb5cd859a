"""Fault injection: which requests fail, and how.

Deterministic: the decision for each matching request is drawn from a
`random.Random(seed)` in arrival order, so one client making sequential calls
sees the same faults on every run. Changeable while the server runs:

    server.faults.set(rate=0.2, kinds=["http_503", "reset"], seed=7)
    with server.faults.injected(rate=1.0, kinds=["stall"], limit=1): ...
    server.faults.next("http_429", times=2)     # the next two requests, whatever the rate
    server.faults.clear()

What each kind does on the wire is in `server.py` (`_Connection.inject`).
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    HTTP_503 = "http_503"
    # 429 with a Retry-After header in seconds.
    RATE_LIMITED = "http_429"
    # The socket is closed with SO_LINGER 0: the client reads ECONNRESET.
    RESET = "reset"
    # No answer for `stall_seconds` (longer than the client's timeout), then close.
    STALL = "stall"
    # A 200 whose Content-Length promises more bytes than are sent, then close.
    TRUNCATE = "truncate"


ALL_FAULT_KINDS: tuple[FaultKind, ...] = tuple(FaultKind)

STATUS_OF_KIND = {
    FaultKind.HTTP_500: 500,
    FaultKind.HTTP_502: 502,
    FaultKind.HTTP_503: 503,
    FaultKind.RATE_LIMITED: 429,
}


@dataclass(frozen=True)
class FaultPlan:
    """How faults are chosen. `rate` 0 with no forced faults means none at all.

    `limit`: at most this many random faults under this plan (with rate=1.0, the
    first `limit` matching requests fail). `path`: a regex searched in the
    request path; other paths never fault.
    """

    rate: float = 0.0
    kinds: tuple[FaultKind, ...] = ALL_FAULT_KINDS
    seed: int = 0
    limit: int | None = None
    path: str | None = None
    retry_after: int = 1
    stall_seconds: float = 1.0


@dataclass(frozen=True)
class InjectedFault:
    """One decision, with the parameters it was taken under (a later `set` cannot race it)."""

    kind: FaultKind
    retry_after: int
    stall_seconds: float

    @property
    def status(self) -> int | None:
        return STATUS_OF_KIND.get(self.kind)


def _kinds(kinds: Iterable[str | FaultKind] | None) -> tuple[FaultKind, ...]:
    chosen = tuple(FaultKind(kind) for kind in (kinds or ALL_FAULT_KINDS))
    if not chosen:
        raise ValueError("kinds must name at least one fault kind")
    return chosen


class Faults:
    """The fault plan of one server, thread-safe; counts every fault it injects."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plan = FaultPlan()
        self._random = random.Random(0)
        self._injected_under_plan = 0
        self._forced: deque[tuple[FaultKind, re.Pattern[str] | None]] = deque()
        self._counts: Counter[FaultKind] = Counter()

    @property
    def plan(self) -> FaultPlan:
        return self._plan

    def set(
        self,
        rate: float = 0.0,
        kinds: Iterable[str | FaultKind] | None = None,
        *,
        seed: int = 0,
        limit: int | None = None,
        path: str | None = None,
        retry_after: int = 1,
        stall_seconds: float = 1.0,
    ) -> None:
        """Replace the plan (and restart its random sequence from `seed`)."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, not {rate}")
        plan = FaultPlan(
            rate=rate,
            kinds=_kinds(kinds),
            seed=seed,
            limit=limit,
            path=path,
            retry_after=retry_after,
            stall_seconds=stall_seconds,
        )
        with self._lock:
            self._install(plan)

    def clear(self) -> None:
        """No more faults (forced ones included); the counts are kept."""
        with self._lock:
            self._install(FaultPlan())
            self._forced.clear()

    def _install(self, plan: FaultPlan) -> None:
        self._plan = plan
        self._random = random.Random(plan.seed)
        self._injected_under_plan = 0

    @contextmanager
    def injected(self, rate: float = 1.0, kinds=None, **options) -> Iterator[Faults]:
        """Faults for the duration of a `with` block, then the previous plan again."""
        previous = self._plan
        self.set(rate, kinds, **options)
        try:
            yield self
        finally:
            with self._lock:
                self._install(previous)

    def next(self, kind: str | FaultKind, times: int = 1, *, path: str | None = None) -> None:
        """Fail the next `times` requests (to paths matching `path`) with `kind`, at any rate."""
        pattern = re.compile(path) if path else None
        with self._lock:
            self._forced.extend([(FaultKind(kind), pattern)] * times)

    def decide(self, path: str) -> InjectedFault | None:
        """The fault for a request to `path`, or None; counted when chosen."""
        with self._lock:
            kind = self._take_forced(path) or self._draw(path)
            if kind is None:
                return None
            self._counts[kind] += 1
            return InjectedFault(kind, self._plan.retry_after, self._plan.stall_seconds)

    def _take_forced(self, path: str) -> FaultKind | None:
        for index, (kind, pattern) in enumerate(self._forced):
            if pattern is None or pattern.search(path):
                del self._forced[index]
                return kind
        return None

    def _draw(self, path: str) -> FaultKind | None:
        plan = self._plan
        if plan.rate <= 0.0:
            return None
        if plan.path and not re.search(plan.path, path):
            return None
        if plan.limit is not None and self._injected_under_plan >= plan.limit:
            return None
        # Two draws per matching request, always, so the sequence depends on the seed only.
        hit = self._random.random() < plan.rate
        kind = self._random.choice(plan.kinds)
        if not hit:
            return None
        self._injected_under_plan += 1
        return kind

    @property
    def counts(self) -> dict[str, int]:
        """Faults injected so far, by kind (kinds never injected are absent)."""
        with self._lock:
            return {str(kind): count for kind, count in self._counts.items()}

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
