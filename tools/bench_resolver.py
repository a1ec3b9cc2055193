"""Simulation for ``tools/bench.py``: what a fleet polling one alias costs in DynamoDB reads.

100,000 clients each ask for one alias every ``poll`` seconds (each at its own phase in
the interval). Without a resolver every poll is one ``get_alias``: one strongly consistent
GetItem (1 read unit: the item is far below 4 KB). With one, the clients are spread over
K processes, each with one :class:`versioned.AliasResolver` (the real class) of TTL T,
and only a resolver's refresh reaches the table. Time is simulated (a fake clock) and the
backend is a counting fake, so this measures request counts, not speed; it runs the same
on any machine.

It also measures the resolver's memory after 100,000 requests for distinct missing
aliases (a scan, or typos), next to the bound ``max_entries`` sets.

Each row gives the reads per second averaged over the run and the most reads in any one
simulated second (DynamoDB enforces its limits per second), next to one partition's
limit: 3,000 strongly consistent reads/s (6,000 eventually consistent). Every alias of an
artifact lives in one partition (``__{name}-alias``), so the limit is shared by them.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from versioned import Alias, AliasResolver
from versioned.exc import AliasNotFoundError

#: DynamoDB's documented per-partition maximum, in reads of an item up to 4 KB per second.
STRONG_READS_LIMIT = 3_000
EVENTUAL_READS_LIMIT = 6_000
CLIENTS = 100_000


@dataclass(frozen=True)
class Fleet:
    """One simulated set-up: ``processes == 0`` means no resolver."""

    label: str
    processes: int
    ttl: float = 30.0
    jitter: float = 0.1


FLEETS = [
    Fleet("no resolver: every poll reads", 0),
    Fleet("1,000 processes x 100 clients, TTL 30 s", 1_000),
    Fleet("  the same without jitter", 1_000, jitter=0.0),
    Fleet("100 processes x 1,000 clients, TTL 30 s", 100),
    Fleet("100,000 processes x 1 client, TTL 30 s", CLIENTS),
    Fleet("100,000 processes x 1 client, TTL 60 s", CLIENTS, ttl=60.0),
]


class SimulatedClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CountingTable:
    """Stands in for ``repo.get_alias``: notes the simulated time of every read."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock
        self.read_at: list[float] = []
        self.alias = Alias(
            name="app",
            alias="prod",
            update_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
            version="5",
            secondary_version="6",
            secondary_version_weight=10,
            version_uri="s3://bucket/app/000005",
            secondary_version_uri="s3://bucket/app/000006",
        )

    def get_alias(self, name: str, alias: str) -> Alias:
        self.read_at.append(self.clock.now)
        return self.alias


def _at_once(job: Callable[[], None]) -> None:
    job()


