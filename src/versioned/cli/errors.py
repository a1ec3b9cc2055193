"""Errors in the user's terms: what is missing, named, with the command that makes it."""

from __future__ import annotations

from .. import exc

#: AWS error codes: the bucket is missing, the table is missing
_NO_BUCKET, _NO_TABLE = "NoSuchBucket", "ResourceNotFoundException"


def not_ready(error: exc.RepositoryNotReadyError, repo: object) -> str:
    """The message for a repository whose bucket or table does not exist: which one, in
    which region, and that ``versioned init`` creates it (not the library's advice to
    call ``bootstrap()``)."""
    bucket = getattr(repo, "s3_bucket", None)
    table = getattr(repo, "dynamodb_table_name", None)
    region = getattr(repo, "aws_region", None)
    if bucket is None or table is None:  # not an S3 repository: the message is all we have
        message = str(error).replace(" (run bootstrap() first)", "")
        return f"{message}: 'versioned init' creates the repository"
    cause = error.__cause__
    code = getattr(cause, "response", {}).get("Error", {}).get("Code", "")
    if code == _NO_BUCKET:
        what = f"the S3 bucket '{bucket}' does not exist"
    elif code == _NO_TABLE:
        what = f"the DynamoDB table '{table}' does not exist in {region}"
    else:
        what = f"the S3 bucket '{bucket}' or the DynamoDB table '{table}' ({region}) is missing"
    return (
        f"{what}: 'versioned init' creates the bucket and table (or check --repo "
        "and $VERSIONED_REPO)"
    )
