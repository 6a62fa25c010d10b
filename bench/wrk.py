"""wrk: one Lua script per scenario (POST, JSON body, headers), and its JSON summary parsed.

The script's `done()` prints one line `BENCHJSON {...}` with the request count, the duration,
the latency percentiles (microseconds), wrk's socket/status errors and the responses whose
body held GraphQL `errors` or non-empty `userErrors` (counted per thread in `response()`).
A script may instead build each request in `request()`, e.g. a fresh clientMessageId per send.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import cpu
from bench.servers import WORK_DIR

_COMMON = r"""
local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true)
     or string.find(body, '"userErrors":[{', 1, true) then
    gql_errors = gql_errors + 1
    if first_error == nil then first_error = string.sub(tostring(status) .. " " .. body, 1, 300) end
  end
end

local function json_string(s)
  if s == nil then return "null" end
  s = string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local errors, sample = 0, nil
  for _, t in ipairs(threads) do
    errors = errors + (t:get("gql_errors") or 0)
    sample = sample or t:get("first_error")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"mean_us":%.1f,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,' ..
    '"timeouts":%d,"gql_errors":%d,"first_error":%s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout,
    errors, json_string(sample)))
end
"""

_STATIC = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{auth}
wrk.body = [==[{body}]==]

function init(args)
  gql_errors = 0
end
"""

# A send per request: the conversation rotates through `ids`, the clientMessageId is unique
# across threads, runs and reruns (nonce), so every request is a new message.
_SEND = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{auth}
local template = [==[{template}]==]
local ids = {{ {ids} }}
local nonce = "{nonce}"

function init(args)
  gql_errors = 0
  counter = 0
end

function request()
  counter = counter + 1
  local n = thread_id * 1000003 + counter
  local conversation = ids[(n % #ids) + 1]
  local body = string.gsub(template, "__CONVERSATION__", conversation)
  body = string.gsub(body, "__KEY__", nonce .. "-" .. thread_id .. "-" .. counter)
  return wrk.format(nil, nil, nil, body)
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    status_errors: int
    gql_errors: int
    first_error: str | None = None
    cpu_us: float | None = None  # server CPU per request (bench/cpu.py), when a probe was given
    db_cpu_us: float | None = None  # its PostgreSQL backends' CPU per request

    @classmethod
    def parse(cls, output: str) -> WrkResult:
        line = next((line for line in output.splitlines() if line.startswith("BENCHJSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no BENCHJSON line:\n{output[-2000:]}")
        data = json.loads(line[len("BENCHJSON ") :])
        seconds = data["duration_us"] / 1e6
        return cls(
            requests=data["requests"],
            seconds=seconds,
            rps=data["requests"] / seconds if seconds else 0.0,
            p50_ms=data["p50_us"] / 1000,
            p90_ms=data["p90_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
            max_ms=data["max_us"] / 1000,
            socket_errors=data["connect_errors"] + data["read_errors"] + data["write_errors"] + data["timeouts"],
            status_errors=data["status_errors"],
            gql_errors=data["gql_errors"],
            first_error=data["first_error"],
        )


@dataclass
class Series:
    """Several runs of one (scenario, server, connections) and their medians."""

    runs: list[WrkResult] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in self.runs)

    def median_of_known(self, attribute: str) -> float | None:
        values = [value for run in self.runs if (value := getattr(run, attribute)) is not None]
        return statistics.median(values) if values else None

    def summary(self) -> dict:
        return {
            "rps": self.median("rps"),
            "p50_ms": self.median("p50_ms"),
            "p99_ms": self.median("p99_ms"),
            "cpu_us": self.median_of_known("cpu_us"),
            "db_cpu_us": self.median_of_known("db_cpu_us"),
            "errors": sum(run.socket_errors + run.status_errors + run.gql_errors for run in self.runs),
            "first_error": next((run.first_error for run in self.runs if run.first_error), None),
            "runs": [asdict(run) for run in self.runs],
        }


def _lua_auth(token: str | None) -> str:
    return f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""


def static_script(name: str, query: str, variables: dict | None, token: str | None) -> Path:
    body = json.dumps({"query": query, "variables": variables or {}})
    assert "]==]" not in body
    path = WORK_DIR / "lua" / f"{name}.lua"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_STATIC.format(auth=_lua_auth(token), body=body) + _COMMON)
    return path


def send_script(name: str, query: str, conversation_ids: list[str], token: str, nonce: str) -> Path:
    """`query` is a sendMessage mutation; variables name __CONVERSATION__ and __KEY__."""
    body = json.dumps(
        {
            "query": query,
            "variables": {
                "input": {
                    "conversationId": "__CONVERSATION__",
                    "clientMessageId": "__KEY__",
                    "content": {"text": "Benchmark message __KEY__"},
                }
            },
        }
    )
    ids = ", ".join(json.dumps(i) for i in conversation_ids)
    path = WORK_DIR / "lua" / f"{name}.lua"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_SEND.format(auth=_lua_auth(token), template=body, ids=ids, nonce=nonce) + _COMMON)
    return path


def wrk_binary() -> str:
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed: apt-get update && apt-get install -y wrk")
    return binary


def command(url: str, script: Path, connections: int, seconds: float) -> list[str]:
    threads = max(1, min(2, connections))
    return [
        wrk_binary(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]


def _measured(probe: cpu.Probe | None, load: Callable[[], WrkResult]) -> WrkResult:
    """`load()`'s result with the server's CPU per request, when a probe names the server."""
    if probe is None:
        return load()
    before = probe.sample()
    result = load()
    result.cpu_us, result.db_cpu_us = cpu.per_request_us(before, probe.sample(), result.requests)
    return result


def run(url: str, script: Path, connections: int, seconds: float, probe: cpu.Probe | None = None) -> WrkResult:
    def load() -> WrkResult:
        out = subprocess.run(
            command(url, script, connections, seconds), capture_output=True, text=True, timeout=seconds + 60
        )
        return WrkResult.parse(out.stdout + out.stderr)

    return _measured(probe, load)


def run_split(
    urls: list[str], script: Path, connections: int, seconds: float, probe: cpu.Probe | None = None
) -> WrkResult:
    return _measured(probe, lambda: _run_split(urls, script, connections, seconds))


def _run_split(urls: list[str], script: Path, connections: int, seconds: float) -> WrkResult:
    """The load split evenly over several servers (one wrk per server, run together): summed
    throughput, the mean of the medians and the worst p99 (an upper bound of the joint p99)."""
    share = max(1, connections // len(urls))
    procs = [
        subprocess.Popen(
            command(url, script, share, seconds), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for url in urls
    ]
    results = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=seconds + 60)
            results.append(WrkResult.parse(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    requests = sum(r.requests for r in results)
    seconds_ = max(r.seconds for r in results)
    return WrkResult(
        requests=requests,
        seconds=seconds_,
        rps=sum(r.rps for r in results),
        p50_ms=statistics.mean(r.p50_ms for r in results),
        p90_ms=max(r.p90_ms for r in results),
        p99_ms=max(r.p99_ms for r in results),
        max_ms=max(r.max_ms for r in results),
        socket_errors=sum(r.socket_errors for r in results),
        status_errors=sum(r.status_errors for r in results),
        gql_errors=sum(r.gql_errors for r in results),
        first_error=next((r.first_error for r in results if r.first_error), None),
    )
