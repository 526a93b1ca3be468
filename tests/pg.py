"""A throwaway PostgreSQL server for the integration tests (Debian's postgresql binaries).

PostgreSQL refuses to run as root, so as root the cluster is initialised and started as the
`postgres` user (or `nobody`) in a directory under /tmp that user owns. Set HUB_TEST_PG_URL to use
an existing server instead (a superuser URL; test databases are created on it).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

NOT_INSTALLED = "PostgreSQL not installed: run `apt-get install postgresql` (as root) to run the Postgres half"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


def _apt_install() -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        # A fresh container has no package lists yet.
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)


def find_or_install() -> tuple[Path | None, str]:
    """The bin directory of the newest installed PostgreSQL (installing it as root), or None and why."""
    bin_dir = _bin_dir()
    if bin_dir is None and os.geteuid() == 0:
        try:
            _apt_install()
        except (subprocess.CalledProcessError, OSError) as exc:
            return None, f"{NOT_INSTALLED} (apt-get failed: {exc})"
        bin_dir = _bin_dir()
    return bin_dir, "" if bin_dir else NOT_INSTALLED


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _service_user() -> str | None:
    """Who runs the server: ourselves, or as root an unprivileged account."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root but neither a 'postgres' nor a 'nobody' user exists")


@dataclass
class PgServer:
    """A running server; `create_database()` gives each test its own empty database."""

    admin_url: str
    datadir: Path | None = None
    bin_dir: Path | None = None
    run_as: str | None = None
    created: list[str] = field(default_factory=list)

    def create_database(self, prefix: str = "hub_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(_libpq(self.admin_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # name is generated here, not user input
        self.created.append(name)
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def stop(self) -> None:
        if self.datadir is None:
            self._drop_created()
            return
        _run([str(self.bin_dir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"], self.run_as)
        shutil.rmtree(self.datadir, ignore_errors=True)

    def _drop_created(self) -> None:
        with psycopg.connect(_libpq(self.admin_url), autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(argv: list[str], run_as: str | None) -> subprocess.CompletedProcess:
    if run_as:
        argv = ["runuser", "-u", run_as, "--", *argv]
    env = dict(os.environ, LC_ALL="C", LANG="C")
    result = subprocess.run(argv, env=env, capture_output=True, text=True, cwd="/")
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr or result.stdout}")
    return result


def start(bin_dir: Path) -> PgServer:
    """initdb into a fresh directory and start the server on 127.0.0.1 on a free port."""
    run_as = _service_user()
    # Not pytest's tmp_path: that lives under a 0700 directory the service user cannot enter.
    datadir = Path(tempfile.mkdtemp(prefix="hub-pg-"))
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(datadir, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    _run([str(bin_dir / "initdb"), "-D", str(datadir), "-U", "hub", "-A", "trust", "-E", "UTF8", "--no-locale"], run_as)
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {datadir} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"  # a test server: speed over durability
    )
    _run(
        [str(bin_dir / "pg_ctl"), "-D", str(datadir), "-l", str(datadir / "server.log"), "-o", options, "-w", "start"],
        run_as,
    )
    return PgServer(f"postgresql+psycopg://hub@127.0.0.1:{port}/postgres", datadir, bin_dir, run_as)


def server_or_reason() -> tuple[PgServer | None, str]:
    """A server for this test session, or None and the reason to skip."""
    existing = os.environ.get("HUB_TEST_PG_URL")
    if existing:
        return PgServer(existing), ""
    bin_dir, reason = find_or_install()
    if bin_dir is None:
        return None, reason
    return start(bin_dir), ""
