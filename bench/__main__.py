"""python -m bench [scenario ...] [--quick] [--out DIR]

Runs the benchmark scenarios of issue 5 against real PostgreSQL, Redis, gunicorn and Celery worker
processes (DATABASE_URL and REDIS_URL say where; see bench/harness.py for what the bench empties), prints a
table per scenario and writes BENCHMARKS.md plus one PNG chart per scenario.

  python -m bench                  # every scenario, full sizes (< 15 min), writes docs/BENCHMARKS.md
  python -m bench keyspace         # one scenario (writes a temp dir unless --out is given)
  python -m bench --quick          # CI smoke (about 2 min; target < 2): small sizes, writes a temp dir unless --out is given
  python -m bench peers            # ours vs django-cacheops, django-cachalot and delete_pattern, and the floor of
                                   # a hit (bench/peers/; the peers come from bench/requirements.txt)
"""

import argparse
import importlib
import shlex
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from bench import harness, report

SCENARIOS = [
    "reads",
    "lag",
    "keyspace",
    "throughput",
    "stampede",
    "write_overhead",
    "memory",
    "peers",
    "misses",
    "workers",
]


@dataclass
class Context:
    quick: bool
    workdir: Path  # logs of the processes the bench starts

    def size(self, full, quick):
        return quick if self.quick else full


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenarios", nargs="*", metavar="scenario", help=", ".join(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="small sizes and few iterations (CI smoke, about 2 min)")
    parser.add_argument(
        "--out",
        type=Path,
        help="where BENCHMARKS.md and bench/*.png go (default: docs/ for a full "
        "run of every scenario, else a new temp dir)",
    )
    args = parser.parse_args(argv)
    bad = [s for s in args.scenarios if s not in SCENARIOS]
    if bad:
        parser.error(f"unknown scenario(s) {bad}; choose from {SCENARIOS}")
    return args


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    names = args.scenarios or SCENARIOS
    out = args.out
    if out is None:
        out = harness.REPO / "docs" if not args.quick and names == SCENARIOS else harness.workdir("bench-out-")
    command = "python -m bench" + ("".join(f" {shlex.quote(a)}" for a in argv) if argv else "")

    harness.setup_django()
    from django.db import connection

    ctx = Context(quick=args.quick, workdir=harness.workdir())
    machine = report.machine_info(harness.redis(), connection, harness.REPO)
    print(
        f"bench: database {connection.settings_dict['NAME']}, Redis {harness.redis().connection_pool.connection_kwargs.get('db')}"
        f" (+1 broker), logs in {ctx.workdir}, output to {out}",
        flush=True,
    )
    results, failed = [], []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        started = time.monotonic()
        print(f"\n-- {name} ...", flush=True)
        try:
            result = module.run(ctx)
        except Exception as exc:  # one broken scenario must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            result = report.ScenarioResult(
                name=name,
                title=f"{name} (FAILED)",
                method=module.__doc__.strip().splitlines()[0],
                columns=["error"],
                rows=[[f"{type(exc).__name__}: {exc}".splitlines()[0][:300]]],
            )
        # a scenario returns one result, or several tables (the peers: reads, floor, invalidation, ...)
        parts = result if isinstance(result, list) else [result]
        for part in parts:
            part.seconds = (time.monotonic() - started) / len(parts)
            report.print_result(part)
        results.extend(parts)
    harness.reset_state()
    machine["load average at end (1, 5, 15 min)"] = report.load_average()
    path = report.write_markdown(results, machine, command, out, args.quick)
    print(f"\nwrote {path} and {out / 'bench'}/*.png", flush=True)
    if failed:
        print(f"FAILED scenarios: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
