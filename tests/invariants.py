"""The storage invariants (design.md 1-4), checked on raw storage behind the library's back.

:func:`raw_store_for` gives a :class:`RawStore` for a repository object (either backend);
:meth:`RawStore.violations` returns every broken invariant as a readable line, so an empty
list means the repository is sound. The checker reads only bytes, items, rows and files,
never the library, so a library bug cannot hide from it. It imports nothing from pytest:
``tools/stress.py`` uses it too.

What is checked:

- every committed version (item / row) names bytes that exist and hash to its sha256;
- no alias points at a missing, uncommitted or soft-deleted version;
- version numbers are unique and the publish counter (S3) is never behind a number in
  use, so numbers can never be handed out again; a number seen committed keeps its record
  (an expired version's tombstone: soft-deleted, naming no bytes) while higher ones exist;
- a published version's sha256 never changes between checks (same checker object);
- LATEST's bytes may disagree with its sha256 only while its item carries a lease
  (an in-doubt put): unexpired, or expired too when ``allow_expired_leases`` is set
  (a crashed writer: the next put repairs it); outside a lease, LATEST's object also
  has the ``object_etag`` its item recorded, when it recorded one;
- S3: items that name no bytes yet or any more (a put's placeholder, a publish's
  ``pending`` claim, a ``purging`` item of a purge in progress) skip the bytes check,
  but must be soft-deleted (1.0.1 would list them otherwise); every numbered item,
  committed or not, counts for the counter check;
- local: the database is in WAL mode, and the suffix it records is the expected one
  (blobs are looked up with the recorded suffix unless one is given).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

LATEST_KEY = "LATEST"
#: S3 item attributes marking a version whose bytes are not (or no longer) settled.
_UNSETTLED = ("pending", "purging")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class RawStore:
    """Raw access to one repository's storage plus what earlier checks saw."""

    #: (name, number) -> sha256 of every published version seen by an earlier check
    seen: dict[tuple[str, int], str] = field(default_factory=dict)

    def violations(
        self, *, allow_expired_leases: bool = False, names: Collection[str] | None = None
    ) -> list[str]:
        """Every broken invariant, one line each; empty when the storage is sound.

        ``names`` limits the check to those artifacts (None: all of them).
        """
        raise NotImplementedError

    def _remember(self, name: str, number: int, sha256: str, problems: list[str]) -> None:
        """Flag a published version whose sha256 changed since an earlier check."""
        before = self.seen.setdefault((name, number), sha256)
        if before != sha256:
            problems.append(f"{name} v{number}: sha256 changed from {before} to {sha256}")

    def _vanished(self, numbers: dict[str, set[int]], problems: list[str]) -> None:
        """Flag a number an earlier check saw committed whose record is gone while a
        higher number exists: nothing would stop it being given out again. (After a
        purge of the whole artifact numbering starts over, and passes through it anew.)"""
        for name, number in self.seen:
            present = numbers.get(name, set())
            if number not in present and any(n > number for n in present):
                problems.append(f"{name} v{number}: its record vanished; the number is free")


