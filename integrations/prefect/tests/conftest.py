"""Fixtures for the helper's tests: a short heartbeat, and a private redis-server on 127.0.0.1."""

import os
import shutil
import socket
import subprocess
import time

import pytest

# Read when locktop_prefect is imported: the tests import it after this.
os.environ["LOCKTOP_HEARTBEAT_INTERVAL"] = "0.2"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    """A private redis-server for one test; missing, it skips the test (and fails it under CI=true)."""
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no redis-server; run scripts/setup.sh")
        pytest.skip("no redis-server")
    port = _free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    yield url
    process.kill()
    process.wait()
