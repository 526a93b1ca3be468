"""The whole flow through Airflow at one scale: every ingest DAG, then coverage_daily, timed; then quality_docs.

In its own var folder and topic prefix (nothing of the demo or of anyone sharing the broker is
touched): loads the catalogue, seeds the sources at `--scale` (timed apart; skipped when that
folder already holds a seed of the scale, unless --reseed), starts the video API and Mosquitto on
free ports and publishes the sensors' telemetry, then runs each ingest DAG (ids read from Airflow's
DagBag, tagged `ingest`) and coverage_daily with `airflow dags test`, one child process each;
`--parallel N` runs N ingest DAGs side by side; `--scheduler` runs them through Airflow's own
scheduler instead (`airflow standalone`, LocalExecutor, HUB_AIRFLOW_PARALLELISM tasks at once),
every ingest DAG started at once as the night's crons start them (Airflow's start-up timed apart: a
night runs in an Airflow that is up). That is the flow's time: from the sources to the coverage
figures. Then quality_docs builds the Data Docs of every gate in one build, as its next half-hour
run does, timed apart: no verdict, staging table or coverage figure waits for it.
Prints the wall time of the flow, the records landed (Parquet rows + dead letters), records/s,
the peak RSS of each DAG's process tree, and the time per stage: connect and load as the sum of those
tasks' durations (Airflow's record), land, gate and stage as the load tasks timed their steps.

    .venv/bin/python bench/e2e.py --scale tiny|small|medium|full [--parallel N | --scheduler] [--json] [--reseed]
        [--keep-topics]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
HUB = str(Path(sys.executable).parent / "hub")
AIRFLOW = str(Path(sys.executable).parent / "airflow")
TASKS = {"connect": "connect", "load": "load task (land + gate + stage + Airflow's share)"}
LIST_DAGS = """
import json
import os
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
print(json.dumps(sorted(dag_id for dag_id, dag in bag.dags.items() if "ingest" in (dag.tags or ()))))
"""


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range: a port the kernel handed out could be taken
    by one of the set-up's outbound connections before the service binds it minutes later (Airflow's
    API server once failed so, "address already in use", after a 500 s set-up)."""
    ranges = Path("/proc/sys/net/ipv4/ip_local_port_range")
    ephemeral = int(ranges.read_text().split()[0]) if ranges.exists() else 32768
    for port in random.sample(range(20_000, ephemeral), 500):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port between 20000 and {ephemeral}")


