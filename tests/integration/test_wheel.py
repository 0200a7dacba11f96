"""The wheel built from the tree carries the SQL, the migrations and the k6 script, and a
clean virtual environment with only that wheel (pymem-wise) migrates a database with it."""

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_installs_in_a_clean_venv_and_migrates(tmp_path, pg_server):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(dist), str(ROOT)], check=True)
    [wheel] = dist.glob("pymem_pg-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("pymem/sql/queries.sql", "pymem/sql/schema.sql", "pymem/sql/released.json",
                     "pymem/sql/incremental/0001_schema.sql", "pymem/sql/idempotent/090_grants.sql",
                     "pymem/migrations/env.py", "pymem/migrations/versions/0001_schema.py",
                     "pymem/bench/k6/load.js", "pymem/bench/queries.sql", "pymem/py.typed"):
        assert required in names, required
    assert not any(n.startswith(("workers/", "sql/", "migrations/", "tests/")) for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True)
    # The dependencies come from this environment's site-packages, listed as a plain path:
    # no .pth processing, so the editable checkout of pymem stays invisible there.
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
        conn.execute("drop database if exists pymem_wheel")
        conn.execute("create database pymem_wheel")
    dsn = pg_server.uri("pymem_wheel")
    try:
        script = ("import pymem, pymem.migrate as m; assert m.__file__.startswith(%r), m.__file__; "
                  "r = m.migrate(%r); print(r['to'], len(r['idempotent_files']))" % (site, dsn))
        out = subprocess.run([str(python), "-c", script], capture_output=True, text=True, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        head, files = out.stdout.split()
        assert head == sorted(p.name for p in (ROOT / "pymem/sql/incremental").glob("*.sql"))[-1][:4]
        assert int(files) == len(list((ROOT / "pymem/sql/idempotent").glob("*.sql")))
    finally:
        with psycopg.connect(dsn) as conn:
            roles = [r[0] for r in conn.execute("select _pymem.service_role() union all select _pymem.tenant_group()")]
        with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
            conn.execute("drop database pymem_wheel")
            for role in roles:
                conn.execute(psycopg.sql.SQL("drop role if exists {}").format(psycopg.sql.Identifier(role)))
