"""Sticky routing (``Alias.route``): deterministic, weight-true and monotone in the weight.

These run on ``Alias`` values alone: routing needs no backend.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from versioned import Alias, exc
from versioned.arguments import MAX_ROUTE_KEY

VERSIONS = st.one_of(st.just("LATEST"), st.integers(1, 10**6).map(str))
KEYS = st.text(min_size=1, max_size=64)
NAMES = st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True)
WEIGHTS = st.integers(0, 99)
SHARE_KEYS = 100_000


def make_alias(
    version: str = "5",
    secondary: str | None = "6",
    weight: int | None = 20,
    name: str = "app",
) -> Alias:
    return Alias(
        name=name,
        alias="prod",
        update_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        version=version,
        secondary_version=secondary,
        secondary_version_weight=weight,
        version_uri=f"file:///repo/{name}/{version}",
        secondary_version_uri=None if secondary is None else f"file:///repo/{name}/{secondary}",
    )


def documented_bucket(name: str, version: str, secondary: str, key: str) -> int:
    """The rule as routing.py writes it down, computed here without the library."""
    data = b"versioned.route.v1"
    for part in (name, version, secondary, key):
        encoded = part.encode("utf-8")
        data += len(encoded).to_bytes(4, "big") + encoded
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big") % 10_000


@st.composite
def pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two different versions."""
    primary = draw(VERSIONS)
    secondary = draw(VERSIONS.filter(lambda v: v != primary))
    return primary, secondary


@given(name=NAMES, pair=pairs(), low=WEIGHTS, high=WEIGHTS, keys=st.lists(KEYS, max_size=50))
def test_raising_the_weight_only_moves_keys_to_the_secondary(
    name: str, pair: tuple[str, str], low: int, high: int, keys: list[str]
) -> None:
    low, high = min(low, high), max(low, high)
    before = make_alias(*pair, weight=low, name=name)
    after = make_alias(*pair, weight=high, name=name)
    for key in keys:
        if before.route(key) == pair[1]:
            assert after.route(key) == pair[1], key


@given(name=NAMES, pair=pairs(), weight=WEIGHTS, key=KEYS)
def test_the_same_key_gets_the_same_version_and_the_documented_one(
    name: str, pair: tuple[str, str], weight: int, key: str
) -> None:
    alias = make_alias(*pair, weight=weight, name=name)
    first = alias.route(key)
    # a separate but equal alias object, asked again: same answer
    assert make_alias(*pair, weight=weight, name=name).route(key) == first
    assert alias.route(key) == first
    secondary = documented_bucket(name, pair[0], pair[1], key) < weight * 100
    assert first == (pair[1] if secondary else pair[0])
    expected_uri = alias.secondary_version_uri if secondary else alias.version_uri
    assert alias.route_artifact(key) == expected_uri


@given(version=VERSIONS, weight=st.one_of(st.none(), WEIGHTS), key=KEYS)
def test_without_a_secondary_every_key_gets_the_primary(
    version: str, weight: int | None, key: str
) -> None:
    alias = make_alias(version, None, weight)
    assert alias.route(key) == version
    assert alias.route_artifact(key) == alias.version_uri


@given(pair=pairs(), key=KEYS)
def test_weight_zero_or_none_sends_every_key_to_the_primary(
    pair: tuple[str, str], key: str
) -> None:
    for weight in (0, None):
        assert make_alias(*pair, weight=weight).route(key) == pair[0]


@given(key=KEYS)
def test_latest_routes_like_any_version(key: str) -> None:
    # LATEST's bytes may change, but which side of the split a key is on must not
    alias = make_alias("LATEST", "3", 50)
    assert alias.route(key) in ("LATEST", "3")
    assert alias.route(key) == make_alias("LATEST", "3", 50).route(key)
    assert make_alias("3", "LATEST", 50).route(key) in ("LATEST", "3")


@pytest.mark.parametrize("weight", [1, 5, 20, 50, 99])
def test_the_secondary_share_over_100000_keys_is_the_weight(weight: int) -> None:
    alias = make_alias("5", "6", weight)
    secondary = sum(alias.route(f"user-{i}") == "6" for i in range(SHARE_KEYS))
    share = 100 * secondary / SHARE_KEYS
    assert abs(share - weight) <= 1.0, (weight, share)


def test_another_pair_reshuffles_the_keys() -> None:
    # keys are sticky per pair; promoting the canary starts a fresh split
    keys = [f"host-{i}" for i in range(2000)]
    first = {k for k in keys if make_alias("5", "6", 50).route(k) == "6"}
    second = {k for k in keys if make_alias("6", "7", 50).route(k) == "7"}
    assert first != second
    assert 400 < len(first & second) < 600  # two independent halves share about a quarter


_CHILD = """
import json, sys
from datetime import datetime, timezone
from versioned import Alias
alias = Alias(name="app", alias="prod", update_at=datetime.now(timezone.utc), version="5",
              secondary_version="6", secondary_version_weight=30, version_uri="a",
              secondary_version_uri="b")
print(json.dumps([alias.route(k) for k in json.loads(sys.stdin.read())]))
"""


@pytest.mark.parametrize("hash_seed", ["0", "12345"])
def test_a_fresh_process_routes_every_key_the_same(hash_seed: str) -> None:
    keys = [f"user-{i}" for i in range(500)] + ["ünïcödé", "名前", "a" * MAX_ROUTE_KEY]
    here = [make_alias("5", "6", 30).route(k) for k in keys]
    # another string-hash seed than ours: the rule must not lean on Python's hash()
    child = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(keys),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
    )
    assert json.loads(child.stdout) == here
    assert 0 < here.count("6") < len(keys)


@pytest.mark.parametrize(
    ("key", "error"),
    [
        ("", exc.InvalidArgumentError),
        ("x" * (MAX_ROUTE_KEY + 1), exc.InvalidArgumentError),
        ("lone \ud800 surrogate", exc.InvalidArgumentError),
        (None, exc.InvalidArgumentTypeError),
        (42, exc.InvalidArgumentTypeError),
        (b"bytes", exc.InvalidArgumentTypeError),
    ],
)
def test_a_bad_key_is_refused_even_without_a_split(key: object, error: type) -> None:
    for alias in (make_alias(), make_alias("5", None, None)):
        with pytest.raises(error):
            alias.route(key)  # type: ignore[arg-type]
        with pytest.raises(error):
            alias.route_artifact(key)  # type: ignore[arg-type]


def test_random_artifact_still_draws_independently() -> None:
    # the seed's random_artifact: a fresh weighted draw each call, not tied to any key
    alias = make_alias("5", "6", 50)
    picks = {alias.random_artifact() for _ in range(200)}
    assert picks == {alias.version_uri, alias.secondary_version_uri}
