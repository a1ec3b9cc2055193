"""The S3 + DynamoDB backend, in the storage format of versioned 1.0.1.

Modules, from the bottom up:

- ``calls``: boto3 clients per session, and the one place AWS errors become ours;
- ``items``: 1.0.1's items and the attributes we add to them, as pure functions;
- ``place``: where a repository lives (bucket, prefix, table) and the common requests;
- ``transfer``: parallel, verified multipart uploads, ranged downloads, multipart copies;
- ``lease``: the lease on LATEST that puts, purges and gc hold;
- ``latest``: a put of LATEST, each byte write conditional on what the lease saw;
- ``claim``: a publish: claim the number, then its key, copy, commit (``part_copy``: a
  copy too large for one request);
- ``purge``: purge and gc, which fence writers out before deleting bytes;
- ``probe``: what the store enforces, found once and kept in the table; a store that
  cannot fence is refused;
- ``backend``: the :class:`~versioned.stores.base.Backend` tying them together.
"""

from .backend import S3DynamoBackend

__all__ = ["S3DynamoBackend"]
