"""The database commands as a user runs them: import-paper, query, show, export, import; errors in one line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pandas as pd
import pytest
from db_records import SMALL_RDFS, fill

from amorphdb.cli import main
from amorphdb.composition import parse_formula
from amorphdb.database import Database


def test_cli_tour(tmp_path, small_paper, capsys):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    assert main(["import-paper", str(small_paper), "--db", url]) == 0
    out = capsys.readouterr().out
    assert "paper-aimd" in out and "paper-m3gnet" in out
    assert main(["query", "--elements", "Li", "--temperature", "2000", "--json", "--db", url]) == 0
    records = json.loads(capsys.readouterr().out)
    table = pd.read_csv(small_paper / "ml_features.csv")
    assert len(records) == (table["temperature"] == 2000).sum()
    formula = records[0]["formula"]
    assert main(["show", formula, "--db", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith(formula) and "LNC" in out and "Arrhenius" in out
    assert "element data: paper (ml_features.csv as published)" in out
    assert main(["show", formula, "--json", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out) == Database(url).show(formula).to_dict()
    # a composition with RDFs only: show names the pairs of each source; no "None" cells in tables
    rdf_formula = "LiI"
    pairs = ", ".join(pd.read_csv(small_paper / "rdf" / f"DFT_RDF_{rdf_formula}.csv", index_col=0).columns.drop("r"))
    assert main(["show", rdf_formula, "--db", url]) == 0
    out = capsys.readouterr().out
    assert f"RDFs:\n  paper-aimd 5000 K: {pairs}\n  paper-m3gnet 5000 K: {pairs}\n" in out
    assert "features:\n(none)" in out and "element data" not in out
    assert main(["query", "--source", "paper-m3gnet", "--db", url]) == 0
    out = capsys.readouterr().out
    n_rdf = len(SMALL_RDFS["M3GNet"])
    assert "None" not in out and f"{n_rdf} runs, {n_rdf} compositions" in out
    # the density of imported rows is printed
    elements = ",".join(str(e) for e in parse_formula(formula).elements)
    assert main(["query", "--elements", elements, "--temperature", "2000", "--db", url]) == 0
    row = table[(table["formula"] == formula) & (table["temperature"] == 2000)].iloc[0]
    assert f"{row['avg_m_with_Li'] / row['AAV'] * 1.66054:.4g}" in capsys.readouterr().out
    assert main(["export", "--format", "csv", "--out", str(tmp_path / "x.csv"), "--db", url]) == 0
    assert "wrote" in capsys.readouterr().out
    url2 = f"sqlite:///{tmp_path / 'cli2.sqlite'}"
    assert main(["import", str(tmp_path / "x.csv"), "--db", url2]) == 0
    assert main(["query", "--db", url2]) == 0
    assert f"{len(table) + 2 * n_rdf} runs" in capsys.readouterr().out


def test_show_json_is_the_record_of_the_former_dict(tmp_path, capsys):
    """``show --json``: the keys and layout it printed before show() was typed (runs also carry element_data)."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    db = Database(url)
    run = fill(db)
    db.update_run(run, status="failed", message="temperature ran away")
    assert main(["show", "Li3PS4", "--json", "--db", url]) == 0
    text = capsys.readouterr().out
    record = json.loads(text)
    assert text == json.dumps(db.show("Li3PS4").to_dict(), indent=1) + "\n"
    assert list(record) == ["formula", "elements", "composition", "runs", "arrhenius", "rdfs", "structures",
                            "amorphous_limits"]
    production = next(r for r in record["runs"] if r["run_id"] == run)
    assert production["diffusivity"]["S"] == [{"D": 1e-7, "D_err": None, "method": "msd-fit", "diffusive": False}]
    assert production["features"]["SLPW"] is None and production["element_data"] == "paper table (test)"
    assert main(["show", "Li3PS4", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "failed: mlip-chgnet T1000: temperature ran away" in out and "element data: paper table (test)" in out


def test_cli_arrhenius_is_a_thin_call(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    db = Database(url)
    for t in (1000, 2000):  # two temperatures, no error bars: too few (the command once asked for two)
        run = db.add_run("Li3PS4", source="mlip-chgnet", temperature=t, stage="production", key=f"T{t}")
        db.add_diffusivity(run, "Li", 1e-3 * 10 ** (-1000 / t), None, "msd-fit")
    assert main(["arrhenius", "Li3PS4", "--db", url]) == 2
    assert "too few temperatures" in capsys.readouterr().err
    run = db.add_run("Li3PS4", source="mlip-chgnet", temperature=1500, stage="production", key="T1500")
    db.add_diffusivity(run, "Li", 1e-3 * 10 ** (-1000 / 1500), None, "msd-fit")
    assert main(["arrhenius", "Li3PS4", "--db", url, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record == db.fit_arrhenius("Li3PS4", source="mlip-chgnet", store=False).to_dict()
    assert record["n_points"] == 3 and record["method"] == "unweighted least squares on ln D"
    assert main(["arrhenius", "Li3PS4", "--db", url]) == 0
    assert "unweighted: some D have no error" in capsys.readouterr().out
    # without --source: the one source there is, as in the Python API; with two, an error naming them
    db.add_diffusivity(db.add_run("Li3PS4", source="paper-aimd", temperature=1000, stage="imported", key="T1000"),
                       "Li", 1e-5, None, "paper")
    assert main(["arrhenius", "Li3PS4", "--db", url]) == 2
    assert "several sources (mlip-chgnet, paper-aimd)" in capsys.readouterr().err


ERRORS = [
    (["show", "Li3Qq"], "unknown element 'Qq'"),
    (["show", ""], "empty formula"),
    (["query", "--elements", "Li,Zz"], "unknown element 'Zz'"),
    (["import-paper", "{bad}"], "ml_features.csv: line 3, column 'temperature'"),
    (["import", "{junk}"], "not an amorphdb export"),
    (["show", "Li3PS4", "--db", "{junk}"], "is not a database"),
    (["query", "--db", "postgresql://u:p@127.0.0.1:{port}/x"], "cannot open database"),
    (["query", "--db", "{junk}/sub/x.sqlite"], "cannot create the folder"),
    (["query", "--t-min", "2000", "--t-max", "1000"], "t_min = 2000 is above t_max = 1000"),
    (["export", "--out", "{tmp}/missing/x.json"], "cannot write the export to"),
    (["export", "--out", "{tmp}"], "it is a directory"),
    (["import", "{tmp}/binary.bin"], "not an amorphdb export (not a text file)"),
]


def _bad_inputs(tmp_path, small_paper, argv: list[str]) -> list[str]:
    """``argv`` with its placeholders filled: a malformed paper table, a junk file, a closed port ..."""
    path = small_paper / "ml_features.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table.loc[1, "temperature"] = "hot"
    table.to_csv(path, index=False)
    (tmp_path / "junk.txt").write_text("junk\n" * 100)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)) * 4)
    argv = [a.format(bad=small_paper, junk=tmp_path / "junk.txt", port=port, tmp=tmp_path) for a in argv]
    return argv if "--db" in argv else [*argv, "--db", str(tmp_path / "e.sqlite")]


@pytest.mark.parametrize("argv, message", ERRORS)
def test_cli_errors_are_one_line(tmp_path, small_paper, capsys, argv, message):
    assert main(_bad_inputs(tmp_path, small_paper, argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("amorphdb: error: ") and err.count("\n") == 1 and message in err, err


@pytest.mark.slow  # a fresh interpreter per case: about 5 s each
@pytest.mark.parametrize("argv, message", ERRORS)
def test_cli_errors_in_a_separate_process(tmp_path, small_paper, argv, message):
    """Run as a user would: a separate process, exit status 2, one line on stderr, no traceback."""
    proc = subprocess.run([sys.executable, "-c", "import sys; from amorphdb.cli import main; sys.exit(main())",
                           *_bad_inputs(tmp_path, small_paper, argv)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if not line[:2].isdigit()]  # log lines start with a time
    assert len(lines) == 1 and lines[0].startswith("amorphdb: error: ") and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