def run(command: list[str], env: dict, *, log: Path | None = None) -> tuple[float, float]:
    """Run a command to completion; returns (wall seconds, peak RSS in MB of its process tree)."""
    started = time.perf_counter()
    out = open(log, "a") if log else subprocess.DEVNULL
    try:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    finally:
        if log:
            out.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"`{' '.join(command)}` failed (exit {code}){f'; see {log}' if log else ''}")
    # Linux: a reaped child's ru_maxrss is the largest of it and the descendants it reaped (KiB).
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def scheduler_flow(dag_ids: list[str], say) -> dict:
    """Every ingest DAG through Airflow's own scheduler (`airflow standalone`, the LocalExecutor), all
    started at once as their night's crons start them, then coverage_daily, then quality_docs.
    Returns the seconds Airflow took to come up, to run the flow (unpausing the first ingest DAG to
    coverage_daily's end) and to build the Data Docs; the span of the ingest runs by Airflow's
    record; the peak RSS (MB) of the largest process and of the whole Airflow tree, and the CPU
    seconds of each part of Airflow, sampled each second."""
    import psutil

    from pipeline import airflow_local
    from pipeline.demo import start_airflow

    started = time.perf_counter()
    process, api = start_airflow()
    figures: dict = {"airflow_up_seconds": time.perf_counter() - started, "largest_process": 0.0, "airflow_tree": 0.0}
    cpu: dict[int, tuple[str, float]] = {}  # pid → (part, CPU seconds of it and the children it reaped)
    peak: dict[str, float] = defaultdict(float)  # a part of Airflow, or "task <its id>" → peak RSS (MB)
    stop = threading.Event()

    def sample() -> None:
        root = psutil.Process(process.pid)
        while not stop.wait(1.0):
            sizes = []
            for member in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    sizes.append(member.memory_info().rss / 2**20)
                    command = " ".join(member.cmdline())
                    part = airflow_part(command)
                    task = TASK_PROCESS.search(
                        f"{command} {member.name()}"
                    )  # a task and its supervisor: `airflow worker -- <its id>`
                    name = part or (f"task {task.group(1)}" if task else member.name())
                    peak[name] = max(peak[name], sizes[-1])
                    if part:  # a task in flight is left out: its worker counts it once reaped
                        times = member.cpu_times()
                        total = times.user + times.system + times.children_user + times.children_system
                        cpu[member.pid] = (part, total)
            figures["largest_process"] = max(figures["largest_process"], max(sizes, default=0))
            figures["airflow_tree"] = max(figures["airflow_tree"], sum(sizes))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        started = time.perf_counter()
        runs = {}
        for dag_id in dag_ids:  # unpaused: the scheduler starts the latest interval of each
            api.wait_for_dag(dag_id)
        for dag_id in dag_ids:
            runs[dag_id] = api.scheduled_run(dag_id) or api.trigger(dag_id)
        for dag_id, run_id in runs.items():
            state = api.wait_for_run(dag_id, run_id)
            say(f"  {dag_id:<32} {state}")
            if state != "success":
                raise SystemExit(f"{dag_id} run {run_id} {state}; see the Airflow UI at {airflow_local.api_url()}")
        for dag_id in ("coverage_daily", "quality_docs"):
            if dag_id == "quality_docs":
                figures["flow_seconds"], started = time.perf_counter() - started, time.perf_counter()
            api.wait_for_dag(dag_id)
            runs[dag_id] = api.run_to_completion(dag_id)[0]
            say(f"  {dag_id:<32} success")
        figures["docs_seconds"] = time.perf_counter() - started
    finally:
        stop.set()
        sampler.join()
        airflow_local.stop(process)
    parts: dict[str, float] = defaultdict(float)
    for part, seconds in cpu.values():
        parts[part] += seconds
    figures["cpu_seconds"] = {part: round(seconds, 1) for part, seconds in sorted(parts.items())}
    figures["largest_processes"] = named_peaks(airflow_local.airflow_home() / "airflow.db", peak)
    figures["runs"] = list(runs.items())
    figures["ingest_run_seconds"] = run_span(airflow_local.airflow_home() / "airflow.db", figures["runs"][:-2])
    return figures


TASK_PROCESS = re.compile(r"airflow worker -- ([0-9a-f-]{36})")
AIRFLOW_PARTS = {  # a marker in the command line → the part of `airflow standalone` it is
    "LocalExecutor": "executor workers and their tasks",
    "api_server": "API server (REST and task execution API)",
    "airflow scheduler": "scheduler",
    "airflow dag-processor": "DAG processor and its parses",
    "airflow triggerer": "triggerer",
    "airflow standalone": "standalone",
    "serve-logs": "log servers",
}


def named_peaks(airflow_db: Path, peak: dict[str, float], top: int = 6) -> dict[str, int]:
    """The `top` largest peaks, a task's named `dag_id / task_id` from Airflow's record of its id."""
    connection = sqlite3.connect(airflow_db)
    try:
        named = {}
        for name, megabytes in sorted(peak.items(), key=lambda item: -item[1])[:top]:
            if name.startswith("task "):
                found = connection.execute(
                    "SELECT dag_id, task_id FROM task_instance WHERE id = ?",  # stored without dashes
                    [name.removeprefix("task ").replace("-", "")],
                ).fetchone()
                name = " / ".join(found) if found else name
            named[name] = round(megabytes)
    finally:
        connection.close()
    return named


def airflow_part(command: str) -> str | None:
    """The part of `airflow standalone` a process is, from its command line; None for a running task."""
    return next((part for marker, part in AIRFLOW_PARTS.items() if marker in command), None)


