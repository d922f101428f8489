"""The fault driver: at random bounded intervals, one fault at a time - SIGKILL the web, the worker or beat (each
restarted after a short random pause, as a supervisor would), or stop (SIGTERM) or kill (SIGKILL) Redis for 2-10 s
and start it again on the same data. Each fault is a window from its start until the process is serving again."""

import random
import signal
import socket
import threading
import time
from dataclasses import dataclass

from chaos.procs import Proc

KINDS = ("web", "worker", "beat", "redis")


class Lulls:
    """Spells when every writer pauses. A fault followed by silence is when only the stack's own recovery can mend
    the cache: under a steady write rate the next write's invalidation (and the worker coalescing every delivered
    row into its next task) hides a delivery the fault lost, so the driver follows 40% of the faults with a lull."""

    def __init__(self):
        self.spells: list[list[float]] = []
        self.lock = threading.Lock()

    def begin(self, at: float) -> list:
        with self.lock:
            spell = [at, float("inf")]
            self.spells.append(spell)
            return spell

    def paused(self, now: float) -> bool:
        with self.lock:
            return any(start <= now < end for start, end in self.spells)


@dataclass
class Window:
    kind: str
    started: float
    ended: float | None = None
    note: str = ""


def redis_ping(port: int) -> bool:
    """PONG, not LOADING: Redis answers again with its data."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class Driver(threading.Thread):
    def __init__(
        self,
        procs: dict[str, Proc],
        clock,
        until: float,
        gap: tuple,
        rng: random.Random,
        kinds=KINDS,
        lulls: Lulls = None,
    ):
        super().__init__(daemon=True, name="fault driver")
        self.procs, self.clock, self.until, self.gap, self.rng = procs, clock, until, gap, rng
        self.kinds = [k for k in kinds if k in procs]
        self.lulls = lulls or Lulls()
        self.windows: list[Window] = []
        self.stopping = threading.Event()

    def next_kinds(self):
        """Every kind in a shuffled round, then again: a short run still sees each fault. Redis twice a round: its
        outages hit every process at once, and the worker's recovery from them is the weakest spot."""
        while True:
            order = list(self.kinds) + (["redis"] if "redis" in self.kinds else [])
            self.rng.shuffle(order)
            yield from order

    def run(self):
        for kind in self.next_kinds():
            if self.stopping.wait(self.rng.uniform(*self.gap)) or self.clock() >= self.until:
                return
            self.inject(kind)

    def inject(self, kind: str) -> None:
        proc = self.procs[kind]
        window = Window(kind, self.clock())
        self.windows.append(window)
        # The writes already under way (and those of the next second) race the fault; then, 40% of the time, none.
        spell = self.lulls.begin(window.started + self.rng.uniform(0.2, 1.0)) if self.rng.random() < 0.4 else None
        if kind == "redis":
            outage = self.rng.uniform(2.0, 10.0)
            # SIGTERM (a stop) or SIGKILL (a crash, the OOM killer): either way the AOF holds every write Redis
            # acknowledged (it is written to the OS before the reply; only a machine crash loses the last second).
            sig = self.rng.choice((signal.SIGTERM, signal.SIGKILL))
            proc.kill(sig=sig)
            window.note = f"{sig.name}, down {outage:.1f} s"
            time.sleep(max(0.0, window.started + outage - self.clock()))
        else:
            pause = self.rng.uniform(0.0, 2.0)
            proc.kill()  # SIGKILL the process group: no clean shutdown, in-flight work is lost
            window.note = f"SIGKILL, restart after {pause:.1f} s"
            time.sleep(pause)
        proc.start()
        if not proc.wait_ready(60):
            window.note += "; NOT READY after 60 s"
        window.ended = self.clock()
        if spell is not None:
            spell[1] = window.ended + self.rng.uniform(6.0, 9.0)
            window.note += f"; writes paused until {spell[1] - window.ended:.1f} s after"


def covering(windows: list[Window], at: float, grace: float = 0.0) -> Window | None:
    for window in windows:
        end = window.ended if window.ended is not None else float("inf")
        if window.started <= at <= end + grace:
            return window
    return None
