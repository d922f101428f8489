"""The checker: every read against the history of the writes it should reflect.

A source's version v is *committed* at the end of its write's request when that write answered 2xx; a write with no
answer or a 5xx may or may not have committed, so it counts from the first read that showed it (and not at all if
none did); a 4xx write did not commit. A read that shows version v of a source is

  fresh    when no later version had committed before the read was sent;
  lagging  when one had (the first such commit is when v went out of date), but the read was sent within
           LAG_BOUND of the later of that commit and the end of every fault window open at any time since;
  STALE    otherwise: out of date for longer than the bound after the write and after any fault ended.

A read counts by its worst source. A version no write ever sent (or a 4xx write) seen in a body is a *phantom*.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from chaos.faults import Window, covering

LAG_BOUND = 5.0
ERROR_GRACE = 2.0  # after a fault window, before a 5xx or a refused connection counts against the stack


@dataclass
class Verdict:
    kind: str  # fresh | lagging | in-fault | STALE | phantom | malformed | error
    age: float = 0.0  # how long the shown version had been out of date when the read was sent
    over: float = 0.0  # how far past the bound (STALE only)
    source: str = ""


@dataclass
class Result:
    verdicts: list = field(default_factory=list)  # (read, Verdict), in read order
    counts: Counter = field(default_factory=Counter)
    errors_outside: list = field(default_factory=list)  # (what, time, status)
    errors_inside: int = 0
    write_statuses: Counter = field(default_factory=Counter)
    longest_age: float = 0.0
    longest_stale: tuple = None  # (over, read, verdict)


def commit_times(writes, reads) -> dict[str, dict[int, float]]:
    first_seen: dict[tuple, float] = {}
    for read in reads:
        for source, version in (read.observed or {}).items():
            key = (source, version)
            first_seen[key] = min(read.ended, first_seen.get(key, read.ended))
    commits = defaultdict(dict)
    for write in writes:
        if 200 <= write.status < 300:
            commits[write.source][write.version] = write.ended
        elif write.status == 0 or write.status >= 500:
            seen = first_seen.get((write.source, write.version))
            if seen is not None:
                commits[write.source][write.version] = min(seen, write.ended)
    return commits


def judge(read, commits, windows: list[Window]) -> Verdict:
    if read.status != 200:
        return Verdict("error")
    if read.observed is None:
        return Verdict("malformed")
    worst = Verdict("fresh")
    rank = {"fresh": 0, "lagging": 1, "in-fault": 2, "STALE": 3, "phantom": 4}
    for source, version in read.observed.items():
        history = commits.get(source, {})
        if version not in history:
            verdict = Verdict("phantom", source=source)
        else:
            newer = [t for v, t in history.items() if v > version and t < read.started]
            if not newer:
                continue
            out_of_date = min(newer)
            age = read.started - out_of_date
            reference = out_of_date
            for window in windows:
                end = window.ended if window.ended is not None else float("inf")
                if window.started <= read.started and end >= out_of_date:
                    reference = max(reference, end)
            if reference >= read.started:
                verdict = Verdict("in-fault", age, source=source)
            elif read.started - reference <= LAG_BOUND:
                verdict = Verdict("lagging", age, source=source)
            else:
                verdict = Verdict("STALE", age, read.started - reference - LAG_BOUND, source)
        if rank[verdict.kind] > rank[worst.kind] or (verdict.kind == worst.kind and verdict.age > worst.age):
            worst = verdict
    return worst


def check(writes, reads, windows: list[Window]) -> Result:
    result = Result()
    commits = commit_times(writes, reads)
    for write in writes:
        result.write_statuses[write.status // 100 * 100 if write.status else 0] += 1
    for read in sorted(reads, key=lambda r: r.started):
        verdict = judge(read, commits, windows)
        result.verdicts.append((read, verdict))
        result.counts[verdict.kind] += 1
        result.longest_age = max(result.longest_age, verdict.age)
        if verdict.kind == "STALE" and (result.longest_stale is None or verdict.over > result.longest_stale[0]):
            result.longest_stale = (verdict.over, read, verdict)
    for what, item in [("read", r) for r in reads] + [("write", w) for w in writes]:
        if item.status == 0 or item.status >= 500:
            if covering(windows, item.started, ERROR_GRACE) or covering(windows, item.ended, ERROR_GRACE):
                result.errors_inside += 1
            else:
                result.errors_outside.append((what, item.started, item.status))
    return result
