"""How fast DSM answers data queries, against ceilings (bare FastAPI, nginx) in the same run.

    python bench/query.py                          # 1M observations, SQLite + PostgreSQL
    python bench/query.py --big                    # 10M observations (the import alone: minutes)
    python bench/query.py --databases sqlite --repeats 1 --duration 5 --no-profile   # quick look

1. Builds (once; reused by later runs, `--clean` drops them) a database per backend holding N
   generated observations of DSM:DF_FOREIGN_ENTRY(1.0) (bench/_generate.py, SDMX-CSV 2.0 through
   `dsm import`): SQLite `WORKDIR/sqlite-N.db`, PostgreSQL database `dsm_query_N`.
2. Starts `dsm serve` (uvicorn, one worker) on a loopback port per backend and, with wrk, measures
   latency (`-t1 -c1`, p50/p99) and throughput (`-t2 -c16`) of a single-series query (one full key,
   v1 and v2) and a ~10k-observation wildcard query, in SDMX-CSV 1.0 and SDMX-ML 2.1
   structure-specific; then a full-dataflow export in both formats (curl to /dev/null: obs/s,
   bytes) with the server's peak RSS for that response (/proc/PID/clear_refs 5, then VmHWM).
   wrk repeats one URL, so after the first request DSM answers from its response cache (memory
   up to 256 kB, files beyond); each export is sent twice, the second time from the cache's
   file. A second DSM server per backend with the cache off (DSM_RESPONSE_CACHE_MB=0,
   DSM_RESPONSE_CACHE_DISK_MB=0) measures every query and export uncached.
3. In the same run the ceilings answer the same bytes: a bare FastAPI app from memory on the same
   uvicorn settings (bench/_query_ceiling.py) and nginx serving them as static files (temporary
   config on a loopback port). Repeats are interleaved (every server once, then again).
4. Optionally profiles (py-spy, `--py-spy`) the SQLite server during the 10k query and an export.

Results go to docs/BENCHMARKS.md between `<!-- query:NAME -->` markers, and to stdout.
"""

import argparse
import json
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _generate import Layout, series_keys  # noqa: E402
from _query_data import ROOT, clean, cli_argv, ensure, env_for, layout  # noqa: E402
from _report import machine, today  # noqa: E402

CSV = "application/vnd.sdmx.data+csv;version=1.0.0"
ML = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
FORMATS = {"csv": ("SDMX-CSV 1.0", CSV), "ml": ("SDMX-ML 2.1 SS", ML)}
TARGET_SHARE, TARGET_P50_MS, TARGET_CSV, TARGET_ML, TARGET_RSS = 0.5, 5.0, 1_000_000, 400_000, 200
# the suffix of a DSM target with DSM_RESPONSE_CACHE_MB=0: the single-series queries uncached
NOCACHE = "-nocache"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=1_000_000, help="observations stored")
    p.add_argument("--big", action="store_true", help="10,000,000 observations")
    p.add_argument("--years", type=int, default=20, help="observations per series")
    p.add_argument("--databases", default="sqlite,postgresql", help="sqlite and/or postgresql")
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="no db name")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "dsm-query-bench")
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--repeats", type=int, default=3, help="rounds over all servers (interleaved)")
    p.add_argument("--export-repeats", type=int, default=0, help="exports per round (0: 1)")
    p.add_argument("--no-export", action="store_true")
    p.add_argument("--port", type=int, default=18431, help="first loopback port")
    p.add_argument("--py-spy", type=Path, help="py-spy binary: profile the SQLite server")
    p.add_argument("--with-pyarrow", action="store_true", help="let the server import pyarrow")
    p.add_argument("--clean", action="store_true", help="drop the kept databases and exit")
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    args = p.parse_args(argv)
    if args.big:
        args.size = 10_000_000
    return args


