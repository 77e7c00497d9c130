"""A drop-in FileSystemLockManager that tells locktop who holds each lock.

Prefect's transactions write a random UUID as the holder and no expiration, so a crashed worker's
lock never expires and nothing in the file says who held it. This subclass writes the same lock
JSON, which Prefect reads, waits on and releases unchanged, plus the holder's host, pid and process
start time, when it took the lock, and the Prefect flow run, task run and task it belongs to. locktop then
judges the holder alive or dead without root.

It also creates the lock file with its content in one step (a temporary file linked into place),
so no reader ever sees the empty file Prefect's touch-then-write leaves for a moment.

While a process holds a lock, one daemon thread per process touches a heartbeat file beside the
locks, `.locktop-alive-HOST-PID-START-NONCE`, every `LOCKTOP_HEARTBEAT_INTERVAL` seconds (default 2), and
each lock file names it. A locktop on any host that shares the directory then proves the holder
dead when the heartbeat stops (three intervals by the storage's own clock), with no root anywhere.
Heartbeat files left by killed processes are removed by the next process of the same user to take
a lock there, once untouched for ten minutes.

`locktop_prefect.redis.LocktopRedisLockManager` (the `redis` extra) does the same for prefect-redis: it keeps the same
`lock:<key>` values, so plain prefect-redis workers interoperate, and adds a companion
`locktop:holder:<key>` with the identity, and one `locktop:alive:HOST:PID:START:NONCE` key per process,
whose PX TTL of three intervals a daemon thread renews. Redis's own clock expires it.
"""

from __future__ import annotations

import datetime
import json
import os
import atexit
import secrets
import socket
import stat
import threading
import time
import uuid
from pathlib import Path
from typing import Optional

from prefect.locking.filesystem import FileSystemLockManager

__all__ = ["LocktopFileSystemLockManager", "HEARTBEAT_INTERVAL"]

HEARTBEAT_INTERVAL = float(os.environ.get("LOCKTOP_HEARTBEAT_INTERVAL", "2"))
# A heartbeat file untouched this long (or 100 intervals, whichever is more) was left by a killed
# process; the first lock this process takes in a directory removes such files of its user.
LEFTOVER_AGE = 600.0


def _process_start_ticks() -> Optional[int]:
    """Field 22 of /proc/self/stat: with the pid, it tells this process from a later one reusing the pid."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _host_name() -> str:
    """This host's name, as a heartbeat's name may hold it."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in socket.gethostname())[:100]


_nonce = secrets.token_hex(8)


def _renew_nonce() -> None:
    global _nonce
    _nonce = secrets.token_hex(8)


os.register_at_fork(after_in_child=_renew_nonce)


def _process_nonce() -> str:
    """64 random bits drawn once per process (again in a forked child). A heartbeat's name needs
    them: processes in separate pid namespaces under one host name (a pod's containers, the demo's
    hosts) are all pid 1, and started within one clock tick they share the host, pid and start."""
    return _nonce


def _run_context() -> dict:
    """The flow run and task run this code runs in, when Prefect says."""
    found = {}
    try:
        from prefect.context import FlowRunContext, TaskRunContext

        flow_run = getattr(FlowRunContext.get(), "flow_run", None)
        if flow_run is not None:
            found["flow_run_id"] = str(flow_run.id)
            found["flow_run_name"] = flow_run.name
        task_context = TaskRunContext.get()
        task_run = getattr(task_context, "task_run", None)
        if task_run is not None:
            found["task_run_id"] = str(task_run.id)
            found["task_run_name"] = task_run.name
        task = getattr(task_context, "task", None)
        if task is not None:
            found["task_name"] = task.name
    except Exception:  # identity is a bonus: never fail an acquisition over it
        pass
    return found


def _holder_identity(holder: str, expiration: Optional[datetime.datetime]) -> dict:
    """What locktop reads of a holder: the lock's own two fields, then this process and its run."""
    content = {
        "holder": holder,
        "expiration": str(expiration) if expiration is not None else None,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "process_start_ticks": _process_start_ticks(),
        "acquired_at": str(datetime.datetime.now(datetime.timezone.utc)),
    }
    content.update(_run_context())
    return content


