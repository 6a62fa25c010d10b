"""An S3-compatible store for the S3 storage backend: moto's server, one per test module, a bucket per test."""

import uuid

import botocore.session
import pytest

from tests.support.processes import MotoServer

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory):
    """Never skipped: without moto_server (the test extra) the S3 tests fail."""
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(moto_server, monkeypatch):
    """A new bucket on moto's server, and the environment botocore reads the credentials from."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket = f"inbox-{uuid.uuid4().hex[:12]}"
    client = botocore.session.get_session().create_client("s3", endpoint_url=moto_server.url, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    return bucket