def ingest_dags(env: dict) -> list[str]:
    """The ingest DAGs as Airflow's DagBag finds them (tagged `ingest`): their ids are not assumed."""
    out = subprocess.run([sys.executable, "-c", LIST_DAGS], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"could not list the DAGs: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def latest_runs(airflow_db: Path, dag_ids: list[str]) -> list[tuple[str, str]]:
    """(dag id, run id) of each DAG's latest run."""
    connection = sqlite3.connect(airflow_db)
    try:
        found = []
        for dag_id in dag_ids:
            run = connection.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", [dag_id])
            found += [(dag_id, run_id) for (run_id,) in run.fetchall()]
    finally:
        connection.close()
    return found


def load_results(connection: sqlite3.Connection, runs: list[tuple[str, str]]) -> list[dict]:
    """The results (XComs) of the load tasks in these DAG runs: each step's figures and seconds."""
    results = []
    for dag_id, run_id in runs:
        found = connection.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND key = 'return_value' AND task_id LIKE '%.load'",
            [dag_id, run_id],
        )
        for (value,) in found.fetchall():
            result = json.loads(value) if isinstance(value, (str, bytes)) else value
            results.append(json.loads(result) if isinstance(result, str) else result)  # JSON of JSON
    return results


def stage_seconds(airflow_db: Path, runs: list[tuple[str, str]]) -> dict[str, float]:
    """Per stage, the summed duration of its tasks in these DAG runs (Airflow's record);
    land, gate and stage are the seconds each load task timed for its steps (its result)."""
    totals: dict[str, float] = defaultdict(float)
    connection = sqlite3.connect(airflow_db)
    try:
        for dag_id, run_id in runs:
            rows = connection.execute(
                "SELECT task_id, duration FROM task_instance WHERE dag_id = ? AND run_id = ?", [dag_id, run_id]
            ).fetchall()
            for task_id, duration in rows:
                totals[TASKS.get(task_id.rsplit(".", 1)[-1], "other")] += float(duration or 0)
        for result in load_results(connection, runs):
            for step, seconds in result["seconds"].items():
                totals[step] += seconds
    finally:
        connection.close()
    return dict(totals)


def landed_records(airflow_db: Path, runs: list[tuple[str, str]]) -> dict[str, int]:
    """Rows landed and records dead-lettered, from the load tasks' results."""
    connection = sqlite3.connect(airflow_db)
    try:
        landed = [result["landed"] for result in load_results(connection, runs)]
    finally:
        connection.close()
    return {
        "rows": sum(int(r.get("rows") or 0) for r in landed),
        "dlq": sum(int(r.get("dlq_rows") or 0) for r in landed),
    }


def run_span(airflow_db: Path, runs: list[tuple[str, str]]) -> float:
    """From the first of these DAG runs' start to the last one's end, as Airflow recorded them."""
    connection = sqlite3.connect(airflow_db)
    try:
        spans = [
            connection.execute(
                "SELECT julianday(start_date), julianday(end_date) FROM dag_run WHERE dag_id = ? AND run_id = ?",
                [dag_id, run_id],
            ).fetchone()
            for dag_id, run_id in runs
        ]
    finally:
        connection.close()
    return (max(end for _, end in spans) - min(start for start, _ in spans)) * 86400


def clear_flow_state(var_dir: Path) -> None:
    """Remove what an earlier run left beside the seeded sources (lake, warehouse, connector state,
    catalogue, Airflow's DB, the telemetry's published mark and the broker's sessions), so a run on a
    kept seed lands the whole seed again instead of an incremental with nothing new. The local Kafka
    broker's folder stays: it may be running (each run's topics have a prefix of their own). So do the
    tasks' seconds of the earlier run (pipeline.task_costs), as a platform that runs each night has
    its last night's: the DAGs weigh their tasks by them."""
    sources = var_dir / "sources"
    kept = ("sources", "bench-logs", "kafka", "task_seconds")  # kafka: a live broker
    leftovers = [e for e in var_dir.iterdir() if e.name not in kept]
    leftovers += [sources / "iot_outbox.published", sources / "mosquitto" / "data"]
    for entry in leftovers:
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)