# -- the queries ------------------------------------------------------------------------------------
def wildcard_key(lay: Layout, n: int, years: int, want: int = 10_000) -> tuple[str, int]:
    """A v1 key matching about `want` stored observations: each dimension either fixed to the
    first series' code or left open, the pattern whose match count is nearest `want` (log scale)."""
    import numpy as np

    count = -(-n // years)
    radices = np.array([len(c) for c in lay.codes])
    index = np.arange(count)
    digits = np.zeros((count, len(radices)), dtype=np.int64)
    for d in range(len(radices) - 1, -1, -1):
        digits[:, d] = index % radices[d]
        index //= radices[d]
    best: tuple[float, int, int] | None = None
    for mask in range(1 << len(radices)):
        fixed = [d for d in range(len(radices)) if mask >> d & 1]
        if not fixed or len(fixed) == len(radices):
            continue
        matched = int((digits[:, fixed] == 0).all(axis=1).sum()) * years
        if matched:
            score = abs(np.log(matched / want))
            if best is None or score < best[0] - 1e-9:
                best = (score, mask, matched)
    assert best is not None
    _, mask, matched = best
    key = ".".join(lay.codes[d][0] if mask >> d & 1 else "" for d in range(len(radices)))
    return key, matched


def cases(lay: Layout, n: int, years: int) -> tuple[list[dict], list[dict]]:
    """(wrk cases, export cases): name, path, accept, expected observations."""
    flow_v1 = f"/rest/data/{lay.agency},{lay.id},{lay.version}"
    flow_v2 = f"/rest/v2/data/dataflow/{lay.agency}/{lay.id}/{lay.version}"
    first = ".".join(next(series_keys(lay, 1)))
    wild, matched = wildcard_key(lay, n, years)
    single = min(years, n)
    queries = [
        ("single v1", f"{flow_v1}/{first}", "csv", single),
        ("single v1", f"{flow_v1}/{first}", "ml", single),
        ("single v2", f"{flow_v2}/{first}", "csv", single),
        ("10k wildcard v1", f"{flow_v1}/{wild}", "csv", matched),
        ("10k wildcard v1", f"{flow_v1}/{wild}", "ml", matched),
    ]
    exports = [("export v1", f"{flow_v1}/all", fmt, n) for fmt in ("csv", "ml")]

    def as_dict(row: tuple) -> dict:
        name, path, fmt, obs = row
        slug = re.sub(r"[^a-z0-9]+", "-", f"{name} {fmt}".lower())
        return {"name": name, "path": path, "fmt": fmt, "obs": obs, "slug": slug}

    return [as_dict(q) for q in queries], [as_dict(e) for e in exports]


# -- servers ----------------------------------------------------------------------------------------
def rss(pid: int, field: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


class Server:
    """One server process on a loopback port: DSM, the bare FastAPI ceiling or nginx."""

    def __init__(self, kind: str, argv: list[str], port: int, env=None, pid_of=None) -> None:  # type: ignore[no-untyped-def]
        self.kind, self.port = kind, port
        self.log = open(Path(tempfile.gettempdir()) / f"dsm-query-{kind}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.proc.pid
        deadline = time.time() + 180
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{kind} exited: see {self.log.name}")
            try:
                with urllib.request.urlopen(self.url("/health/live"), timeout=2) as r:
                    r.read()
                break
            except OSError:
                if time.time() > deadline:
                    self.stop()
                    raise RuntimeError(f"{kind} did not come up: see {self.log.name}") from None
                time.sleep(0.3)
        if pid_of is not None:
            self.pid = pid_of(self.proc.pid)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT if self.kind != "nginx" else signal.SIGQUIT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def nginx_worker(master: int) -> int:
    """nginx serves from its (single) worker: the child of the master."""
    for _ in range(50):
        kids = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if kids:
            return int(kids[0])
        time.sleep(0.1)
    return master


def nginx_conf(folder: Path, root: Path, port: int) -> Path:
    conf = folder / "nginx.conf"
    tmp = folder / "nginx-tmp"
    tmp.mkdir(exist_ok=True)
    conf.write_text(
        f"""worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  types {{ }}
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location = /health/live {{ return 200 "ok"; }}
    location ~ \\.csv$ {{ default_type "{CSV}"; }}
    location ~ \\.xml$ {{ default_type "{ML}"; }}
  }}
}}
"""
    )
    return conf


# -- clients ----------------------------------------------------------------------------------------
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, accept: str, threads: int, conns: int, seconds: int) -> dict:
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{conns}",
            f"-d{seconds}s",
            "--timeout",
            "60s",
            "--latency",
            "-H",
            f"Accept: {accept}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    got: dict = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        found = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        got[f"p{pct}"] = _ms(found.group(1)) if found else None
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    done = re.search(r"(\d+) requests in", out)
    got["requests"] = int(done.group(1)) if done else 0
    got["errors"] = int(bad.group(1)) if bad else 0
    got["socket"] = errors.group(0) if errors else ""
    return got


def fetch(url: str, accept: str, to: Path | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=600) as r:
        body = r.read()
    if to is not None:
        to.write_bytes(body)
    return body


def count_obs(body: bytes, fmt: str) -> int:
    return body.count(b"\n") - 1 if fmt == "csv" else body.count(b"<Obs ")


def curl(url: str, accept: str, to: str = "/dev/null") -> dict:
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "--fail",
            "-o",
            to,
            "-H",
            f"Accept: {accept}",
            "-w",
            "%{size_download} %{time_total} %{time_starttransfer}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    ).stdout.split()
    return {"bytes": int(out[0]), "seconds": float(out[1]), "ttfb": float(out[2])}


class Sampler(threading.Thread):
    """VmRSS of a process every 50 ms while it runs: a check on VmHWM."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.peak = max(self.peak, rss(self.pid, "VmRSS"))
            except OSError:
                return
            self.done.wait(0.05)


# -- the run ----------------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace, lay: Layout) -> None:
        self.args, self.lay = args, lay
        self.queries, self.exports = cases(lay, args.size, args.years)
        self.bodies = args.workdir / f"bodies-{args.size}"
        self.bodies.mkdir(parents=True, exist_ok=True)
        self.results: dict[tuple[str, str, str], list[dict]] = {}
        self.notes: list[str] = []
        self.peak_rss: dict[str, float] = {}

    def add(self, target: str, case: str, mode: str, got: dict) -> None:
        self.results.setdefault((target, case, mode), []).append(got)

    def ext(self, case: dict) -> str:
        return "csv" if case["fmt"] == "csv" else "xml"

    def start_dsm(self, backend: str, port: int, cache: bool = True) -> Server:
        url = ensure(
            backend,
            self.args.size,
            self.args.years,
            self.args.workdir,
            self.args.pg,
            self.args.with_pyarrow,
        )["url"]
        argv = [
            *cli_argv(self.args.with_pyarrow),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        off = {"DSM_RESPONSE_CACHE_MB": "0", "DSM_RESPONSE_CACHE_DISK_MB": "0"}
        env = env_for(url) if cache else {**env_for(url), **off}
        return Server(f"dsm-{backend}", argv, port, env=env)

    def check_bodies(self, server: Server, backend: str) -> None:
        """Fetch every query once: status, observations, bytes; the bytes the ceilings serve."""
        types = {}
        for case in self.queries + (self.exports if not self.args.no_export else []):
            accept = FORMATS[case["fmt"]][1]
            name = f"{case['slug']}.{self.ext(case)}"
            if case["name"].startswith("export"):
                path = self.bodies / name
                curl(server.url(case["path"]), accept, str(path) + f".{backend}")
                size = (self.bodies / (name + f".{backend}")).stat().st_size
                body = (self.bodies / (name + f".{backend}")).read_bytes()
                obs = count_obs(body, case["fmt"])
                del body
                (self.bodies / (name + f".{backend}")).replace(path)
            else:
                body = fetch(server.url(case["path"]), accept, self.bodies / name)
                size, obs = len(body), count_obs(body, case["fmt"])
            case.setdefault("bytes", {})[backend] = size
            case.setdefault("got_obs", {})[backend] = obs
            types[name] = accept
            if obs != case["obs"]:
                self.notes.append(
                    f"{backend} {case['name']} {case['fmt']}: {obs:,} observations, expected "
                    f"{case['obs']:,}"
                )
            print(
                f"[check] {backend} {case['name']} {case['fmt']}: {size:,} bytes, {obs:,} obs",
                flush=True,
            )
        (self.bodies / "types.json").write_text(json.dumps(types))

    def path_on(self, target: str, case: dict) -> str:
        if target.startswith("dsm-"):
            return case["path"]
        return f"/{case['slug']}.{self.ext(case)}"

    def load(self, target: str, server: Server, case: dict, mode: str) -> None:
        threads, conns = (1, 1) if mode == "seq" else (2, 16)
        accept, url = FORMATS[case["fmt"]][1], server.url(self.path_on(target, case))
        fetch(url, accept)  # warm: a fresh server's first answer loads caches
        got = wrk(url, accept, threads, conns, self.args.duration)
        self.add(target, case["slug"], mode, got)
        print(
            f"[{target}] {case['name']} {case['fmt']} {mode}: {got['rps']:,.1f} req/s "
            f"p50 {got['p50']} ms p99 {got['p99']} ms, {got['requests']} requests, "
            f"{got['errors']} non-2xx {got['socket']}",
            flush=True,
        )

    def export(self, target: str, server: Server) -> None:
        """Each export once ("export": computed; with the cache on, also written to its file),
        then, with the cache on, again ("export-again": from the file), `--export-repeats`
        times."""
        if self.args.no_export:
            return
        again = target.startswith("dsm-") and not target.endswith(NOCACHE)
        for case in self.exports:
            accept, url = FORMATS[case["fmt"]][1], server.url(self.path_on(target, case))
            repeats = max(1, self.args.export_repeats)
            modes = ["export"] + (["export-again"] * repeats if again else [])
            for mode in modes:
                reset_peak(server.pid)
                before = rss(server.pid, "VmRSS")
                sampler = Sampler(server.pid)
                sampler.start()
                got = curl(url, accept)
                sampler.done.set()
                sampler.join()
                got.update(rss_before=before, hwm=rss(server.pid), sampled=sampler.peak)
                self.add(target, case["slug"], mode, got)
                print(
                    f"[{target}] {case['name']} {case['fmt']} {mode}: {got['seconds']:.2f}s "
                    f"{case['obs'] / got['seconds']:,.0f} obs/s {got['bytes']:,} B, RSS "
                    f"{before:.0f} -> peak {got['hwm']:.0f} MB",
                    flush=True,
                )

    def servers(self, port: int) -> list[tuple[str, object]]:
        """(target, how to start it): DSM per backend, then the two ceilings."""
        out: list[tuple[str, object]] = []
        for i, backend in enumerate(self.args.databases.split(",")):
            out.append((f"dsm-{backend}", lambda b=backend, p=port + i: self.start_dsm(b, p)))
            out.append(
                (
                    f"dsm-{backend}{NOCACHE}",
                    lambda b=backend, p=port + i: self.start_dsm(b, p, cache=False),
                )
            )
        ceiling = [
            sys.executable,
            str(Path(__file__).parent / "_query_ceiling.py"),
            str(self.bodies),
            "127.0.0.1",
            str(port + 5),
        ]
        out.append(("fastapi", lambda: Server("fastapi", ceiling, port + 5)))
        conf = nginx_conf(self.args.workdir, self.bodies, port + 6)
        argv = ["nginx", "-c", str(conf), "-p", str(self.args.workdir)]
        out.append(("nginx", lambda: Server("nginx", argv, port + 6, pid_of=nginx_worker)))
        return out

    def run(self) -> None:
        port = self.args.port
        first = self.args.databases.split(",")[0]
        server = self.start_dsm(first, port)
        try:
            for backend in self.args.databases.split(","):
                if backend != first:
                    other = self.start_dsm(backend, port + 9)
                    try:
                        self.check_bodies(other, backend)
                    finally:
                        other.stop()
            self.check_bodies(server, first)  # the ceilings serve the first backend's bytes
        finally:
            server.stop()
        plan = self.servers(port)
        for r in range(self.args.repeats):
            for target, start in plan:
                print(f"[round {r + 1}/{self.args.repeats}] {target}", flush=True)
                self.round(target, start)

    def round(self, target: str, start) -> None:  # type: ignore[no-untyped-def]
        """Every wrk run, then the exports. DSM gets a fresh server for each: wrk stops with
        requests in flight, and DSM leaks a pooled connection per request abandoned before its
        body starts (see docs/BENCHMARKS.md), so a reused server would fail the next run."""
        fresh = target.startswith("dsm-")
        shared = None if fresh else start()

        def finish(server: Server) -> None:
            self.peak_rss[target] = max(self.peak_rss.get(target, 0), rss(server.pid))
            server.stop()

        try:
            jobs = [(case, mode) for case in self.queries for mode in ("seq", "c16")]
            for case, mode in [*jobs, (None, "export")]:
                if case is None and self.args.no_export:
                    continue
                server = start() if fresh else shared
                try:
                    if case is None:
                        self.export(target, server)
                    else:
                        self.load(target, server, case, mode)
                finally:
                    if fresh:
                        finish(server)
        finally:
            if shared is not None:
                finish(shared)

    def profile(self, py_spy: Path, seconds: int) -> dict[str, list]:
        """py-spy (raw collapsed stacks, all threads) of the SQLite server, response cache off,
        during the 10k query and single-series queries (wrk -c1) and during one export per
        format; a fresh server each."""
        out: dict[str, list] = {}
        jobs = {
            "single v1 SDMX-CSV (wrk -t1 -c1)": (
                lambda s: wrk(s.url(self.queries[0]["path"]), CSV, 1, 1, seconds)
            ),
            "10k wildcard v1 SDMX-CSV (wrk -t1 -c1)": (
                lambda s: wrk(s.url(self.queries[3]["path"]), CSV, 1, 1, seconds)
            ),
            "export v1 SDMX-CSV": lambda s: curl(s.url(self.exports[0]["path"]), CSV),
            "export v1 SDMX-ML": lambda s: curl(s.url(self.exports[1]["path"]), ML),
        }
        for label, job in jobs.items():
            server = self.start_dsm("sqlite", self.args.port + 7, cache=False)
            try:
                fetch(server.url(self.queries[0]["path"]), CSV)
                folded = self.args.workdir / f"profile-{len(out)}.txt"
                spy = subprocess.Popen(
                    [
                        str(py_spy),
                        "record",
                        "--format",
                        "raw",
                        "--rate",
                        "250",
                        "--nonblocking",
                        "-o",
                        str(folded),
                        "-p",
                        str(server.pid),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1.0)
                job(server)
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
                out[label] = hot_spots(folded)
            finally:
                server.stop()
        return out


def hot_spots(folded: Path, top: int = 15) -> list:
    """(function, own %, inclusive %) from py-spy's collapsed stacks, by own time."""
    own, incl, total = Counter(), Counter(), 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")[1:]]  # drop thread name
        frames = [re.sub(r"\(/.*?/(site-packages|main)/", "(", f) for f in frames]
        total += n
        if frames:
            own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    rows = [(f, 100 * c / total, 100 * incl[f] / total) for f, c in own.most_common(top)]
    top_incl = [(f, 100 * own[f] / total, 100 * c / total) for f, c in incl.most_common(top + 10)]
    return [rows, top_incl, total]


# -- the report -------------------------------------------------------------------------------------
def med(values: list) -> float:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else float("nan")


# export runs: computed (and, with the cache on, kept), then sent again from the cache's file
EXPORT_MODES = {"export": "", "export-again": ", again: from the cache's file"}


def report(bench: Bench, context: dict) -> str:
    args, r = bench.args, bench.results
    targets = [t for b in args.databases.split(",") for t in (f"dsm-{b}", f"dsm-{b}{NOCACHE}")] + [
        "fastapi",
        "nginx",
    ]
    names = {
        "dsm-sqlite": "DSM, SQLite",
        "dsm-postgresql": "DSM, PostgreSQL",
        f"dsm-sqlite{NOCACHE}": "DSM, SQLite, response cache off",
        f"dsm-postgresql{NOCACHE}": "DSM, PostgreSQL, response cache off",
        "fastapi": "bare FastAPI (bytes in memory)",
        "nginx": "nginx (static file)",
    }
    lines = [
        f"### {args.size:,} observations stored",
        "",
        f"{context['date']}; `{context['command']}`; {args.repeats} round(s), wrk "
        f"{args.duration}s per run, medians over the rounds. Data: {args.size:,} observations "
        f"of {bench.lay.ref} ({-(-args.size // args.years):,} series x {args.years} years), "
        + "; ".join(context["data"])
        + ". Server: `dsm serve` (uvicorn, one worker"
        + ("" if args.with_pyarrow else ", pyarrow blocked as in ingest.py")
        + ").",
        "",
        "| query | format | obs | bytes | server | seq req/s | seq p50 ms | seq p99 ms | "
        "c16 req/s | c16 p99 ms | c16 vs FastAPI | non-2xx |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case in bench.queries:
        base = med([g["rps"] for g in r.get(("fastapi", case["slug"], "c16"), [])])
        for t in targets:
            seq, c16 = r.get((t, case["slug"], "seq"), []), r.get((t, case["slug"], "c16"), [])
            if not seq:
                continue
            rps = med([g["rps"] for g in c16])
            backend = t.removeprefix("dsm-").removesuffix(NOCACHE)
            size = case["bytes"].get(backend, case["bytes"][args.databases.split(",")[0]])
            lines.append(
                f"| {case['name']} | {FORMATS[case['fmt']][0]} | {case['obs']:,} | {size:,} | "
                f"{names[t]} | {med([g['rps'] for g in seq]):,.1f} | "
                f"{med([g['p50'] for g in seq]):.2f} | {med([g['p99'] for g in seq]):.2f} | "
                f"{rps:,.1f} | {med([g['p99'] for g in c16]):.2f} | {rps / base:.3f} | "
                f"{sum(g['errors'] for g in seq + c16)} of {sum(g['requests'] for g in seq + c16)} |"
            )
    if not args.no_export:
        lines += [
            "",
            "Full-dataflow export (`curl` to /dev/null; peak RSS: the server process's VmHWM "
            "after `clear_refs` 5, VmRSS before):",
            "",
            "| export | format | server | median s | obs/s | MB/s | bytes | RSS before MB | "
            "peak RSS MB |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for case in bench.exports:
            for t, mode in ((t, m) for t in targets for m in EXPORT_MODES):
                runs = r.get((t, case["slug"], mode), [])
                if not runs:
                    continue
                s = med([g["seconds"] for g in runs])
                size = runs[0]["bytes"]
                name = names[t] + EXPORT_MODES[mode] * t.startswith("dsm-")
                lines.append(
                    f"| {case['name']} | {FORMATS[case['fmt']][0]} | {name} | {s:.2f} | "
                    f"{case['obs'] / s:,.0f} | {size / s / 1e6:,.0f} | {size:,} | "
                    f"{max(g['rss_before'] for g in runs):.0f} | "
                    f"{max(max(g['hwm'], g['sampled']) for g in runs):.0f} |"
                )
    lines += [
        "",
        "Peak RSS of each server over its whole round (VmHWM, MB): "
        + ", ".join(f"{names[t]} {v:.0f}" for t, v in bench.peak_rss.items())
        + ".",
    ]
    lines += ["", *targets_table(bench, targets)]
    if bench.notes:
        lines += ["", "Notes: " + "; ".join(bench.notes) + "."]
    return "\n".join(lines)


def targets_table(bench: Bench, targets: list[str]) -> list[str]:
    r, out = (
        bench.results,
        ["| target | server | measured | verdict |", "| --- | --- | --- | --- |"],
    )

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    for t in (t for t in targets if t.startswith("dsm-")):
        name = t.removeprefix("dsm-").replace(NOCACHE, ", response cache off")
        for case in bench.queries:
            if not case["name"].startswith("single"):
                continue
            base = med([g["rps"] for g in r.get(("fastapi", case["slug"], "c16"), [])])
            rps = med([g["rps"] for g in r.get((t, case["slug"], "c16"), [])])
            p50 = med([g["p50"] for g in r.get((t, case["slug"], "seq"), [])])
            label = f"{case['name']} {FORMATS[case['fmt']][0]}"
            out.append(
                f"| {label}: c16 throughput >= 50% of bare FastAPI | {name} | "
                f"{rps:,.0f} vs {base:,.0f} req/s ({rps / base:.0%}) | "
                f"{verdict(rps >= TARGET_SHARE * base)} |"
            )
            out.append(
                f"| {label}: p50 < 5 ms sequential | {name} | {p50:.2f} ms | "
                f"{verdict(p50 < TARGET_P50_MS)} |"
            )
        for case, goal in zip(bench.exports, (TARGET_CSV, TARGET_ML), strict=False):
            for mode in EXPORT_MODES:
                runs = r.get((t, case["slug"], mode), [])
                if not runs:
                    continue
                rate = case["obs"] / med([g["seconds"] for g in runs])
                out.append(
                    f"| export {FORMATS[case['fmt']][0]} >= {goal:,} obs/s | "
                    f"{name}{EXPORT_MODES[mode]} | "
                    f"{rate:,.0f} obs/s ({rate / goal:.0%}) | {verdict(rate >= goal)} |"
                )
        peak = bench.peak_rss.get(t, 0.0)
        out.append(
            f"| peak RSS < {TARGET_RSS} MB for any response | {name} | {peak:.0f} MB "
            f"(whole round) | {verdict(peak < TARGET_RSS)} |"
        )
    return out


def profile_report(found: dict[str, list], context: dict) -> str:
    lines = [
        "### Profile: the SQLite server under py-spy",
        "",
        f"{context['date']}; py-spy `record --format raw --rate 250` of the `dsm serve` process "
        "(all threads, idle excluded); shares of the samples. Paths are shortened to the package.",
    ]
    for label, (own, incl, total) in found.items():
        lines += [
            "",
            f"**{label}** ({total:,} samples). Own time:",
            "",
            "| function | own % | incl. % |",
            "| --- | ---: | ---: |",
        ]
        lines += [f"| `{f}` | {o:.1f} | {i:.1f} |" for f, o, i in own]
        lines += [
            "",
            "Inclusive (what the time is spent under):",
            "",
            "| function | own % | incl. % |",
            "| --- | ---: | ---: |",
        ]
        lines += [f"| `{f}` | {o:.1f} | {i:.1f} |" for f, o, i in incl]
    return "\n".join(lines)


SECTION = "## Queries (`bench/query.py`)"


def write(doc: Path, name: str, block: str) -> None:
    """Replace (or append, at the end of the Queries section) the block `name` in `doc`."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\nSee bench/README.md for how to run it.\n"
    start, end = f"<!-- query:{name} -->", f"<!-- /query:{name} -->"
    wrapped = f"{start}\n{block}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: wrapped, text)
    else:
        head, _, tail = text.partition(SECTION)
        following = re.search(r"^## ", tail, re.M)
        cut = following.start() if following else len(tail)
        text = head + SECTION + tail[:cut].rstrip("\n") + "\n\n" + wrapped + "\n\n" + tail[cut:]
        text = text.rstrip("\n") + "\n"
    doc.write_text(text)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    dbs = [d for d in args.databases.split(",") if d]
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.clean:
        clean(dbs, args.size, args.workdir, args.pg)
        return
    for tool in ("wrk", "nginx", "curl"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install -y wrk nginx-light curl")
    command = "python bench/query.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    lay = layout()
    data = []
    for backend in dbs:
        found = ensure(backend, args.size, args.years, args.workdir, args.pg, args.with_pyarrow)
        how = "reused from an earlier run" if found["reused"] else "built in this run"
        data.append(f"{backend} database {how} (`dsm import` took {found['import_seconds']:.0f}s)")
    bench = Bench(args, lay)
    bench.run()
    context = {"date": today(), "command": command, "data": data}
    pg = None
    if "postgresql" in dbs:
        import psycopg

        with psycopg.connect(f"{args.pg}/postgres") as conn:
            pg = conn.execute("SHOW server_version").fetchone()[0]
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    write(
        args.doc,
        "machine",
        f"Machine of the latest run ({today()}): {machine(pg)}; "
        f"{nginx.removeprefix('nginx version: ')}, {wrk_v.split(' [')[0]}.",
    )
    block = report(bench, context)
    write(args.doc, f"size-{args.size}", block)
    print(block, flush=True)
    if args.py_spy:
        found = bench.profile(args.py_spy, args.duration)
        block = profile_report(found, context)
        write(args.doc, "profile", block)
        print(block, flush=True)


if __name__ == "__main__":
    main()
