"""The versioned 1.0.1 library's identical put, timed on the same moto server, for
``tools/bench.py --legacy-python PATH`` (PATH: a Python with ``versioned==1.0.1``
installed, e.g. a venv made with ``python -m venv /tmp/v101 && /tmp/v101/bin/pip install
versioned==1.0.1``).

Run by that Python as a worker: ``bench_legacy.py BUCKET TABLE NAME``; the environment
points boto3 at the moto server. It puts one content once, then for each line read on
standard input puts the same content again and answers the milliseconds it took, so the
benchmark can run it by turns with our own identical put (the machine's load falls on
both alike). 1.0.1's identical put is one HeadObject (it compares the object's
``artifact_sha256`` metadata and returns). Nothing here imports this package.
"""

from __future__ import annotations

import sys
import time


def main() -> None:
    """Serve timed identical puts, one per line of standard input."""
    from boto_session_manager import BotoSesManager

    from versioned.s3_and_dynamodb_backend import Repository

    bucket, table, name = sys.argv[1:4]
    bsm = BotoSesManager(region_name="us-east-1")
    repo = Repository(aws_region="us-east-1", s3_bucket=bucket, dynamodb_table_name=table)
    repo.bootstrap(bsm=bsm)
    content = b"the same content, put again and again"
    repo.put_artifact(name, content, bsm=bsm)
    print("ready", flush=True)
    for _ in sys.stdin:
        start = time.perf_counter()
        repo.put_artifact(name, content, bsm=bsm)
        print(f"{(time.perf_counter() - start) * 1000:.4f}", flush=True)


if __name__ == "__main__":
    main()