def seeded_scale(var_dir: Path) -> str | None:
    manifest = var_dir / "sources" / "manifest.json"
    try:
        return json.loads(manifest.read_text()).get("scale")
    except (OSError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("tiny", "small", "medium", "full"), default="small")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--var", type=Path, help="the bench's var folder (default var/bench-e2e-<scale>)")
    parser.add_argument("--reseed", action="store_true", help="seed again even if the folder holds this scale")
    parser.add_argument("--keep-topics", action="store_true")
    parser.add_argument(
        "--parallel", type=int, default=1, help="ingest DAGs run side by side, as the scheduler runs them (default 1)"
    )
    parser.add_argument(
        "--scheduler",
        action="store_true",
        help="run the DAGs through Airflow's scheduler (airflow standalone), all at once, not `dags test`",
    )
    args = parser.parse_args()
    say = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else (lambda *a: print(*a, flush=True))

    var_dir = (args.var or REPO / "var" / f"bench-e2e-{args.scale}").resolve()
    prefix = f"e2e{uuid.uuid4().hex[:8]}."
    env = {
        **os.environ,
        "HUB_VAR_DIR": str(var_dir),
        "HUB_TOPIC_PREFIX": prefix,
        "HUB_VIDEO_URL": f"http://127.0.0.1:{free_port()}",
        "HUB_MQTT_PORT": str(free_port()),
        "HUB_AIRFLOW_PORT": str(free_port()),  # --scheduler: not a demo's 8080
        "AIRFLOW_HOME": str(var_dir / "airflow"),
    }
    sys.path.insert(0, str(REPO))
    from pipeline.airflow_local import airflow_env

    os.environ.update(env)
    env = airflow_env(var_dir / "airflow")
    logs = var_dir / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    figures: dict = {"scale": args.scale, "var_dir": str(var_dir), "cores": os.cpu_count(), "processes": {}}

    run([HUB, "kafka", "up"], env)
    if args.reseed or seeded_scale(var_dir) != args.scale:
        seconds, rss = run([HUB, "seed", "--scale", args.scale, "--quiet"], env, log=logs / "seed.log")
        figures["seed_seconds"], figures["processes"]["seed"] = round(seconds, 1), round(rss)
        say(f"seeded scale {args.scale} in {seconds:.1f} s (peak RSS {rss:,.0f} MB)")
    else:
        clear_flow_state(var_dir)
        say(
            f"{var_dir} already holds a seed of scale {args.scale}: not seeded again (--reseed to); earlier runs' state cleared"
        )
    seed_root = REPO / "catalog" / "seed"
    setup = [
        [HUB, "catalog", "load", str(seed_root), "--publish"],
        [HUB, "sources", "up"],
        [HUB, "connect", "iot", "--prepare"],
        [HUB, "sources", "publish"],
        [AIRFLOW, "db", "migrate"],
        # The DAGs and their assets written once: `dags test` processes side by side would each
        # insert them and collide on the asset table's unique names.
        [AIRFLOW, "dags", "reserialize"],
    ]
    started = time.perf_counter()
    for command in setup:
        run(command, env, log=logs / "setup.log")
    figures["setup_seconds"] = round(time.perf_counter() - started, 1)
    say(f"catalogue, sources up, telemetry published, Airflow DB migrated in {figures['setup_seconds']:.1f} s")

    known = len(list((var_dir / "task_seconds").glob("*.*")))
    figures["task_seconds_known"] = known
    say(
        f"task weights from {known} tasks' seconds of an earlier run (longest first)"
        if known
        else "no earlier run's task seconds: Airflow's own task weights (a first night)"
    )
    try:
        dag_ids = ingest_dags(env)
        flow_started = time.perf_counter()

        def test_dag(dag_id: str) -> None:
            seconds, rss = run([AIRFLOW, "dags", "test", dag_id], env, log=logs / f"{dag_id}.log")
            figures["processes"][dag_id] = round(rss)
            say(f"  {dag_id:<32} {seconds:7.1f} s   peak RSS {rss:,.0f} MB")

        if args.scheduler:
            timed = scheduler_flow(dag_ids, say)
            wall, docs = timed["flow_seconds"], timed["docs_seconds"]
            figures["processes"]["airflow (largest process)"] = round(timed["largest_process"])
            figures["processes"]["airflow (whole tree)"] = round(timed["airflow_tree"])
            figures["airflow_cpu_seconds"] = timed["cpu_seconds"]
            figures["largest_processes"] = timed["largest_processes"]
            figures["airflow_up_seconds"] = round(timed["airflow_up_seconds"], 1)
            figures["ingest_run_seconds"] = round(timed["ingest_run_seconds"], 1)
        else:
            with ThreadPoolExecutor(max_workers=args.parallel) as pool:
                list(pool.map(test_dag, dag_ids))  # re-raises the first failure
            test_dag("coverage_daily")  # after every ingest DAG, as its schedule intends
            wall = time.perf_counter() - flow_started
            test_dag("quality_docs")  # the Data Docs of every gate above, in one build (its next half-hour run)
            docs = time.perf_counter() - flow_started - wall
    finally:
        run([HUB, "sources", "down"], env)
        if not args.keep_topics:
            _drop_topics(env, prefix)
    airflow_db = var_dir / "airflow" / "airflow.db"
    # The runs timed: under the scheduler a 实时 DAG's next slot may have started another run since.
    runs = timed["runs"] if args.scheduler else latest_runs(airflow_db, [*dag_ids, "coverage_daily", "quality_docs"])
    counted = landed_records(airflow_db, runs)
    records = counted["rows"] + counted["dlq"]
    figures.update(
        wall_seconds=round(wall, 1),
        records=records,
        records_per_second=round(records / wall),
        dlq_records=counted["dlq"],
        stage_seconds={
            k: round(v, 1)
            for k, v in stage_seconds(airflow_db, [run for run in runs if run[0] != "coverage_daily"]).items()
        },
        ingest_dags=dag_ids,
        docs_seconds=round(docs, 1),
        parallel=args.parallel,
        scheduler=args.scheduler,
        load_average=os.getloadavg()[0],
    )
    if args.json:
        print(json.dumps(figures))
        return
    stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in figures["stage_seconds"].items())
    how = "through the scheduler" if args.scheduler else f"{args.parallel} DAG(s) at a time"
    print(
        f"scale {args.scale}: {records:,} records ({counted['dlq']:,} to DLQs) through {len(dag_ids)} ingest DAGs "
        f"and coverage_daily in {wall:.1f} s = {records / wall:,.0f} records/s ({how}); "
        f"then quality_docs (the Data Docs of every gate, off the data path) in {docs:.1f} s"
    )
    print(f"time per stage (sum of task durations): {stages}")
    print(f"peak RSS per process (MB): {figures['processes']}")
    if args.scheduler:
        print(f"CPU seconds per part of Airflow: {figures['airflow_cpu_seconds']}")
        print(f"the largest processes, peak RSS (MB): {figures['largest_processes']}")
        print(
            f"Airflow up in {figures['airflow_up_seconds']:.1f} s (not in the flow's time); the ingest DAG runs, "
            f"first start to last end (Airflow's record): {figures['ingest_run_seconds']:.1f} s"
        )
    print(f"load average {figures['load_average']:.1f} on {figures['cores']} cores")


def _drop_topics(env: dict, prefix: str) -> None:
    code = (
        "from hub.kafka_clients import make_admin\n"
        "admin = make_admin()\n"
        f"mine = [t for t in admin.list_topics() if t.startswith({prefix!r})]\n"
        "admin.delete_topics(mine) if mine else None\n"
        "admin.close()\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=False)


if __name__ == "__main__":
    main()