class _Heartbeat:
    """This process's heartbeat files, one per locks directory, touched while it holds a lock there."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._managers: list = []
        self._files: dict = {}
        self._thread: Optional[threading.Thread] = None
        self._swept: set = set()
        atexit.register(self._remove_all)

    @staticmethod
    def name() -> str:
        return f".locktop-alive-{_host_name()}-{os.getpid()}-{_process_start_ticks() or 0}-{_process_nonce()}"

    def beat_for(self, manager: "LocktopFileSystemLockManager", directory: Path) -> str:
        """Touches the heartbeat in `directory` now, and keeps touching it while `manager` holds locks."""
        path = os.path.join(directory, self.name())
        with self._guard:
            if manager not in self._managers:
                self._managers.append(manager)
            if str(directory) not in self._swept:
                self._swept.add(str(directory))
                self._sweep(directory)
            self._touch(path)
            # A lock is written just after this: its file is kept at least an interval, held or not yet.
            self._files[path] = time.monotonic()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="locktop-heartbeat", daemon=True)
                self._thread.start()
        return os.path.basename(path)

    @staticmethod
    def _touch(path: str) -> None:
        try:
            os.utime(path)
        except FileNotFoundError:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            os.close(fd)

    def _run(self) -> None:
        while True:
            threading.Event().wait(HEARTBEAT_INTERVAL)
            with self._guard:
                held = {str(Path(info["path"]).parent) for m in self._managers for info in list(m._locks.values())}
                for path in list(self._files):
                    if os.path.dirname(path) in held or time.monotonic() - self._files[path] < HEARTBEAT_INTERVAL:
                        try:
                            self._touch(path)
                        except OSError:
                            pass
                    else:
                        self._remove(path)
                if not self._files:
                    self._thread = None
                    return

    @staticmethod
    def _sweep(directory: Path) -> None:
        """Removes this user's heartbeat files that nobody touched for LEFTOVER_AGE seconds: left by
        processes killed with SIGKILL. Readers already judge such a heartbeat dead (expired); gone,
        it stays dead, so no verdict changes. The age alone decides, never a pid: a process in
        another pid namespace with the same host name is invisible here but alive."""
        cutoff = time.time() - max(LEFTOVER_AGE, 100 * HEARTBEAT_INTERVAL)
        try:
            names = [name for name in os.listdir(directory) if name.startswith(".locktop-alive-")]
        except OSError:
            return
        for name in names[:10_000]:
            path = os.path.join(directory, name)
            try:
                status = os.lstat(path)
                if stat.S_ISREG(status.st_mode) and status.st_uid == os.geteuid() and status.st_mtime < cutoff:
                    os.unlink(path)
            except OSError:
                pass

    def _remove(self, path: str) -> None:
        self._files.pop(path, None)
        try:
            os.unlink(path)
        except OSError:
            pass

    def _remove_all(self) -> None:
        with self._guard:
            for path in list(self._files):
                self._remove(path)


_heartbeat = _Heartbeat()


class LocktopFileSystemLockManager(FileSystemLockManager):
    """FileSystemLockManager whose lock files also say which process holds them."""

    def _lock_content(self, holder: str, expiration: Optional[datetime.datetime], heartbeat: str) -> bytes:
        content = _holder_identity(holder, expiration)
        content.update({"heartbeat": heartbeat, "heartbeat_interval": HEARTBEAT_INTERVAL})
        return json.dumps(content, separators=(",", ":")).encode()

    @staticmethod
    def _write_temporary(directory: Path, content: bytes) -> str:
        """A complete file beside the lock, with the permissions Prefect's own lock files get (0666 less the umask)."""
        while True:
            temporary = os.path.join(directory, f".locktop-{os.getpid()}-{uuid.uuid4().hex}.tmp")
            try:
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
                break
            except FileExistsError:
                continue
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(content)
        except BaseException:
            # A full disk (found by the soak) must not leave the temporary file behind.
            os.unlink(temporary)
            raise
        return temporary

    def _create_with_content(self, lock_path: Path, content: bytes) -> bool:
        """Creates the lock file already holding `content`; False when a lock file exists."""
        temporary = self._write_temporary(lock_path.parent, content)
        try:
            os.link(temporary, lock_path)
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)
        return True

    def _replace_with_content(self, lock_path: Path, content: bytes) -> None:
        """Rewrites our own lock by renaming a complete file over it."""
        temporary = self._write_temporary(lock_path.parent, content)
        try:
            os.replace(temporary, lock_path)
        except BaseException:
            os.unlink(temporary)
            raise

    def _take(self, key: str, holder: str, hold_timeout: Optional[float]) -> bool:
        lock_path = Path(self._lock_path_for_key(key))
        expiration = (
            datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=hold_timeout)
            if hold_timeout is not None
            else None
        )
        heartbeat = _heartbeat.beat_for(self, lock_path.parent)
        content = self._lock_content(holder, expiration, heartbeat)
        if not self._create_with_content(lock_path, content):
            if not self.is_lock_holder(key, holder):
                return False
            self._replace_with_content(lock_path, content)
        self._locks[key] = {"holder": holder, "expiration": expiration, "path": lock_path}
        return True

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: Optional[float] = None,
        hold_timeout: Optional[float] = None,
    ) -> bool:
        self._ensure_lock_files_directory_exists()
        while True:
            if self.is_locked(key) and not self.is_lock_holder(key, holder):
                if not self.wait_for_lock(key, acquire_timeout):
                    return False
            if self._take(key, holder, hold_timeout):
                return True

    async def aacquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: Optional[float] = None,
        hold_timeout: Optional[float] = None,
    ) -> bool:
        self._ensure_lock_files_directory_exists()
        while True:
            if self.is_locked(key) and not self.is_lock_holder(key, holder):
                if not await self.await_for_lock(key, acquire_timeout):
                    return False
            if self._take(key, holder, hold_timeout):
                return True
