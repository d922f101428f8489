"""The soak's outputs: a markdown report (the goal table, the faults, what went wrong) and a timeline chart."""

from collections import Counter, defaultdict

from chaos.check import LAG_BOUND

COLORS = {"web": "tab:blue", "worker": "tab:orange", "beat": "tab:green", "redis": "tab:red"}


def goal(result, events, crashes, sessions) -> list[tuple[str, int, bool]]:
    """(criterion, figure, met) - the exit code is non-zero unless every one is met."""
    return [
        (
            f"stale reads beyond {LAG_BOUND:g} s after the write and after any fault ended",
            result.counts["STALE"],
            result.counts["STALE"] == 0,
        ),
        (
            "phantom reads (a version no committed write produced)",
            result.counts["phantom"],
            result.counts["phantom"] == 0,
        ),
        (
            "lost events (outbox rows unprocessed after the final drain)",
            events["unprocessed"],
            events["unprocessed"] == 0,
        ),
        ("5xx or no answer outside fault windows (+2 s grace)", len(result.errors_outside), not result.errors_outside),
        ("processes that died on their own (restarted by the soak's supervisor)", len(crashes), not crashes),
        (
            "requests with a logged-out session's cookies answered 200",
            len(sessions["accepted"]),
            not sessions["accepted"],
        ),
    ]


def _fmt_s(value) -> str:
    return f"{value:.1f} s"


