"""The CLI framework: every command answers --help, errors are one line, start-up stays light."""

import subprocess
import sys

import pytest

from amorphdb.cli import _COMMANDS, main

# the commands of issue 8, in data-flow order: database → run → analysis → learning (the order of `--help`)
EXPECTED = ["import-paper", "query", "show", "export", "import", "run", "diffusion", "arrhenius", "rdf",
            "rdf-compare", "features", "train", "predict", "evaluate", "report"]


def test_every_documented_command_is_registered_in_data_flow_order():
    assert [name for name in _COMMANDS if name in EXPECTED] == EXPECTED


@pytest.mark.parametrize("name", sorted(_COMMANDS))
def test_command_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--db URL" in out and name in out


HEAVY = ("torch", "chgnet", "sevenn", "xgboost", "sklearn", "sqlalchemy", "ase", "pymatgen", "pandas", "matplotlib")


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from amorphdb.cli import build_parser; build_parser().format_help(); "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_python_m_amorphdb_lists_every_command():
    proc = subprocess.run([sys.executable, "-m", "amorphdb", "--help"], capture_output=True, text=True, check=True)
    assert all(name in proc.stdout for name in _COMMANDS)


def test_user_error_is_one_line_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "amorphdb", "show", "Xx2O", "--db", str(tmp_path / "x.sqlite")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["amorphdb: error: unknown element 'Xx' in formula 'Xx2O'"]


def test_show_prints_why_a_run_failed(tmp_path, capsys):
    from amorphdb.database import Database

    url = str(tmp_path / "x.sqlite")
    Database(url).add_run("Cu", source="mlip-emt", temperature=1000, stage="volume", key="k1", status="failed",
                          message="T=1000 K volume 0/x0.8: MD blew up at step 1")
    assert main(["show", "Cu", "--db", url]) == 0
    assert "failed: mlip-emt k1: T=1000 K volume 0/x0.8: MD blew up at step 1" in capsys.readouterr().out


def test_files_that_cannot_be_written_are_one_line(tmp_path, capsys):
    from ase.build import bulk
    from ase.io import write

    structure = tmp_path / "cu.xyz"
    write(structure, bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2))
    blocked = tmp_path / "file"
    blocked.write_text("a file, not a folder")
    assert main(["rdf", str(structure), "--out", str(blocked / "rdf.csv")]) == 2  # an OSError from pandas
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("amorphdb: error: ") and str(blocked) in err[0]
    # a plot without a suffix matplotlib writes is refused before any work (it would have become x.png)
    with pytest.raises(SystemExit):
        main(["rdf", str(structure), "--out", str(tmp_path / "rdf.csv"), "--plot", str(tmp_path / "x")])
    assert "give it one of the suffixes .avif" in capsys.readouterr().err and not (tmp_path / "rdf.csv").exists()
