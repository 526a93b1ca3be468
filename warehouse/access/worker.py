"""The sandbox's child process: one analyst statement under limits the operating system enforces.

Started by warehouse.access.child as `python -m warehouse.access.worker REQUEST.json` in a fresh
session, with a scrubbed environment and its own temporary directory as cwd and TMPDIR. Before
it imports DuckDB it sets hard limits (address space, CPU seconds, no core files, few files) and,
when it runs as root, moves into a network namespace of its own (no interface but loopback, down).
It then builds the role database, checks the statement once more, runs it and writes the result
(Arrow IPC) and a status line (JSON) into its directory. It exits when its parent goes away
(stdin closes), so a killed `hub sql` leaves no query running.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys
import threading
from pathlib import Path

CLONE_NEWNET = 0x40000000
STATUS_FILE, RESULT_FILE = "status.json", "result.arrow"
MEMORY_EXIT = 86  # the child's own "out of memory" exit, when even writing the status failed


def set_limits(memory_bytes: int, cpu_s: int) -> None:
    """Hard limits for this process and its threads; the soft CPU limit sends SIGXCPU, the hard one SIGKILL."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 2))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a core file would hold the warehouse's data
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def isolate_network() -> bool:
    """A network namespace of our own when we may make one (root); False where the kernel says no."""
    if os.geteuid() != 0:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.unshare(CLONE_NEWNET) == 0


def exit_with_parent() -> None:
    """Stdin is the parent's pipe: end of file means the parent is gone, so stop at once."""

    def watch() -> None:
        while os.read(0, 4096):
            pass
        os._exit(70)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _write_status(workdir: Path, status: dict) -> None:
    (workdir / STATUS_FILE).write_text(json.dumps(status, ensure_ascii=False), encoding="utf-8")


def run(request: dict, workdir: Path) -> dict:
    """Build the role database, re-check and run the statement; the status to report."""
    import duckdb
    import pyarrow.ipc as ipc

    from warehouse.access.sandbox import Access, Limits, open_role_database, run_statement, stream_statement
    from warehouse.access.statement import QueryRefused, check_statement

    access = {rid: Access(**a) for rid, a in request["access"].items()}
    limits = Limits(**request["limits"])
    try:
        connection, created, alias = open_role_database(
            Path(request["warehouse"]),
            access,
            marts=request["marts"],
            min_group=request["min_group"],
            key=bytes.fromhex(request["key"]),
            limits=limits,
        )
        try:
            checked = check_statement(request["sql"], created)  # second look, against the views that exist
            if request.get("whole"):  # an export: every row into the result file, or a refusal
                rows = stream_statement(
                    connection,
                    checked.query,
                    workdir / RESULT_FILE,
                    alias=alias,
                    row_limit=request["row_limit"],
                    max_bytes=request["max_bytes"],
                )
                return {"status": "ok", "truncated": False, "rows": rows}
            result = run_statement(
                connection, checked.query, alias=alias, row_limit=request["row_limit"], max_bytes=request["max_bytes"]
            )
        finally:
            connection.close()
    except QueryRefused as refused:
        return {"status": "refused", "reason": str(refused)}
    except (duckdb.OutOfMemoryException, MemoryError):
        return {"status": "killed", "reason": "memory"}
    except duckdb.Error as exc:  # e.g. the file is locked by a writer: say so without its path
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0].replace(request["warehouse"], "…")
        return {"status": "refused", "reason": f"the warehouse could not be read now ({message}); try again"}
    with ipc.new_file(str(workdir / RESULT_FILE), result.table.schema) as writer:
        writer.write_table(result.table)
    return {"status": "ok", "truncated": result.truncated, "duration_ms": result.duration_ms, "rows": result.rows}


def main(argv: list[str]) -> int:
    workdir = Path(argv[1]).parent
    request = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    Path(argv[1]).unlink()  # the key is in it: gone before any analyst SQL runs
    exit_with_parent()
    set_limits(request["memory_bytes"], request["cpu_s"])
    network_isolated = isolate_network()
    try:
        status = run(request, workdir)
    except MemoryError:
        status = {"status": "killed", "reason": "memory"}
    status["network_isolated"] = network_isolated
    try:
        _write_status(workdir, status)
    except MemoryError:
        return MEMORY_EXIT
    return 0


if __name__ == "__main__":
    # os._exit: no interpreter shutdown while the watcher thread sits in read(), and nothing flushed twice.
    os._exit(main(sys.argv))