@dataclass
class LocalRawStore(RawStore):
    """The local backend's folder: SQLite rows and content-addressed blob files."""

    root: Path = Path()
    #: None: the suffix the repository recorded in its settings (``""`` if none)
    suffix: str | None = None

    def recorded_suffix(self) -> str | None:
        """The suffix recorded in the repository's settings (None: not recorded)."""
        conn = self.connect()
        try:
            row = conn.execute("SELECT value FROM settings WHERE key = 'suffix'").fetchone()
        except sqlite3.OperationalError:
            return None  # made before settings were recorded
        finally:
            conn.close()
        return None if row is None else str(row[0])

    def blob_path(self, sha256: str) -> Path:
        """Where the local backend keeps the bytes with this hash."""
        suffix = self.suffix if self.suffix is not None else self.recorded_suffix() or ""
        return self.root / "blobs" / sha256[:2] / f"{sha256}{suffix}"

    def connect(self) -> sqlite3.Connection:
        """A plain connection to the repository's database (no library code)."""
        conn = sqlite3.connect(self.root / "versioned.sqlite3", timeout=30)
        conn.row_factory = sqlite3.Row
        return conn

    def violations(
        self, *, allow_expired_leases: bool = False, names: Collection[str] | None = None
    ) -> list[str]:
        problems: list[str] = []
        recorded = self.recorded_suffix()
        if self.suffix is not None and recorded is not None and recorded != self.suffix:
            problems.append(f"settings record suffix {recorded!r}, expected {self.suffix!r}")
        conn = self.connect()
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode.lower() != "wal":
                problems.append(f"database journal_mode is {mode}, not wal")
            rows = conn.execute("SELECT name, version, sha256, is_deleted FROM versions").fetchall()
            aliases = conn.execute("SELECT * FROM aliases").fetchall()
        finally:
            conn.close()
        if names is not None:
            rows = [r for r in rows if r["name"] in names]
            aliases = [a for a in aliases if a["name"] in names]
        hashes: dict[str, str | None] = {}
        live: set[tuple[str, int]] = set()
        numbers: dict[str, set[int]] = {}
        for row in rows:
            name, number, sha256 = row["name"], row["version"], row["sha256"]
            numbers.setdefault(name, set()).add(number)
            if not sha256:  # an expired version's tombstone: names no bytes, never live
                if not row["is_deleted"] or not number:
                    problems.append(f"{name} v{number}: a tombstone that is not deleted")
                continue
            if sha256 not in hashes:
                path = self.blob_path(sha256)
                hashes[sha256] = _sha256(path.read_bytes()) if path.exists() else None
            actual = hashes[sha256]
            shown = "LATEST" if number == 0 else f"v{number}"
            if actual is None:
                problems.append(f"{name} {shown}: blob {sha256} is missing")
            elif actual != sha256:
                problems.append(f"{name} {shown}: blob {sha256} hashes to {actual}")
            if number:
                self._remember(name, number, sha256, problems)
            if not row["is_deleted"]:
                live.add((name, number))
        for alias in aliases:
            for target in (alias["version"], alias["secondary_version"]):
                if target is not None and (alias["name"], target) not in live:
                    problems.append(
                        f"{alias['name']} alias {alias['alias']}: targets missing or "
                        f"soft-deleted version {target or 'LATEST'}"
                    )
        self._vanished(numbers, problems)
        return problems


def query_partition(
    dynamodb: Any, table: str, pk: str, *, newest_first: bool = False
) -> list[dict[str, Any]]:
    """Every item with partition key ``pk`` in raw DynamoDB JSON (consistent query),
    in sort key order (reversed with ``newest_first``)."""
    found: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
        ScanIndexForward=not newest_first,
    ):
        found.extend(page["Items"])
    return found


def _is_alias_partition(pk: str) -> bool:
    return pk.startswith("__") and pk.endswith("-alias")


def _artifact_of(pk: str) -> str:
    """The artifact a partition key belongs to (its versions or its aliases)."""
    return pk[2 : -len("-alias")] if _is_alias_partition(pk) else pk


