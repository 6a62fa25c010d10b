"""CPU time of the servers under test, from /proc, so a timed run can report CPU per request.

Throughput and latency on a shared machine move with whatever else runs there; the CPU a server
spends per request moves much less, so it is what compares between runs and machines. A `Probe`
names the server processes (each with the processes it forked, e.g. `serve --workers 2`) and the
database whose PostgreSQL backends serve them; `sample()` reads utime + stime of all of them.
Only one server is under load at a time (the runs alternate), so the database's backends in a
window are that server's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICK = 1 / os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _process_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), 0 if it is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 onwards
    return (int(fields[11]) + int(fields[12])) * TICK  # fields 14 and 15 of proc(5)


def tree_seconds(pid: int) -> float:
    """CPU seconds of a process and its live descendants."""
    import psutil

    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0
    return _process_seconds(pid) + sum(_process_seconds(child.pid) for child in children)


def database_seconds(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to `database` (title `postgres: user db host ...`),
    by pid: a backend that ends between two samples must not count against the others."""
    needle = f" {database} ".encode()
    seconds = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and needle in title:
            seconds[int(entry.name)] = _process_seconds(int(entry.name))
    return seconds


@dataclass(frozen=True)
class Sample:
    server: float
    database: dict[int, float]  # backend pid -> CPU seconds


@dataclass(frozen=True)
class Probe:
    """The processes of one server under test and its database."""

    pids: tuple[int, ...]
    database: str

    def sample(self) -> Sample:
        return Sample(sum(tree_seconds(pid) for pid in self.pids), database_seconds(self.database))


def per_request_us(before: Sample, after: Sample, requests: int) -> tuple[float | None, float | None]:
    """(server, database) CPU microseconds per completed request between two samples."""
    if requests <= 0:
        return None, None
    return (
        (after.server - before.server) * 1e6 / requests,
        # the backends alive at the end: from zero if they started in between; those that ended are lost
        sum(used - before.database.get(pid, 0.0) for pid, used in after.database.items()) * 1e6 / requests,
    )
