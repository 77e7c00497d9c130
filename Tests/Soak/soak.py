"""A seeded soak: real Prefect and locktop workers on a few keys, locktop's watchers, an operator
bot that breaks stale locks, and a schedule of faults drawn from the seed; then a checker over
what every process logged. Run by scripts/soak.sh, as root. Exits 1 on any violation, printing
the seed that replays the schedule.

Every time here is `time.monotonic()`, the one clock all processes on this host share; only the
faked watcher's wall clock jumps.
"""
import argparse
import glob
import heapq
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FAULTS = [
    "kill-holder", "kill-waiter", "kill-wrapper", "kill-watcher", "stop-holder", "redis-restart",
    "dir-remove", "inotify-overflow", "disk-full", "clock-jump", "force-break",
]
WORKERS = {
    "prefect-3.0": 2, "prefect-fs": 1, "helper-fs": 1, "prefect-redis": 1, "helper-redis": 1,
    "locktop-lock": 1, "locktop-lock-redis": 1,
}
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
# How long a dead holder's lock may take to be judged stale by a watcher, by what can judge it
# here: /proc for a pid the lock names, fanotify for a bare uuid4 (the README's bounds, plus a
# watcher's refresh and this harness's polling).
STALE_BOUND = 5.0


def now():
    return time.monotonic()


class Process:
    """A process the soak started, with its output lines as they came, stamped."""

    def __init__(self, name, argv, env, log_dir, stdin=False, expected=(0,)):
        self.name, self.argv, self.expected = name, argv, expected
        self.lines = []
        self.started = now()
        self.ended = None
        self.killed = False
        self.log = open(os.path.join(log_dir, f"{name}.out"), "a", buffering=1)
        self.popen = subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=open(os.path.join(log_dir, f"{name}.err"), "a"), start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.popen.stdout:
            stamp = now()
            self.lines.append((stamp, raw.decode(errors="replace")))
            self.log.write(f"{stamp:.6f} {raw.decode(errors='replace')}")
        self.popen.wait()
        self.ended = now()

    def kill(self, sig=signal.SIGKILL, group=True):
        self.killed = self.killed or sig == signal.SIGKILL
        try:
            if group:
                os.killpg(self.popen.pid, sig)
            else:
                self.popen.send_signal(sig)
        except ProcessLookupError:
            pass

    def running(self):
        return self.popen.poll() is None


