"""``amorphdb serve``: loopback by default, one warning line otherwise, and a light ``amorphdb --help``."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")


@pytest.fixture
def no_server(monkeypatch):
    """uvicorn.run recorded instead of run."""
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    return calls


def test_help_does_not_load_the_web_stack():
    code = ("import sys, amorphdb.cli as c; c.build_parser().format_help(); "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'plotly') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_serve_on_loopback_by_default(web_db, no_server, capsys):
    from amorphdb.cli import main

    assert main(["serve", "--db", str(web_db)]) == 0
    (app, kw), = no_server
    assert (kw["host"], kw["port"]) == ("127.0.0.1", 8000) and app.state.db.url.endswith(web_db.name)
    assert "warning" not in capsys.readouterr().err


def test_serve_elsewhere_warns_once(web_db, no_server, capsys):
    from amorphdb.cli import main

    assert main(["serve", "--db", str(web_db), "--host", "0.0.0.0", "--port", "8123"]) == 0
    assert no_server[0][1] == {"host": "0.0.0.0", "port": 8123, "log_level": "warning"}
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "0.0.0.0:8123" in warnings[0]


def test_serve_in_several_processes(web_db, no_server, monkeypatch):
    from amorphdb.cli import main

    monkeypatch.setenv("AMORPHDB_URL", "sqlite:///elsewhere.sqlite")  # restored after the test
    assert main(["serve", "--db", str(web_db), "--workers", "3"]) == 0
    (target, kw), = no_server
    assert target == "amorphdb.web.app:create_app" and kw["factory"] and kw["workers"] == 3
    import os

    from uvicorn.importer import import_from_string

    assert os.environ["AMORPHDB_URL"] == f"sqlite:///{web_db}"  # what each worker opens
    worker_app = import_from_string(target)()  # as each worker process builds its app
    assert worker_app.state.db.url == f"sqlite:///{web_db}"
    from fastapi.testclient import TestClient

    with TestClient(worker_app) as c:
        assert c.get("/api/models").status_code == 200


@pytest.mark.parametrize("argv, message", [(["--port", "70000"], "--port"), (["--workers", "0"], "workers")])
def test_serve_rejects_bad_numbers(no_server, capsys, argv, message):
    from amorphdb.cli import main

    assert main(["serve", *argv]) == 2
    assert message in capsys.readouterr().err and not no_server


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("[::1]", True), ("127.8.0.1", True), ("0.0.0.0", False),
                                            ("192.168.1.5", False), ("::", False), ("example.org", False)])
def test_is_loopback(host, loopback):
    from amorphdb.web.app import is_loopback

    assert is_loopback(host) is loopback


@pytest.mark.parametrize("port", [0, 65536])
def test_serve_checks_the_port_before_opening_anything(no_server, tmp_path, port):
    from amorphdb.errors import InputError
    from amorphdb.web.app import serve

    with pytest.raises(InputError, match="between 1 and 65535"):
        serve(f"sqlite:///{tmp_path / 'absent.sqlite'}", port=port)
    assert not no_server and not (tmp_path / "absent.sqlite").exists()


def test_serve_does_not_make_a_database(no_server, tmp_path, capsys):
    from amorphdb.cli import main

    missing = tmp_path / "typo" / "amorphdb.sqlite"
    assert main(["serve", "--db", str(missing)]) == 2
    assert f"no database at {missing}: the explorer only reads one" in capsys.readouterr().err
    assert not no_server and not missing.parent.exists()
