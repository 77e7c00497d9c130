"""Load on `locktop serve`: scrapers that GET /metrics without pause and clients that hold
/api/v1/events open, for a number of seconds. Standard library only.

usage: serve_load.py BASE_URL SECONDS SCRAPERS STREAMS EVENTS_FILE [INTERVAL]

Each scraper scrapes every INTERVAL seconds (default 0: without pause).

It prints one JSON object: the scrapes, their failures, their latency p50/p99/max in ms, and each
stream's count of `acquired` events. The first stream's events go to EVENTS_FILE, one JSON object
per line with `received` (this host's wall clock, Unix seconds) added.
"""

import http.client
import json
import sys
import threading
import time
import urllib.parse

base, seconds, scrapers, streams, events_file = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
interval = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
address = urllib.parse.urlsplit(base)
deadline = time.monotonic() + seconds
lock = threading.Lock()
latencies, failures, acquired = [], [], [0] * streams
ready = threading.Barrier(streams + 1)


def scrape():
    connection = None
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            if connection is None:
                connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            body = response.read()
            if response.status != 200 or b"locktop_locks" not in body:
                raise RuntimeError(f"status {response.status}")
            with lock:
                latencies.append(time.monotonic() - started)
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
        except Exception as error:  # noqa: BLE001 - every failure counts
            with lock:
                failures.append(repr(error))
            connection = None


def stream(index):
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=seconds + 30)
    connection.request("GET", "/api/v1/events")
    response = connection.getresponse()
    response.readline()  # the opening comment
    ready.wait()
    kept = open(events_file, "w") if index == 0 else None
    while True:
        line = response.readline()
        if not line:
            break
        if not line.startswith(b"data: "):
            continue
        event = json.loads(line[6:])
        if event.get("type") == "acquired":
            acquired[index] += 1
        if kept:
            event["received"] = time.time()
            kept.write(json.dumps(event) + "\n")
            kept.flush()


threads = [threading.Thread(target=stream, args=(i,), daemon=True) for i in range(streams)]
for thread in threads:
    thread.start()
ready.wait()
print("streaming", flush=True)
workers = [threading.Thread(target=scrape) for _ in range(scrapers)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
time.sleep(max(0.0, deadline - time.monotonic()))
# The streams get a moment for the last events, then the counts are read.
time.sleep(2)
latencies.sort()


def quantile(q):
    return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2) if latencies else None


print(
    json.dumps(
        {
            "scrapes": len(latencies),
            "failures": len(failures),
            "first_failures": failures[:5],
            "p50_ms": quantile(0.5),
            "p99_ms": quantile(0.99),
            "max_ms": quantile(1.0),
            "acquired": acquired,
        }
    ),
    flush=True,
)
