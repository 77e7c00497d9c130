"""LocktopRedisLockManager against plain prefect-redis, on a private redis-server."""

import json
import os
import time
import uuid

import pytest
import redis
from prefect_redis import RedisLockManager

from locktop_prefect import HEARTBEAT_INTERVAL
from locktop_prefect.redis import ALIVE_PREFIX, HOLDER_PREFIX, LocktopRedisLockManager


def test_the_companion_names_the_token_and_the_heartbeat_expires_by_redis(redis_url):
    client = redis.Redis.from_url(redis_url)
    helper = LocktopRedisLockManager(connection_url=redis_url)
    plain = RedisLockManager(connection_url=redis_url)
    holder = str(uuid.uuid4())
    assert helper.acquire_lock("task.b", holder)
    assert client.get("lock:task.b").decode() == holder, "the lock value is prefect-redis's own"
    companion = json.loads(client.get(f"{HOLDER_PREFIX}task.b"))
    assert companion["holder"] == holder and companion["pid"] == os.getpid()
    assert companion["alive"].startswith(ALIVE_PREFIX) and companion["heartbeat_interval"] == HEARTBEAT_INTERVAL
    assert 0 < client.pttl(companion["alive"]) <= 3 * HEARTBEAT_INTERVAL * 1000
    assert plain.is_locked("task.b")
    assert not plain.acquire_lock("task.b", str(uuid.uuid4()), acquire_timeout=0.2)

    # Renewed while held: it outlives its TTL.
    time.sleep(5 * HEARTBEAT_INTERVAL)
    assert client.exists(companion["alive"])

    helper.release_lock("task.b", holder)
    assert not plain.is_locked("task.b")
    assert not client.exists(f"{HOLDER_PREFIX}task.b"), "the companion goes with the release"
    # Released, the thread stops renewing: Redis expires the heartbeat.
    deadline = time.monotonic() + 10 * HEARTBEAT_INTERVAL
    while client.exists(companion["alive"]) and time.monotonic() < deadline:
        time.sleep(HEARTBEAT_INTERVAL / 4)
    assert not client.exists(companion["alive"])


def test_a_release_after_a_break_raises_and_leaves_a_later_holders_companion(redis_url):
    client = redis.Redis.from_url(redis_url)
    helper = LocktopRedisLockManager(connection_url=redis_url)
    first = str(uuid.uuid4())
    assert helper.acquire_lock("k", first)
    client.delete("lock:k")  # a break
    second = str(uuid.uuid4())
    later = LocktopRedisLockManager(connection_url=redis_url)
    assert later.acquire_lock("k", second)
    with pytest.raises(Exception):
        helper.release_lock("k", first)
    assert json.loads(client.get(f"{HOLDER_PREFIX}k"))["holder"] == second
    later.release_lock("k", second)
