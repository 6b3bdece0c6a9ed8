"""The cache agent's disk budget: capacity, high and low watermarks, reservations, LRU eviction.

Pure bookkeeping; the agent (`berth.cache.agent`) does the deleting. The rules:

- What counts against the budget is `committed`: the bytes of every published tree plus the full
  size of every admitted download (reserved *before* it starts, released if it fails, turned
  into a held tree when it publishes). So two downloads that fit alone but not together are
  never both admitted: the second is refused until the first is done or gone.
- A download is admitted without evicting anything while `committed + size ≤ high`.
  Otherwise least-recently-used trees that are not in `keep` and not being downloaded are
  chosen for eviction until `committed + size ≤ low` (or none are left); the download is
  admitted if then `committed + size ≤ capacity`, and nothing is evicted if it is not.
- `trim(keep)`: above the high watermark, evict LRU trees not in `keep` down to the low one.
- A model in `keep` is never chosen for eviction.

A refusal says whether waiting can help (`waits`: in-flight downloads will finish and other
trees may stop being needed) or not (it cannot fit next to the published trees that must be
kept).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Admitted:
    evict: tuple[str, ...] = ()  # delete these trees first (their bytes are already released)


@dataclass(frozen=True)
class Refused:
    detail: str
    waits: bool  # True: retry once in-flight downloads are done; False: it cannot fit


@dataclass(frozen=True)
class Held:
    size: int
    last_used: float  # seconds since the epoch


@dataclass
class Budget:
    capacity: int
    high: int
    low: int
    held: dict[str, Held] = field(default_factory=dict)  # published trees
    reserved: dict[str, int] = field(default_factory=dict)  # admitted downloads: full size

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high <= self.capacity:
            raise ValueError("watermarks need 0 ≤ low ≤ high ≤ capacity")

    @property
    def committed(self) -> int:
        return sum(h.size for h in self.held.values()) + sum(self.reserved.values())

    def candidates(self, keep: Iterable[str]) -> list[str]:
        """Trees that may be evicted, least recently used first."""
        kept = set(keep)
        return sorted(
            (m for m in self.held if m not in kept and m not in self.reserved),
            key=lambda m: (self.held[m].last_used, m),
        )

    def _choose(self, keep: Iterable[str], extra: int, target: int) -> list[str]:
        chosen: list[str] = []
        total = self.committed + extra
        for m in self.candidates(keep):
            if total <= target:
                break
            chosen.append(m)
            total -= self.held[m].size
        return chosen

    def admit(self, model: str, size: int, keep: Iterable[str]) -> Admitted | Refused:
        """Reserve `size` bytes for downloading `model`, choosing evictions if room is needed."""
        keep = frozenset(keep)
        if model in self.reserved or model in self.held:
            return Admitted()
        if self.committed + size <= self.high:
            self.reserved[model] = size
            return Admitted()
        chosen = self._choose(keep, size, self.low)
        freed = sum(self.held[m].size for m in chosen)
        if self.committed - freed + size > self.capacity:
            # trees kept for bookings stay; in-flight downloads may yet fail and free room
            pinned = sum(h.size for m, h in self.held.items() if m in keep)
            waits = pinned + size <= self.capacity
            return Refused(
                f"needs {size} bytes; {self.capacity - self.committed + freed} of "
                f"{self.capacity} can be made free ({self.committed} committed, "
                f"{pinned} kept for bookings)",
                waits=waits,
            )
        for m in chosen:
            del self.held[m]
        self.reserved[model] = size
        return Admitted(tuple(chosen))

    def release(self, model: str) -> None:
        """A download that failed or stopped: its room is free again."""
        self.reserved.pop(model, None)

    def publish(self, model: str, size: int, now: float) -> None:
        """A download published: its reservation becomes a held tree."""
        self.reserved.pop(model, None)
        self.held[model] = Held(size, now)

    def touch(self, model: str, now: float) -> None:
        if model in self.held:
            self.held[model] = Held(self.held[model].size, max(now, self.held[model].last_used))

    def trim(self, keep: Iterable[str]) -> list[str]:
        """Above the high watermark: the LRU trees not in `keep` to evict, down to the low one
        (already removed from the budget)."""
        if self.committed <= self.high:
            return []
        chosen = self._choose(keep, 0, self.low)
        for m in chosen:
            del self.held[m]
        return chosen

    def forget(self, model: str) -> None:
        """A tree removed for another reason (it no longer matches the catalog)."""
        self.held.pop(model, None)