def markdown(meta, result, windows, events, crashes, sessions, started) -> str:
    reads = [r for r, _ in result.verdicts]
    hits = sum(1 for r in reads if r.x_cache == "HIT")
    lines = [f"# Chaos soak: {meta['title']}", "", meta["summary"], ""]
    lines += ["| goal | figure | met |", "| --- | ---: | :---: |"]
    for text, figure, met in goal(result, events, crashes, sessions):
        lines.append(f"| {text} | {figure} | {'yes' if met else '**NO**'} |")
    lines += ["", "| measure | value |", "| --- | ---: |"]
    ok_reads = sum(1 for r in reads if r.status == 200)
    rows = [
        ("duration (load)", _fmt_s(meta["seconds"])),
        ("reads (200 / all)", f"{ok_reads} / {len(reads)}"),
        ("reads per second", f"{len(reads) / max(meta['seconds'], 1):.1f}"),
        ("X-Cache HIT share of 200 reads", f"{hits / max(ok_reads, 1):.0%}"),
        ("fresh reads", result.counts["fresh"]),
        (f"lagging reads (out of date, within {LAG_BOUND:g} s)", result.counts["lagging"]),
        ("out-of-date reads during a fault window", result.counts["in-fault"]),
        (f"STALE reads (beyond {LAG_BOUND:g} s after write and fault end)", result.counts["STALE"]),
        ("longest staleness seen (any read)", _fmt_s(result.longest_age)),
        ("longest staleness past the bound", _fmt_s(result.longest_stale[0]) if result.longest_stale else "0.0 s"),
        ("malformed 200 bodies", result.counts["malformed"]),
        ("writes: 2xx / 4xx / 5xx / no answer", " / ".join(str(result.write_statuses[k]) for k in (200, 400, 500, 0))),
        ("5xx or no answer inside fault windows", result.errors_inside),
        ("401/403 answers (a session lost; the client logs in again)", sum(1 for r in reads if r.status in (401, 403))),
        ("events written to the outbox", events["total"]),
        ("events unprocessed after the drain (lost)", events["unprocessed"]),
        ("drain after the load", _fmt_s(events["drain_seconds"])),
        ("slowest event, outbox insert to processed", _fmt_s(events["max_lag"])),
        (f"events processed more than {LAG_BOUND:g} s after insert", events["slow"]),
        (
            "logouts probed (during a Redis outage) / requests with their old cookies",
            f"{sessions['logouts']} ({sessions['in_redis_outage']}) / {sessions['checks']}",
        ),
        (
            "faults injected",
            ", ".join(f"{k} {n}" for k, n in sorted(Counter(w.kind for w in windows).items())) or "none",
        ),
    ]
    lines += [f"| {k} | {v} |" for k, v in rows]

    lines += ["", "## Fault windows", ""]
    if windows:
        lines += ["| # | fault | start | end | length | note |", "| ---: | --- | ---: | ---: | ---: | --- |"]
    else:
        lines.append("No faults were injected.")
    for n, w in enumerate(windows, 1):
        end = w.ended if w.ended is not None else float("nan")
        times = f"{w.started - started:.1f} | {end - started:.1f} | {end - w.started:.1f}"
        lines.append(f"| {n} | {w.kind} | {times} | {w.note} |")

    stale = [(r, v) for r, v in result.verdicts if v.kind in ("STALE", "phantom")]
    if stale:
        groups = defaultdict(list)
        for read, verdict in stale:
            groups[(verdict.kind, read.endpoint, verdict.source)].append((read, verdict))
        lines += [
            "",
            "## Stale and phantom reads",
            "",
            "| verdict | endpoint | source out of date | reads | first at | last at | worst age | X-Cache |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for (kind, endpoint, source), items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            caches = Counter(r.x_cache or "-" for r, _ in items)
            lines.append(
                f"| {kind} | {endpoint} | {source} | {len(items)} | {items[0][0].started - started:.1f} | "
                f"{items[-1][0].started - started:.1f} | {max(v.age for _, v in items):.1f} s | "
                f"{', '.join(f'{k} {n}' for k, n in caches.items())} |"
            )
    if result.errors_outside:
        lines += ["", "## 5xx / no answer outside fault windows", "", "| what | at | status |", "| --- | ---: | ---: |"]
        for what, at, status in result.errors_outside[:30]:
            lines.append(f"| {what} | {at - started:.1f} | {status or 'no answer'} |")
        if len(result.errors_outside) > 30:
            lines.append(f"| ... | {len(result.errors_outside) - 30} more | |")
    if sessions["accepted"]:
        by_logout = defaultdict(list)
        for at, ended, _path in sessions["accepted"]:
            by_logout[ended].append(at)
        lines += [
            "",
            "## Logged-out sessions accepted again",
            "",
            "| logged out at | inside a Redis outage | accepted (200) | first at | last at |",
            "| ---: | --- | ---: | ---: | ---: |",
        ]
        for ended, times in sorted(by_logout.items()):
            inside = next((w for w in windows if w.kind == "redis" and w.started <= ended <= (w.ended or ended)), None)
            lines.append(
                f"| {ended - started:.1f} | {'yes' if inside else 'no'} | {len(times)} | "
                f"{min(times) - started:.1f} | {max(times) - started:.1f} |"
            )
    if crashes:
        lines += ["", "## Processes that died on their own", ""]
        for name, at, code, tail in crashes:
            lines += [
                f"- **{name}** exited with {code} at {at - started:.1f} s; its last log lines:",
                "",
                "```",
                tail.strip()[-1500:],
                "```",
                "",
            ]
    lines += ["", f"![timeline]({meta['chart']})", ""]
    return "\n".join(lines)


def chart(path, result, writes, windows, started, seconds) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    span = int(seconds) + 1
    reads, stale, errors = [0] * span, [0] * span, [0] * span
    for read, verdict in result.verdicts:
        second = int(read.started - started)
        if 0 <= second < span:
            reads[second] += 1
            stale[second] += verdict.kind in ("STALE", "phantom")
        second = int(read.ended - started)  # when the client saw the error (a request may queue before a kill)
        if 0 <= second < span and (read.status == 0 or read.status >= 500):
            errors[second] += 1
    wrote = [0] * span
    for write in writes:
        second = int(write.started - started)
        if 0 <= second < span:
            wrote[second] += 1
    fig, ax = plt.subplots(figsize=(11, 4.6), dpi=100)
    seen = set()
    for w in windows:
        end = w.ended if w.ended is not None else started + seconds
        ax.axvspan(
            w.started - started,
            end - started,
            color=COLORS[w.kind],
            alpha=0.18,
            label=f"{w.kind} fault" if w.kind not in seen else None,
        )
        seen.add(w.kind)
    xs = list(range(span))
    ax.plot([x + 0.5 for x in xs], reads, color="tab:gray", linewidth=1, label="reads/s")
    ax.plot([x + 0.5 for x in xs], wrote, color="tab:purple", linewidth=1, label="writes/s")
    ax.bar(xs, stale, color="crimson", width=1.0, align="edge", label=f"stale reads/s (> {LAG_BOUND:g} s)")
    ax.bar(xs, errors, bottom=stale, color="black", width=1.0, align="edge", label="5xx or no answer /s")
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("requests per second")
    ax.set_xlim(0, span)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, ncol=8, frameon=False)
    ax.set_title("chaos soak: reads, stale reads, errors and fault windows")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