class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.root = tempfile.mkdtemp(prefix=f"locktop-soak-{args.seed}-")
        self.logs = os.path.join(self.root, "logs")
        self.disk = os.path.join(self.root, "disk")
        self.locks = os.path.join(self.disk, "locks")
        self.counters = os.path.join(self.root, "counters")
        self.state = os.path.join(self.root, "state")
        self.faketime_file = os.path.join(self.root, "faketime")
        for path in (self.logs, self.disk, self.counters, self.state):
            os.makedirs(path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "soak", self.disk], check=True)
        os.makedirs(self.locks)
        with open(self.faketime_file, "w") as f:
            f.write("+0\n")
        self.env = dict(os.environ, XDG_STATE_HOME=self.state, SOAK_COUNTERS=self.counters, PYTHONUNBUFFERED="1",
                        LOCKTOP_HEARTBEAT_INTERVAL="1")
        self.workers = {}
        self.worker_serial = 0
        self.watchers = {}
        self.dead_watchers = []
        self.faults = []
        self.breaks = []
        self.rss = {}
        self.windows = {"dir-remove": [], "stopped": {}, "watcher-down": {}, "watcher-stalled": {}}
        self.deaths = {}
        self.open_sections = {}
        self.killed_pids = set()
        self.manifest = {}
        self.lock = threading.Lock()
        # Held by the bot through each of its passes, and by a force-break that makes its victim.
        self.bot_turn = threading.Lock()
        self.stopping = False
        self.redis_port = self.free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.dashboard_socket = os.path.join(self.root, "tmux.sock")
        self.serve_ports = {}
        # A run of 10 minutes or more adds one watcher of each store, and a serve, that no fault
        # kills: their RSS over the whole run is the slope that means something.
        self.watcher_names = ["events-fs", "events-redis", "events-faked", "agent", "serve", "dashboard"]
        if args.minutes >= 10:
            self.watcher_names += ["events-fs-steady", "events-redis-steady", "serve-steady"]
        self.env["SOAK_REDIS_URL"] = self.redis_url

    # --- setup -------------------------------------------------------------------------------

    @staticmethod
    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def start_redis(self):
        directory = os.path.join(self.root, "redis")
        os.makedirs(directory, exist_ok=True)
        # Locks survive a restart: every write is in the append-only file before the reply.
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", directory,
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--notify-keyspace-events", "K$gx"],
            stdout=open(os.path.join(self.logs, "redis.out"), "a"), stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = now() + 10
        while now() < deadline:
            if subprocess.run(["redis-cli", "-p", str(self.redis_port), "PING"], capture_output=True).stdout == b"PONG\n":
                return
            time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def write_sentinels(self):
        """Records no worker writes, two of them sharing a lock name with a key: locktop must never
        change or delete them."""
        for name in ("k0.b", "k0.c", "k1.result", "sentinel"):
            path = os.path.join(self.locks, name)
            data = f'{{"result": "{name}", "seed": {self.args.seed}}}'.encode()
            with open(path, "wb") as f:
                f.write(data)
            self.manifest[name] = data

    def python(self, version):
        return os.path.join(self.args.venvs, f"prefect-{version}", "bin", "python")

    def start_worker(self, kind):
        self.worker_serial += 1
        name = f"{kind}-{self.worker_serial}"
        target = self.redis_url if "redis" in kind else self.locks
        interpreter = self.python("3.0.0" if kind == "prefect-3.0" else "3.9.1")
        if kind.startswith("locktop-lock"):
            interpreter = sys.executable
        log = os.path.join(self.logs, f"worker-{name}.jsonl")
        argv = [interpreter, os.path.join(HERE, "soak_worker.py"), kind, name, log, str(self.args.seed), target,
                self.args.locktop]
        self.workers[name] = {"kind": kind, "process": Process(name, argv, self.env, self.logs), "log": log}

    def start_watcher(self, name):
        locktop = self.args.locktop
        env = dict(self.env)
        base = name.removesuffix("-steady")
        if base == "events-fs":
            argv = [locktop, "events", "--json", "--dir", self.locks]
        elif base == "events-redis":
            argv = [locktop, "events", "--json", "--redis", self.redis_url]
        elif name == "events-faked":
            # This one's wall clock jumps (libfaketime reads the offset file at every call).
            # Through env(1): a Swift program exec'd straight under this LD_PRELOAD sees no arguments.
            # (The second env runs preloaded itself, and its exec of locktop then passes them.)
            argv = ["env", f"LD_PRELOAD={FAKETIME}", f"FAKETIME_TIMESTAMP_FILE={self.faketime_file}",
                    "FAKETIME_NO_CACHE=1", "env", locktop, "events", "--json", "--dir", self.locks, "--no-fanotify"]
        elif name == "agent":
            argv = [locktop, "agent", "--dir", self.locks, "--interval", "1"]
        elif base == "serve":
            # Both stores, one process; its SSE stream is recorded as NAME.out, as events' lines are.
            port = self.serve_ports.setdefault(name, self.free_port())
            argv = [locktop, "serve", "--dir", self.locks, "--redis", self.redis_url, "--listen", f"127.0.0.1:{port}"]
        elif name == "dashboard":
            subprocess.run(["tmux", "-S", self.dashboard_socket, "kill-server"], capture_output=True)
            command = " ".join(
                ["env", f"XDG_STATE_HOME={self.state}", locktop, "--dir", self.locks, "; echo exit=$? >",
                 os.path.join(self.logs, "dashboard.status"), "; sleep 600"])
            # A server just killed may still hold its socket for a moment: try again.
            for _ in range(20):
                made = subprocess.run(
                    ["tmux", "-S", self.dashboard_socket, "new-session", "-d", "-x", "200", "-y", "50",
                     "-e", "LANG=C.UTF-8", "-e", "TERM=xterm-256color", command], capture_output=True)
                if made.returncode == 0:
                    break
                time.sleep(0.25)
            else:
                self.violation(f"the harness could not start the dashboard: {made.stderr[-200:]!r}")
                return
            self.watchers[name] = {"started": now(), "pid": self.dashboard_pid()}
            return
        else:
            raise ValueError(name)
        self.watchers[name] = {"started": now(), "process": Process(name, argv, env, self.logs)}
        if base == "serve":
            threading.Thread(target=self.record_served_events, args=(name, self.watchers[name]["process"]),
                             daemon=True).start()

    def record_served_events(self, name, process):
        """A `serve`'s /api/v1/events, line by line into NAME.out (stamped as a Process stamps its
        output), from as soon as it answers until this instance of it ends."""
        with open(os.path.join(self.logs, f"{name}.out"), "a", buffering=1) as log:
            while process.running() and not self.stopping:
                try:
                    url = f"http://127.0.0.1:{self.serve_ports[name]}/api/v1/events"
                    with urllib.request.urlopen(url, timeout=30) as stream:
                        for raw in stream:
                            if raw.startswith(b"data: "):
                                log.write(f"{now():.6f} {raw[6:].decode(errors='replace')}")
                except (OSError, ValueError):
                    time.sleep(0.1)

    def dashboard_pid(self):
        deadline = now() + 10
        while now() < deadline:
            for pid in self.pids():
                if self.cmdline(pid)[:3] == [self.args.locktop, "--dir", self.locks]:
                    return pid
            time.sleep(0.05)
        return None

    @staticmethod
    def pids():
        return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]

    @staticmethod
    def cmdline(pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return [part.decode(errors="replace") for part in f.read().split(b"\0") if part]
        except OSError:
            return []

    @staticmethod
    def parent(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return 0

    @staticmethod
    def alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    # --- what the workers logged -------------------------------------------------------------

    def read_logs(self):
        entries = []
        for path in glob.glob(os.path.join(self.logs, "worker-*.jsonl")):
            with open(path) as f:
                for line in f:
                    try:
                        entries.append(json.loads(line))
                    except ValueError:
                        pass  # a line cut by kill -9
        return entries

    def track_sections(self):
        """Follows the worker logs every 20 ms: the sections open now, and when the process of each
        one that never left was gone (its section's end)."""
        offsets = {}
        while not self.stopping:
            for path in glob.glob(os.path.join(self.logs, "worker-*.jsonl")):
                with open(path) as f:
                    f.seek(offsets.get(path, 0))
                    chunk = f.read()
                complete = chunk[: chunk.rfind("\n") + 1]
                offsets[path] = offsets.get(path, 0) + len(complete.encode())
                for line in complete.splitlines():
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    section = (entry["worker"], entry["pid"], entry.get("section"), entry.get("holder"))
                    with self.lock:
                        if entry["event"] == "enter":
                            self.open_sections[section] = entry
                        elif entry["event"] == "leave":
                            self.open_sections.pop(section, None)
            with self.lock:
                for section, entry in list(self.open_sections.items()):
                    if not self.alive(entry["pid"]):
                        self.deaths[section] = now()
                        del self.open_sections[section]
            time.sleep(0.02)

    def inside(self):
        """The sections open now."""
        with self.lock:
            return list(self.open_sections.values())

    def group_pids(self, pgid):
        pids = []
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[2]) == pgid:
                        pids.append(pid)
            except (OSError, ValueError, IndexError):
                pass
        return pids

    # --- the operator bot --------------------------------------------------------------------

    def bot(self):
        """The operator's cron: a pass every 3 s."""
        while not self.stopping:
            with self.bot_turn:
                self.bot_pass()
            time.sleep(3)

    def bot_pass(self):
        """One pass of the operator bot's cron: `break --stale --expired` on each store."""
        for store in (["--dir", self.locks], ["--redis", self.redis_url]):
            started = now()
            outcome = subprocess.run([self.args.locktop, "break", *store, "--stale", "--expired", "--json"],
                                     env=self.env, capture_output=True, timeout=60)
            ended = now()
            try:
                document = json.loads(outcome.stdout or b"{}")
            except ValueError:
                document = {}
            with self.lock:
                for broken in document.get("broken", []):
                    self.breaks.append({"by": "bot", "started": started, "ended": ended, **broken})
            if outcome.returncode not in (0, 1, 2) or outcome.returncode < 0:
                self.violation(f"locktop break exited {outcome.returncode}: {outcome.stderr[-300:]!r}")

    # --- faults ------------------------------------------------------------------------------

    def schedule(self):
        """(offset, kind, owed): every fault kind owed once in the first 80% of the run, in a seeded
        order, and throughout, more kills, pauses and forced breaks drawn from the seed."""
        duration = self.args.minutes * 60
        kinds = list(FAULTS)
        self.rng.shuffle(kinds)
        times = []
        start, end = 8.0, duration * 0.8
        step = (end - start) / len(kinds)
        for index, kind in enumerate(kinds):
            times.append((start + index * step + self.rng.uniform(0, step * 0.5), kind, True))
        if self.args.sabotage:
            times.append((duration / 2, "sabotage", False))
        t = start
        while t < duration - 15:
            t += self.rng.uniform(3, 8)
            times.append((t, self.rng.choice(["kill-holder", "kill-holder", "kill-waiter", "kill-wrapper",
                                              "stop-holder", "kill-watcher", "force-break"]), False))
        return sorted(times)

    def record(self, kind, **details):
        with self.lock:
            self.faults.append({"kind": kind, "t": now(), **details})

    def kill_worker(self, name, reason):
        worker = self.workers.pop(name)
        self.killed_pids.update(self.group_pids(worker["process"].popen.pid))
        killed = now()
        worker["process"].kill()
        # Its sections ended when the signal went: a watcher may call them stale from then on.
        with self.lock:
            for section, entry in list(self.open_sections.items()):
                if entry["worker"] == name:
                    self.deaths[section] = killed
                    del self.open_sections[section]
        self.record(reason, worker=name, worker_kind=worker["kind"])
        kind = worker["kind"]
        threading.Timer(1.0, lambda: (not self.stopping) and self.start_worker(kind)).start()

    def fault(self, kind, make_victim=False):
        """Injects one fault of `kind`; false when it found nothing to act on (a record says why).
        `make_victim`: a force-break with no dead holder's lock to break kills a holder first."""
        inside = [e for e in self.inside() if e["worker"] in self.workers]
        if kind == "kill-holder":
            if not inside:
                self.record(kind, skipped="nobody inside")
                return False
            victim = self.rng.choice(inside)
            self.kill_worker(victim["worker"], kind)
        elif kind == "kill-waiter":
            busy = {e["worker"] for e in inside}
            idle = sorted(name for name in self.workers if name not in busy)
            if not idle:
                self.record(kind, skipped="nobody waiting")
                return False
            self.kill_worker(self.rng.choice(idle), kind)
        elif kind == "kill-wrapper":
            # Not its watchdog, nor its command between fork and exec: they are its children, with its command line.
            lock = [self.args.locktop, "lock"]
            wrappers = [pid for pid in self.pids()
                        if self.cmdline(pid)[:2] == lock and self.cmdline(self.parent(pid))[:2] != lock]
            if wrappers:
                pid = self.rng.choice(sorted(wrappers))
                self.killed_pids.add(pid)
                os.kill(pid, signal.SIGKILL)
                self.record(kind, pid=pid)
            else:
                self.record(kind, skipped="no wrapper running")
                return False
        elif kind == "kill-watcher":
            names = sorted(name for name in self.watchers if not name.endswith("-steady"))
            if not names:
                self.record(kind, skipped="every watcher is restarting")
                return False
            self.kill_watcher(self.rng.choice(names))
        elif kind == "stop-holder":
            if not inside:
                self.record(kind, skipped="nobody inside")
                return False
            victim = self.rng.choice(inside)
            worker = self.workers[victim["worker"]]
            pause = self.rng.uniform(5, 8 if self.args.minutes <= 5 else 30)
            worker["process"].kill(signal.SIGSTOP)
            self.record(kind, worker=victim["worker"], seconds=pause, holder=victim["holder"])
            with self.lock:
                self.windows["stopped"].setdefault(victim["worker"], []).append([now(), now() + pause])

            def resume():
                worker["process"].kill(signal.SIGCONT)
            threading.Timer(pause, resume).start()
        elif kind == "redis-restart":
            self.redis.kill()
            self.redis.wait()
            self.record(kind)
            time.sleep(1)
            self.start_redis()
        elif kind == "dir-remove":
            # Renamed aside at once, then deleted: workers that make it again (Prefect does, at its
            # next acquire) cannot keep rmtree from finishing.
            started = now()
            aside = f"{self.locks}.removed-{len(self.faults)}"
            os.rename(self.locks, aside)
            for _ in range(50):
                shutil.rmtree(aside, ignore_errors=True)
                if not os.path.exists(aside):
                    break
                time.sleep(0.05)
            time.sleep(0.5)
            os.makedirs(self.locks, exist_ok=True)
            self.write_sentinels()
            self.record(kind)
            with self.lock:
                self.windows["dir-remove"].append([started, now() + 1])
        elif kind == "inotify-overflow":
            # events-fs is stopped while the burst arrives, so that its queue overflows however fast
            # it reads; it judges nothing meanwhile, and the checker does not ask it to.
            stalled = self.watchers.get("events-fs", {}).get("process")
            started = now()
            if stalled:
                stalled.kill(signal.SIGSTOP, group=False)
            try:
                for index in range(50_000):
                    path = os.path.join(self.locks, f"burst-{index}")
                    open(path, "w").close()
                    os.unlink(path)
            finally:
                if stalled:
                    stalled.kill(signal.SIGCONT, group=False)
            with self.lock:
                self.windows["watcher-stalled"].setdefault("events-fs", []).append([started, now() + 3])
            self.record(kind, seconds=now() - started, events=150_000)
        elif kind == "disk-full":
            filler = os.path.join(self.disk, "filler")
            with open(filler, "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * (1 << 20))
                        f.flush()
                except OSError:
                    pass
            self.record(kind, seconds=5)
            time.sleep(5)
            os.unlink(filler)
        elif kind == "clock-jump":
            offset = self.rng.choice(["+3600", "-1800", "+86400"])
            with open(self.faketime_file + ".new", "w") as f:
                f.write(offset + "\n")
            os.replace(self.faketime_file + ".new", self.faketime_file)
            self.record(kind, offset=offset)
            threading.Timer(10, self.reset_clock).start()
        elif kind == "force-break":
            return self.force_break(make_victim)
        elif kind == "sabotage":
            # The checker's own test: pause a live file holder, so that it stays inside, force-break
            # its lock, and let it go on: the run must fail.
            deadline = now() + 10
            live = []
            while not live and now() < deadline:
                live = [e for e in self.inside() if e["kind"] in ("prefect-fs", "helper-fs", "prefect-3.0")
                        and e["worker"] in self.workers]
                time.sleep(0.02)
            if not live:
                self.record(kind, skipped="nobody inside")
                return False
            victim = self.rng.choice(live)
            worker = self.workers[victim["worker"]]
            worker["process"].kill(signal.SIGSTOP)
            outcome = subprocess.run(
                [self.args.locktop, "release", "--dir", self.locks, victim["key"], "--force"], env=self.env,
                capture_output=True)
            self.record(kind, worker=victim["worker"], key=victim["key"], status=outcome.returncode)
            threading.Timer(2, lambda: worker["process"].kill(signal.SIGCONT)).start()
        return True

    def reset_clock(self):
        with open(self.faketime_file + ".new", "w") as f:
            f.write("+0\n")
        os.replace(self.faketime_file + ".new", self.faketime_file)

    def kill_watcher(self, name):
        watcher = self.watchers.pop(name)
        if "process" in watcher:
            self.killed_pids.add(watcher["process"].popen.pid)
            watcher["process"].kill()
            self.dead_watchers.append((name, watcher))
        elif watcher.get("pid"):
            self.killed_pids.add(watcher["pid"])
            os.kill(watcher["pid"], signal.SIGKILL)
            watcher["ended"] = now()
            self.dead_watchers.append((name, watcher))
        self.record("kill-watcher", watcher=name)
        delay = self.rng.uniform(1, 3)
        with self.lock:
            self.windows["watcher-down"].setdefault(name, []).append([now(), now() + delay + 3])
        threading.Timer(delay, lambda: (not self.stopping) and self.start_watcher(name)).start()

    def dead_holders(self):
        """Holder tokens of sections whose process died inside them."""
        with self.lock:
            return {section[3] for section in self.deaths}

    def force_break(self, make_victim=False):
        """The operator breaks a lock whose holder the harness knows is dead: a file lock through the
        dashboard, else a plain prefect-redis lock by hand. False if there was none to break. With
        `make_victim` and none left, a holder is killed first: a crash the operator then clears."""
        if self.break_dead_file_lock() or self.break_dead_redis_lock():
            return True
        if make_victim:
            # The bot waits meanwhile: its next pass would judge the victim's lock stale first.
            with self.bot_turn:
                inside = [e for e in self.inside() if e["worker"] in self.workers]
                files = [e for e in inside if "redis" not in e["kind"]]
                if inside:
                    self.kill_worker(self.rng.choice(files or inside)["worker"], "kill-holder")
                    if self.break_dead_file_lock() or self.break_dead_redis_lock():
                        return True
        self.record("force-break", skipped="no dead holder's lock left")
        return False

    def break_dead_file_lock(self):
        """Through the dashboard: `/` and the key, `r`, then `y` (stale) or the whole key typed
        (held). True if the dialog was answered; the lock then still named the dead holder."""
        dead = self.dead_holders()
        for path in sorted(glob.glob(os.path.join(self.locks, "k*.lock"))):
            try:
                with open(path) as f:
                    holder = json.load(f).get("holder")
            except (OSError, ValueError):
                continue
            if holder not in dead:
                continue
            key = os.path.basename(path)[:-5]
            tmux = ["tmux", "-S", self.dashboard_socket]
            subprocess.run(tmux + ["send-keys", "/"] + list(key) + ["Enter"], capture_output=True)
            time.sleep(0.5)
            subprocess.run(tmux + ["send-keys", "r"], capture_output=True)
            time.sleep(0.5)
            screen = subprocess.run(tmux + ["capture-pane", "-p"], capture_output=True).stdout.decode()
            try:
                with open(path) as f:
                    still = json.load(f).get("holder") == holder
            except (OSError, ValueError):
                still = False  # broken (or taken and being written) meanwhile
            answered = still and ("Force-break" in screen or "Break" in screen)
            if still and "Force-break" in screen:
                subprocess.run(tmux + ["send-keys"] + list(key) + ["Enter"], capture_output=True)
            elif still and "Break" in screen:
                subprocess.run(tmux + ["send-keys", "y"], capture_output=True)
            else:
                subprocess.run(tmux + ["send-keys", "Escape"], capture_output=True)
            time.sleep(0.5)
            subprocess.run(tmux + ["send-keys", "/"] + ["BSpace"] * 12 + ["Enter"], capture_output=True)
            if answered:
                self.record("force-break", key=key, holder=holder, dialog=("Force" in screen))
            return answered
        return False

    def break_dead_redis_lock(self):
        """A plain prefect-redis holder that died is never stale (nothing proves it): released by
        hand, `--force --if-holder` the token read. True if the release ran."""
        dead = self.dead_holders()
        for index in range(int(os.environ.get("SOAK_KEYS", "4"))):
            key = f"r{index}"
            value = subprocess.run(["redis-cli", "-p", str(self.redis_port), "GET", f"lock:{key}"],
                                   capture_output=True).stdout.decode().strip()
            if value and value in dead:
                # --if-holder: the lock may be taken again (a stale break, say) between that GET and this.
                outcome = subprocess.run([self.args.locktop, "release", "--redis", self.redis_url, key, "--force",
                                          "--if-holder", value], env=self.env, capture_output=True)
                self.record("force-break", key=key, holder=value, status=outcome.returncode)
                return True
        return False

    # --- measuring ---------------------------------------------------------------------------

    def sample_rss(self):
        while not self.stopping:
            for name, watcher in list(self.watchers.items()):
                pid = watcher["process"].popen.pid if "process" in watcher else watcher.get("pid")
                try:
                    with open(f"/proc/{pid}/status") as f:
                        kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
                except (OSError, StopIteration, TypeError):
                    continue
                self.rss.setdefault(f"{name}@{watcher['started']:.0f}", []).append((now(), kib))
            time.sleep(2)

    def violation(self, text):
        with self.lock:
            self.violations.append(text)

    # --- the run -----------------------------------------------------------------------------

    def run(self):
        self.violations = []
        self.start_redis()
        self.write_sentinels()
        self.begin = now()
        self.wall_offset = time.time() - now()
        for name in self.watcher_names:
            self.start_watcher(name)
        time.sleep(1)
        for kind, count in WORKERS.items():
            for _ in range(count):
                self.start_worker(kind)
        threading.Thread(target=self.track_sections, daemon=True).start()
        threading.Thread(target=self.bot, daemon=True).start()
        threading.Thread(target=self.sample_rss, daemon=True).start()
        # An owed fault that found nothing to act on is tried again a second later (a forced break,
        # after 5 tries, makes its victim), until 12 s before the end; the checker fails a kind
        # that never ran.
        plan = [(offset, serial, kind, 0 if owed else None)
                for serial, (offset, kind, owed) in enumerate(self.schedule())]
        print(f"soak: seed {self.args.seed}, {self.args.minutes} min, {len(plan)} faults, logs in {self.root}",
              flush=True)
        heapq.heapify(plan)
        serial = len(plan)
        last_try = self.args.minutes * 60 - 12
        while plan:
            offset, _, kind, tries = heapq.heappop(plan)
            delay = self.begin + offset - now()
            if delay > 0:
                time.sleep(delay)
            try:
                ran = self.fault(kind, make_victim=tries is not None and tries >= 5)
            except Exception as error:
                self.violation(f"the harness failed injecting {kind}: {error!r}")
                continue
            if not ran and tries is not None and now() + 1 - self.begin < last_try:
                serial += 1
                heapq.heappush(plan, (now() + 1 - self.begin, serial, kind, tries + 1))
        remaining = self.begin + self.args.minutes * 60 - now()
        if remaining > 0:
            time.sleep(remaining)
        return self.finish()

    def finish(self):
        # Let the last pauses and judgements end, then a last pass of the bot's, then stop.
        for worker in self.workers.values():
            worker["process"].kill(signal.SIGCONT)
        time.sleep(6)
        self.stopping = True
        self.end = now()
        for name, worker in self.workers.items():
            worker["process"].kill(signal.SIGTERM)
        for name, watcher in self.watchers.items():
            if "process" in watcher:
                watcher["process"].kill(signal.SIGTERM, group=False)
        time.sleep(2)
        for worker in self.workers.values():
            worker["process"].kill()
        subprocess.run(["tmux", "-S", self.dashboard_socket, "send-keys", "q"], capture_output=True)
        time.sleep(1)
        for name, watcher in self.watchers.items():
            if "process" in watcher:
                code = watcher["process"].popen.wait(timeout=10)
                if code not in (0, -signal.SIGTERM, 128 + signal.SIGTERM):
                    self.violation(f"{name} exited {code} on SIGTERM")
        if "dashboard" in self.watchers:
            try:
                with open(os.path.join(self.logs, "dashboard.status")) as f:
                    status = f.read().strip()
                if status != "exit=0":
                    self.violation(f"the dashboard quit with {status}")
            except FileNotFoundError:
                self.violation("the dashboard never quit")
        subprocess.run(["tmux", "-S", self.dashboard_socket, "kill-server"], capture_output=True)
        self.redis.kill()
        from soak_check import Checker
        report = Checker(self).check()
        with open(os.path.join(self.logs, "faults.json"), "w") as f:
            json.dump(self.faults, f, indent=1)
        subprocess.run(["umount", "-l", self.disk], capture_output=True)
        return report


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=2)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    parser.add_argument("--locktop", required=True)
    parser.add_argument("--venvs", required=True)
    parser.add_argument("--report")
    parser.add_argument("--sabotage", action="store_true",
                        help="force-break one live holder's lock midway: the checker must fail the run")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the soak runs as root: fanotify, a tmpfs to fill, kill -9 of any process")
    sys.path.insert(0, HERE)
    soak = Soak(args)
    report = soak.run()
    text = json.dumps(report, indent=2)
    print(text)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text)
    if report["violations"]:
        print(f"soak: {len(report['violations'])} violations; replay with --seed {args.seed}", file=sys.stderr)
        sys.exit(1)
    print(f"soak: no violation (seed {args.seed})")


if __name__ == "__main__":
    main()
