"""A drop-in prefect-redis RedisLockManager that tells locktop who holds each lock.

The `lock:<key>` values stay exactly prefect-redis's, so plain prefect-redis workers take, wait on
and release the same locks. Beside each lock this manager holds, it writes a companion
`locktop:holder:<key>`: the identity JSON (holder token, host, pid, process start, acquired at,
flow run and task run) and the name of this process's heartbeat key. That key,
`locktop:alive:HOST:PID:START:NONCE`, has a PX TTL of three intervals, which one daemon thread per process
renews every `LOCKTOP_HEARTBEAT_INTERVAL` seconds while the process holds a lock. When the process
dies, Redis's own clock expires the key, and a locktop on any host proves the holder dead.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Optional

from prefect_redis import RedisLockManager

from . import HEARTBEAT_INTERVAL, _holder_identity, _host_name, _process_nonce, _process_start_ticks

__all__ = ["LocktopRedisLockManager", "HOLDER_PREFIX", "ALIVE_PREFIX"]

HOLDER_PREFIX = "locktop:holder:"
ALIVE_PREFIX = "locktop:alive:"

# Deletes the companion only while it names the token given: a later holder's stays.
_DELETE_OWN_COMPANION = """
local value = redis.call('get', KEYS[1])
if value and cjson.decode(value)['holder'] == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def _alive_key() -> str:
    return f"{ALIVE_PREFIX}{_host_name()}:{os.getpid()}:{_process_start_ticks() or 0}:{_process_nonce()}"


def _time_to_live_ms() -> int:
    return int(3 * HEARTBEAT_INTERVAL * 1000)


class _RedisHeartbeat:
    """This process's one heartbeat key per server, renewed while any of its managers holds a lock."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._managers: list = []
        self._thread: Optional[threading.Thread] = None

    def beat_for(self, manager: "LocktopRedisLockManager") -> str:
        """Sets the heartbeat key now, and keeps renewing it while `manager` holds locks."""
        key = _alive_key()
        manager.client.set(key, "1", px=_time_to_live_ms())
        with self._guard:
            if manager not in self._managers:
                self._managers.append(manager)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="locktop-redis-heartbeat", daemon=True)
                self._thread.start()
        return key

    def _run(self) -> None:
        while True:
            threading.Event().wait(HEARTBEAT_INTERVAL)
            with self._guard:
                holding = [m for m in self._managers if m._locks]
                self._managers = holding
                if not holding:
                    self._thread = None
                    return
            renewed = set()
            for manager in holding:
                server = manager._server_identity()
                if server in renewed:
                    continue
                renewed.add(server)
                try:
                    # SET, not PEXPIRE: a key that expired in a pause comes back with the process.
                    manager.client.set(_alive_key(), "1", px=_time_to_live_ms())
                except Exception:  # a server away for a moment: the next beat tries again
                    pass


_heartbeat = _RedisHeartbeat()


class LocktopRedisLockManager(RedisLockManager):
    """RedisLockManager whose locks also say, in companion keys, which process holds them."""

    @staticmethod
    def _holder_key_for_key(key: str) -> str:
        return f"{HOLDER_PREFIX}{key}"

    def _server_identity(self) -> tuple:
        return (self.connection_url, self.host, self.port, self.db)

    def _companion(self, holder: str, alive: str) -> bytes:
        content = _holder_identity(holder, None)
        del content["expiration"]
        content.update({"alive": alive, "heartbeat_interval": HEARTBEAT_INTERVAL})
        return json.dumps(content, separators=(",", ":")).encode()

    def _stamp(self, key: str, holder: str, hold_timeout: Optional[float]) -> None:
        try:
            alive = _heartbeat.beat_for(self)
            px = int(hold_timeout * 1000) if hold_timeout is not None else None
            self.client.set(self._holder_key_for_key(key), self._companion(holder, alive), px=px)
        except Exception:  # identity is a bonus: never fail an acquisition over it
            pass

    def _unstamp(self, key: str, holder: str) -> None:
        try:
            self.client.eval(_DELETE_OWN_COMPANION, 1, self._holder_key_for_key(key), holder)
        except Exception:
            pass

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: Optional[float] = None,
        hold_timeout: Optional[float] = None,
    ) -> bool:
        acquired = super().acquire_lock(key, holder, acquire_timeout=acquire_timeout, hold_timeout=hold_timeout)
        if acquired:
            self._stamp(key, holder, hold_timeout)
        return acquired

    async def aacquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: Optional[float] = None,
        hold_timeout: Optional[float] = None,
    ) -> bool:
        acquired = await super().aacquire_lock(
            key, holder, acquire_timeout=acquire_timeout, hold_timeout=hold_timeout
        )
        if acquired:
            self._stamp(key, holder, hold_timeout)
        return acquired

    def release_lock(self, key: str, holder: str) -> None:
        try:
            super().release_lock(key, holder)
        finally:
            self._unstamp(key, holder)
