"""LocktopFileSystemLockManager against Prefect's own FileSystemLockManager, on one directory."""

import json
import os
import time
import uuid

from prefect.locking.filesystem import FileSystemLockManager

from locktop_prefect import HEARTBEAT_INTERVAL, LocktopFileSystemLockManager


def test_the_lock_names_its_process_and_heartbeat_and_prefect_reads_it_unchanged(tmp_path):
    helper = LocktopFileSystemLockManager(lock_files_directory=tmp_path)
    plain = FileSystemLockManager(lock_files_directory=tmp_path)
    holder = str(uuid.uuid4())
    assert helper.acquire_lock("flow-b", holder)
    content = json.loads((tmp_path / "flow-b.lock").read_text())
    assert content["holder"] == holder and content["expiration"] is None
    assert content["pid"] == os.getpid() and content["process_start_ticks"] > 0
    assert content["heartbeat"].startswith(".locktop-alive-") and content["heartbeat_interval"] == HEARTBEAT_INTERVAL
    heartbeat = tmp_path / content["heartbeat"]
    assert heartbeat.exists()
    assert plain.is_locked("flow-b")
    assert not plain.acquire_lock("flow-b", str(uuid.uuid4()), acquire_timeout=0.2)

    # While held, the heartbeat is touched every interval.
    before = heartbeat.stat().st_mtime_ns
    time.sleep(3 * HEARTBEAT_INTERVAL)
    assert heartbeat.stat().st_mtime_ns > before

    helper.release_lock("flow-b", holder)
    assert not plain.is_locked("flow-b")
    # Released, the heartbeat goes within a couple of intervals.
    deadline = time.monotonic() + 10 * HEARTBEAT_INTERVAL
    while heartbeat.exists() and time.monotonic() < deadline:
        time.sleep(HEARTBEAT_INTERVAL / 4)
    assert not heartbeat.exists()


def test_no_temporary_file_is_left_and_a_held_lock_is_not_taken_again(tmp_path):
    helper = LocktopFileSystemLockManager(lock_files_directory=tmp_path)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert helper.acquire_lock("a", first)
    assert not helper.acquire_lock("a", second, acquire_timeout=0.2)
    assert json.loads((tmp_path / "a.lock").read_text())["holder"] == first
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    helper.release_lock("a", first)


def test_heartbeats_left_by_killed_processes_go_once_old_and_young_ones_stay(tmp_path):
    import locktop_prefect

    old = tmp_path / ".locktop-alive-elsewhere-4242-99"
    young = tmp_path / ".locktop-alive-elsewhere-4343-99"
    for path in (old, young):
        path.touch()
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    # A fresh directory for this process's sweep (it sweeps each directory once).
    locktop_prefect._heartbeat._swept.discard(str(tmp_path))
    helper = LocktopFileSystemLockManager(lock_files_directory=tmp_path)
    holder = str(uuid.uuid4())
    assert helper.acquire_lock("sweep", holder)
    assert not old.exists(), "a heartbeat untouched for an hour is a leftover"
    assert young.exists(), "a young heartbeat may be a live process's, in a pid namespace we cannot see"
    helper.release_lock("sweep", holder)


def test_a_full_disk_leaves_no_temporary_file(tmp_path, monkeypatch):
    """Found by the soak: the lock's temporary file stayed when writing it failed with ENOSPC."""
    import errno

    import locktop_prefect

    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fd):
            self.file = real_fdopen(fd, "wb")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(locktop_prefect.os, "fdopen", lambda fd, mode: Full(fd))
    helper = LocktopFileSystemLockManager(lock_files_directory=tmp_path)
    try:
        helper.acquire_lock("full", str(uuid.uuid4()))
    except OSError as error:
        assert error.errno == errno.ENOSPC
    else:
        raise AssertionError("the write did not fail")
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_processes_that_share_a_host_name_pid_and_start_still_have_heartbeats_of_their_own():
    """Found by CI (demo --hosts): a pod's containers, or the demo's other hosts, are each pid 1 of
    a pid namespace of their own under one host name; two started in one clock tick shared one
    heartbeat, so a dead one's lock looked alive while the other ran."""
    import shutil
    import subprocess
    import sys

    import pytest

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("this test runs as root, with unshare")
        pytest.skip("needs root and unshare")
    # The start is pinned: a shared clock tick is what makes the collision.
    script = (
        "import os, locktop_prefect as l, locktop_prefect.redis as r\n"
        "l._process_start_ticks = r._process_start_ticks = lambda: 4242\n"
        "print(os.getpid(), l._Heartbeat.name(), r._alive_key())\n"
    )
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    seen = []
    for _ in range(2):
        output = subprocess.run(
            ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", script],
            env=environment, check=True, capture_output=True, text=True,
        ).stdout.split()
        assert output[0] == "1", "each process is pid 1 of its own namespace"
        seen.append(output[1:])
    assert seen[0][0] != seen[1][0], "file heartbeats of their own"
    assert seen[0][1] != seen[1][1], "Redis heartbeat keys of their own"
    # A forked child is another process too.
    import locktop_prefect

    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(writer, locktop_prefect._Heartbeat.name().encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    named_by_child = os.read(reader, 4096).decode()
    os.close(reader)
    assert named_by_child.split("-")[-1] != locktop_prefect._Heartbeat.name().split("-")[-1]