def simulate(fleet: Fleet, poll: float, duration: float, seed: int = 2026) -> dict[str, Any]:
    """Run ``fleet`` for ``duration`` simulated seconds; return its read figures."""
    rng = random.Random(seed)
    clock = SimulatedClock()
    table = CountingTable(clock)
    asks: list[Callable[[str, str], object]]
    if fleet.processes == 0:
        asks = [table.get_alias]
    else:
        asks = [
            AliasResolver(
                table.get_alias,
                fleet.ttl,
                fleet.jitter,
                clock=clock,
                rng=random.Random(rng.random()),
                # a refresh lands at the simulated moment it is asked for
                spawn=_at_once,
            ).get
            for _ in range(fleet.processes)
        ]
    # every process starts at once (a fleet restart: the worst case for lockstep)
    clients = sorted((rng.uniform(0, poll), asks[i % len(asks)]) for i in range(CLIENTS))
    polls = 0
    for round_ in range(int(duration // poll)):
        for phase, ask in clients:
            clock.now = round_ * poll + phase
            ask("app", "prod")
        polls += len(clients)
    per_second = Counter(int(at) for at in table.read_at)
    # steady state: once every process has refreshed at least once after its first read
    warm = int(fleet.ttl * (1 + fleet.jitter) + poll) + 1 if fleet.processes else 0
    steady = [n for second, n in per_second.items() if second >= warm]
    return {
        "label": fleet.label,
        "processes": fleet.processes,
        "ttl": fleet.ttl,
        "jitter": fleet.jitter,
        "polls": polls,
        "reads": len(table.read_at),
        "steady_from_second": warm,
        "steady_reads_per_second": sum(steady) / (duration - warm),
        "steady_peak_reads_in_a_second": max(steady, default=0),
        "cold_start_peak_reads_in_a_second": max(per_second.values()),
    }


def simulate_resolver(poll: float = 10.0, duration: float = 300.0) -> dict[str, Any]:
    """Every fleet of :data:`FLEETS`, polling every ``poll`` seconds."""
    return {
        "clients": CLIENTS,
        "poll_seconds": poll,
        "simulated_seconds": duration,
        "strong_reads_limit": STRONG_READS_LIMIT,
        "eventual_reads_limit": EVENTUAL_READS_LIMIT,
        "fleets": [simulate(fleet, poll, duration) for fleet in FLEETS],
    }


def show_resolver(figures: dict[str, Any]) -> None:
    """Print the simulation as a table."""
    strong, eventual = figures["strong_reads_limit"], figures["eventual_reads_limit"]
    print(
        f"\n{figures['clients']:,} clients polling one alias every {figures['poll_seconds']:g} s "
        f"for {figures['simulated_seconds']:g} simulated seconds: DynamoDB reads per second "
        f"(one partition: {strong:,} strongly / {eventual:,} eventually consistent)"
    )
    print(
        f"{'':42} {'steady':>8} {'% of':>6} {'% of':>6} {'steady':>7} {'% of':>6} "
        f"{'cold start':>10}"
    )
    print(f"{'':42} {'mean':>8} {strong:6,d} {eventual:6,d} {'peak':>7} {strong:6,d} {'peak':>10}")
    for row in figures["fleets"]:
        mean, peak = row["steady_reads_per_second"], row["steady_peak_reads_in_a_second"]
        print(
            f"{row['label']:42} {mean:8,.1f} {100 * mean / strong:5.1f}% "
            f"{100 * mean / eventual:5.1f}% {peak:7,d} {100 * peak / strong:5.1f}% "
            f"{row['cold_start_peak_reads_in_a_second']:10,d}"
        )
    print(
        "steady: from the first second every process has refreshed once (TTL x (1 + jitter) "
        "+ one poll); peak: the most reads in any one second; cold start: all processes "
        "started at once"
    )


def _missing(name: str, alias: str, depth: int = 40) -> Alias:
    """Raise AliasNotFoundError from ``depth`` frames down, as a backend's stack would
    (boto3 and the store are tens of frames deep), with the lookup's own error chained."""
    if depth:
        return _missing(name, alias, depth - 1)
    try:
        {}[name, alias]
    except KeyError as error:
        message = f"alias {alias!r} of {name!r} not found"
        raise AliasNotFoundError(message, name=name, alias=alias) from error
    raise AssertionError("unreachable")


def measure_miss_memory(misses: int = 100_000) -> dict[str, Any]:
    """The resolver's memory (tracemalloc) after ``misses`` requests for distinct missing
    aliases, each answered not-found by a backend ``_missing`` stands in for."""
    resolver: AliasResolver[Alias] = AliasResolver(_missing, spawn=_at_once)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for n in range(misses):
        with contextlib.suppress(AliasNotFoundError):
            resolver.get("app", f"miss{n}")
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return {
        "misses": misses,
        "entries": len(resolver),
        "max_entries": resolver.max_entries,
        "bytes": held,
    }


def show_miss_memory(figures: dict[str, Any]) -> None:
    """Print the miss-memory figure beside its bound."""
    print(
        f"\nresolver memory after {figures['misses']:,} distinct missing aliases: "
        f"{figures['bytes'] / 2**20:.2f} MiB in {figures['entries']:,} entries "
        f"(bound: max_entries = {figures['max_entries']:,}, least recently used forgotten; "
        f"{figures['bytes'] / max(figures['entries'], 1):,.0f} bytes an entry)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poll", type=float, default=10.0, help="seconds between polls")
    parser.add_argument("--seconds", type=float, default=300.0, help="simulated time")
    parser.add_argument("--misses", type=int, default=100_000, help="distinct missing aliases")
    options = parser.parse_args()
    show_resolver(simulate_resolver(options.poll, options.seconds))
    show_miss_memory(measure_miss_memory(options.misses))


if __name__ == "__main__":
    main()