@dataclass
class S3RawStore(RawStore):
    """The S3 backend's bucket and table, read with plain boto3 clients."""

    s3: Any = None
    dynamodb: Any = None
    bucket: str = ""
    table: str = ""
    prefix: str = "versioned-artifacts"
    suffix: str = ""

    def key(self, name: str, sk: str) -> str:
        """The object key of a version sort key (``LATEST`` or ``000005``)."""
        return f"{self.prefix}/{name}/{sk}{self.suffix}"

    def items(self) -> list[dict[str, Any]]:
        """Every item of the table about artifacts (consistent scan; the record of what the
        store enforces, partition ``__versioned#store``, names no bytes)."""
        found: list[dict[str, Any]] = []
        for page in self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table, ConsistentRead=True
        ):
            found.extend(i for i in page["Items"] if i["pk"]["S"] != "__versioned#store")
        return found

    def partition(self, pk: str) -> list[dict[str, Any]]:
        """Every item with partition key ``pk`` (consistent query)."""
        return query_partition(self.dynamodb, self.table, pk)

    def violations(
        self, *, allow_expired_leases: bool = False, names: Collection[str] | None = None
    ) -> list[str]:
        problems: list[str] = []
        if names is None:
            items = self.items()
        else:  # a table shared by many tests: read only these artifacts' partitions
            items = [i for n in names for pk in (n, f"__{n}-alias") for i in self.partition(pk)]
        # an alias's history (``__NAME-alias#history``) names no bytes: tests/alias_chain.py
        items = [i for i in items if not i["pk"]["S"].endswith("-alias#history")]
        versions = [i for i in items if not _is_alias_partition(i["pk"]["S"])]
        live: set[tuple[str, str]] = set()
        highest: dict[str, int] = {}
        numbers: dict[str, set[int]] = {}
        counters: dict[str, int] = {}
        for item in versions:
            name, sk = item["pk"]["S"], item["sk"]["S"]
            sha256 = item.get("sha256", {}).get("S", "")
            deleted = item.get("is_deleted", {}).get("BOOL", False)
            if sk == LATEST_KEY and "last_version" in item:
                counters[name] = int(item["last_version"]["N"])
            if sk != LATEST_KEY and sk.isdigit():
                highest[name] = max(highest.get(name, 0), int(sk))
                numbers.setdefault(name, set()).add(int(sk))
            unsettled = [mark for mark in _UNSETTLED if mark in item]
            if unsettled and not deleted:
                problems.append(f"{name} {sk}: {unsettled[0]} item is not soft-deleted")
            if "expired" in item and (not deleted or sha256):
                problems.append(f"{name} {sk}: an expired item that is not a tombstone")
            if not sha256 or "update_at" not in item or unsettled:
                continue  # names no bytes yet, or bytes a purge may have removed
            if sk != LATEST_KEY:
                self._remember(name, int(sk), sha256, problems)
            if not deleted:
                live.add((name, sk))
            problems += self._bytes_problems(item, allow_expired_leases)
        for name, top in highest.items():
            if name in counters and counters[name] < top:
                problems.append(f"{name}: counter {counters[name]} behind version {top}")
        for item in items:
            pk = item["pk"]["S"]
            if not _is_alias_partition(pk):
                continue
            name = _artifact_of(pk)
            targets = [item["version"]["S"]]
            if "secondary_version" in item:
                targets.append(item["secondary_version"]["S"])
            for target in targets:
                if (name, target) not in live:
                    problems.append(
                        f"{name} alias {item['sk']['S']}: targets missing or soft-deleted "
                        f"version {target}"
                    )
        self._vanished(numbers, problems)
        return problems

    def _bytes_problems(self, item: dict[str, Any], allow_expired: bool) -> list[str]:
        """The item's object must exist and hash to its sha256 (LATEST: outside a lease,
        and with the ETag it recorded)."""
        name, sk, sha256 = item["pk"]["S"], item["sk"]["S"], item["sha256"]["S"]
        key = self.key(name, sk)
        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return [f"{name} {sk}: item names sha256 {sha256} but has no object"]
        actual = _sha256(answer["Body"].read())
        recorded_etag = item.get("object_etag", {}).get("S")
        wrong: str | None = None
        if actual != sha256:
            wrong = f"{name} {sk}: object hashes to {actual}, item {sha256}"
        elif recorded_etag is not None and answer["ETag"] != recorded_etag:
            wrong = f"{name} {sk}: object ETag {answer['ETag']}, item recorded {recorded_etag}"
        if wrong is None or self._in_doubt(item, allow_expired) or self._changed_since(item):
            return []
        return [wrong]

    def _changed_since(self, item: dict[str, Any]) -> bool:
        """LATEST's item changed after the scan (a put ran during the check): not a fault."""
        if item["sk"]["S"] != LATEST_KEY:
            return False
        now = self.dynamodb.get_item(
            TableName=self.table, Key={"pk": item["pk"], "sk": item["sk"]}, ConsistentRead=True
        ).get("Item")
        watched = ("sha256", "lease_token", "object_etag")
        return now is None or any(now.get(k) != item.get(k) for k in watched)

    @staticmethod
    def _in_doubt(item: dict[str, Any], allow_expired: bool) -> bool:
        """LATEST with a put's lease on it: its bytes may be ahead of its sha256."""
        if item["sk"]["S"] != LATEST_KEY or "lease_until" not in item:
            return False
        return allow_expired or float(item["lease_until"]["N"]) > time.time()


def raw_store_for(repo: Any, endpoint_url: str | None = None) -> RawStore:
    """A raw view of ``repo``'s storage (either backend's ``Repository``).

    For S3, plain clients are made on ``endpoint_url`` (default: each service's endpoint
    from the environment, as botocore reads it), so the checker can bypass a
    fault-injecting proxy the repository goes through.
    """
    if hasattr(repo, "s3_bucket"):
        endpoint = endpoint_url
        return S3RawStore(
            s3=boto3.client("s3", region_name=repo.aws_region, endpoint_url=endpoint),
            dynamodb=boto3.client("dynamodb", region_name=repo.aws_region, endpoint_url=endpoint),
            bucket=repo.s3_bucket,
            table=repo.dynamodb_table_name,
            prefix=repo.s3_prefix,
            suffix=repo.suffix,
        )
    return LocalRawStore(root=Path(repo.root).expanduser().resolve(), suffix=repo.suffix)


def assert_sound(
    store: RawStore,
    *,
    allow_expired_leases: bool = False,
    names: Collection[str] | None = None,
    context: str = "",
) -> None:
    """Raise AssertionError listing every violation, if there is any."""
    problems = store.violations(allow_expired_leases=allow_expired_leases, names=names)
    assert not problems, f"invariants broken{' ' + context if context else ''}:\n" + "\n".join(
        problems
    )
