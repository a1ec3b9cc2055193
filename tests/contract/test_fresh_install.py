"""The seed's examples work with what a fresh install resolves (issue 9, items 1 and 11).

The seed documents ``artifact.s3path.exists(bsm=bsm)``,
``artifact.s3path.head_object(bsm=bsm).metadata`` and ``S3Path(uri).read_bytes(bsm=bsm)``;
s3pathlib 3 renamed ``bsm=`` to ``s3_client=`` and moved ``S3Path`` to ``s3pathlib.api``.
These tests run against the s3pathlib and boto_session_manager actually installed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
import pytest
import tomllib
from boto_session_manager.api import BotoSesManager

from tests.contract.test_s3_backend import count_requests
from tests.helpers import REGION, S3Backend

ROOT = Path(__file__).resolve().parents[2]
NAME = "my-app"


def _sessions() -> list[Any]:
    return [
        pytest.param(lambda: BotoSesManager(region_name=REGION), id="BotoSesManager"),
        pytest.param(lambda: boto3.Session(region_name=REGION), id="boto3.Session"),
    ]


@pytest.mark.parametrize("make_session", _sessions())
def test_seed_s3path_usage_with_bsm(s3_backend: S3Backend, make_session: Any) -> None:
    from versioned.s3path import S3Path

    repo = s3_backend.repo
    bsm = make_session()
    sent = count_requests(bsm)
    artifact = repo.put_artifact(NAME, b"v1", metadata={"build_id": "12345"})
    repo.publish_artifact_version(NAME)
    assert artifact.s3path.exists(bsm=bsm) is True
    head = artifact.s3path.head_object(bsm=bsm)
    assert head.metadata["build_id"] == "12345"  # the seed reads .metadata
    assert head["Metadata"]["artifact_sha256"] == artifact.sha256
    alias = repo.put_alias(NAME, "prod", version=1)
    assert alias.s3path_version.exists(bsm=bsm)
    assert S3Path(alias.random_artifact()).read_bytes(bsm=bsm) == b"v1"
    assert repo.get_artifact_s3path(NAME, 2).exists(bsm=bsm) is False
    assert len(sent) == 5  # every one of those calls went through the given session
    assert artifact.s3path.exists() is True  # and without bsm, the default chain
    assert artifact.s3path.exists(s3_client=bsm_client(bsm)) is True  # s3pathlib's own


def bsm_client(bsm: Any) -> Any:
    from versioned.s3path import s3_client_of

    return s3_client_of(bsm)


def test_s3path_refuses_a_wrong_bsm(s3_backend: S3Backend) -> None:
    artifact = s3_backend.repo.put_artifact(NAME, b"x")
    with pytest.raises(TypeError, match=r"BotoSesManager or a boto3\.Session"):
        artifact.s3path.exists(bsm="not a session")


def test_installed_versions_are_within_the_declared_ranges() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    s3pathlib = next(d for d in declared if d.startswith("s3pathlib"))
    assert re.fullmatch(r"s3pathlib>=2\.3\.3,<4", s3pathlib), s3pathlib
    major = int(metadata.version("s3pathlib").split(".")[0])
    assert 2 <= major < 4


def _readme_python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_imports_resolve_with_the_installed_packages() -> None:
    imports = [
        line.strip()
        for block in _readme_python_blocks()
        for line in block.splitlines()
        if re.match(r"\s*(from \S+ import \S+|import \S+)", line)
    ]
    assert any("boto_session_manager" in line for line in imports), imports
    for line in imports:
        exec(line.split("#")[0], {})  # an ImportError names the stale line


def test_readme_installs_this_package_not_the_public_1_0_1() -> None:
    text = (ROOT / "README.md").read_text()
    commands = "\n".join(re.findall(r"```(?:bash|sh)?\n(.*?)```", text, flags=re.S))
    installs = re.findall(r"pip install ([^\n#]*)", commands)
    assert installs
    for arguments in installs:
        # the public index's "versioned" is the original 1.0.1 library: never name it bare
        bare = r"(^|\s)['\"]?versioned(\[[^\]]*\])?['\"]?(?!\s*@)(\s|$)"
        assert not re.search(bare, arguments), arguments
    assert re.search(r"pip install .*git\+URL", commands), "a git URL install"
    assert "HOST/OWNER" not in text, "a placeholder a reader cannot fill in"
    assert re.search(r"pip wheel .*-w dist \.", commands), "a wheel to copy"
    assert re.search(r"pip install (-e )?['\"]?\.(\[[a-z,]+\])?['\"]?", commands)


def test_the_readme_wheel_is_this_package(tmp_path: Path) -> None:
    """The README's wheel command builds an installable wheel of this package (2.x, typed)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("versioned-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
    assert re.search(r"^Name: versioned$", text, flags=re.M)
    assert re.search(r"^Version: 2\.", text, flags=re.M), "not the public 1.0.1"
    assert "versioned/py.typed" in names and "versioned/cli/__init__.py" in names
