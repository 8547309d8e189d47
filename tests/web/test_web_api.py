"""The JSON API and the pages, through FastAPI's test client, against the CLI and the Database API."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from web_fixtures import FORMULA, MODEL, OURS

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")


def _cli_json(capsys, *argv: str):
    from amorphdb.cli import main

    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("params, argv", [
    ({"elements": "Li,S"}, ["--elements", "Li,S"]),
    ({"elements": "Li", "exclude": "O,S", "temperature": 1000, "source": "paper-aimd"},
     ["--elements", "Li", "--exclude", "O,S", "--temperature", "1000", "--source", "paper-aimd"]),
    ({"t_min": 1400, "t_max": 2100, "d_min": 1e-4, "d_max": 1e-3}, ["--t-min", "1400", "--t-max", "2100",
                                                                     "--d-min", "1e-4", "--d-max", "1e-3"]),
    ({"species": "Ti", "elements": "Ti"}, ["--species", "Ti", "--elements", "Ti"]),
])
def test_materials_are_the_records_of_query_json(client, web_db, capsys, params, argv):
    expected = _cli_json(capsys, "query", "--db", str(web_db), "--json", *argv)
    got = client.get("/api/materials", params={**params, "limit": 500}).json()
    assert got["total"] == len(expected) > 0
    assert got["items"] == expected[:500]


def test_material_is_show_json(client, web_db, capsys):
    expected = _cli_json(capsys, "show", FORMULA, "--db", str(web_db), "--json")
    for run in expected["runs"]:  # the web gives the file name, not the server's path
        run["trajectory_path"] = run["trajectory_path"] and run["trajectory_path"].rsplit("/", 1)[-1]
    assert client.get(f"/api/materials/{FORMULA}").json() == expected
    assert client.get("/api/materials/Li2Ti4").json()["formula"] == FORMULA  # any multiple of the formula


def test_sorting_and_pages(client):
    first = client.get("/api/materials", params={"elements": "Li", "sort": "D", "order": "desc", "limit": 7}).json()
    d = [r["D"] for r in first["items"]]
    assert d == sorted(d, reverse=True) and None not in d
    second = client.get("/api/materials", params={"elements": "Li", "sort": "D", "order": "desc", "limit": 7,
                                                  "offset": 7}).json()
    assert second["total"] == first["total"] and second["items"][0]["D"] <= d[-1]
    last = client.get("/api/materials", params={"sort": "D", "offset": first["total"] + 500}).json()
    assert last["items"] == [] and last["total"] > first["total"]
    capped = client.get("/api/materials", params={"limit": 10**12}).json()
    assert len(capped["items"]) == 500 < capped["total"]
    from amorphdb.web.data import SORT_COLUMNS

    for column in SORT_COLUMNS:  # text columns with missing values too
        for order in ("asc", "desc"):
            got = client.get("/api/materials", params={"sort": column, "order": order, "limit": 500}).json()
            column_values = [r[column] for r in got["items"]]
            values = [v for v in column_values if v is not None]
            assert values and values == sorted(values, reverse=order == "desc"), (column, order)
            assert column_values[:len(values)] == values, (column, order)  # missing values last, either order


def test_arrhenius_fits_every_source(client):
    got = client.get(f"/api/materials/{FORMULA}/arrhenius").json()
    fits = {(f["source"], f["species"]): f for f in got["fits"]}
    assert {("paper-aimd", "Li"), (OURS, "Li"), (OURS, "Ti")} <= set(fits)
    ours = fits[(OURS, "Li")]
    assert 0.1 < ours["Ea"] < 1.0 and ours["Ea_err"] > 0 and 0 < ours["D_300K"] < 1e-5
    assert ours["D_300K_err"] > 0 and "weighted" in ours["origin"]


def test_rdf_and_r2(client, web_app):
    from amorphdb import rdf_r2

    got = client.get(f"/api/materials/{FORMULA}/rdf").json()
    assert [c["source"] for c in got["curves"]] == ["paper-aimd", "paper-m3gnet", OURS]
    assert len(got["r2"]) == 3
    db = web_app.state.db
    expected = rdf_r2(db.rdf(FORMULA, "paper-aimd"), db.rdf(FORMULA, "paper-m3gnet"))
    first = got["r2"][0]
    assert (first["reference"], first["candidate"]) == ("paper-aimd", "paper-m3gnet")
    assert first["r2"] == pytest.approx(expected, abs=1e-12)
    only = client.get(f"/api/materials/{FORMULA}/rdf", params={"source": "paper-m3gnet"}).json()
    assert len(only["curves"]) == 1 and only["r2"] == [] and len(only["curves"][0]["r"]) == 101
    assert client.get(f"/api/materials/{FORMULA}/rdf", params={"source": "nowhere"}).status_code == 404


def test_structures_and_downloads(client):
    import ase.io
    from pymatgen.core import Structure

    listed = client.get(f"/api/materials/{FORMULA}/structures").json()
    assert [(s["source"], s["label"], s["n_atoms"]) for s in listed] == [(OURS, "final", 12), (OURS, "quenched", 12)]
    original = Structure.from_dict(listed[1]["structure"])
    cif = client.get(f"/api/materials/{FORMULA}/structures/1", params={"format": "cif"})
    assert cif.status_code == 200 and "attachment" in cif.headers["content-disposition"]
    assert Structure.from_str(cif.text, fmt="cif").composition == original.composition
    xyz = client.get(f"/api/materials/{FORMULA}/structures/1", params={"format": "extxyz"})
    atoms = ase.io.read(io.StringIO(xyz.text), format="extxyz")
    assert len(atoms) == 12 and atoms.cell.volume == pytest.approx(original.volume)
    js = client.get(f"/api/materials/{FORMULA}/structures/0", params={"format": "json"}).json()
    assert Structure.from_dict(js) == Structure.from_dict(listed[0]["structure"])
    assert client.get(f"/api/materials/{FORMULA}/structures/2").status_code == 404
    assert client.get("/api/materials/Li3PS4/structures").status_code == 404  # not in the database


def test_runs_csv(client):
    got = client.get(f"/api/materials/{FORMULA}/runs.csv")
    assert got.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.StringIO(got.text))
    ours = table[table["source"] == OURS]
    assert len(ours) == 4 and ours["D_Ti"].notna().all() and (table["formula"] == FORMULA).all()
    assert "AAV" in table.columns  # the paper's features of its runs


def test_nothing_private_leaves_the_server(client):
    from amorphdb.web.data import _public

    models = {m["name"]: m for m in client.get("/api/models").json()}
    assert models["lost-model"]["data"] == "database postgresql://amorph:***@dbhost/amorph source paper-aimd"
    assert _public("database sqlite:////srv/private/amorphdb.sqlite source x") == "database sqlite:///amorphdb.sqlite source x"
    assert _public("/srv/private/tables/ml_features.csv") == "ml_features.csv"
    assert _public("database default source paper-aimd") == "database default source paper-aimd"
    assert _public("database /srv/private/db.sqlite source x") == "database db.sqlite source x"  # a bare --db path
    assert _public("database sqlite:////srv/my data/db.sqlite source x") == "database sqlite:///db.sqlite source x"
    assert _public("database postgresql://u@host/db?password=s3cret source x") == "database postgresql://u@host/db source x"
    runs = [r for r in client.get(f"/api/materials/{FORMULA}").json()["runs"] if r["source"] == OURS]
    assert [r["trajectory_path"] for r in runs] == ["production-0.traj"] * 4  # the file, not where it lies
    # a page's blank-field redirect stays on this site: a request path "//host" (which a test client would read
    # as a host) must not become the location "//host", another site
    import asyncio

    from amorphdb.web.app import _PageMiddleware

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": "//evil.example.com", "query_string": b"elements=&source=paper-aimd",
             "headers": [], "method": "GET"}
    asyncio.run(_PageMiddleware(None)(scope, None, send))
    assert sent[0]["status"] == 303
    assert dict(sent[0]["headers"])[b"location"] == b"/evil.example.com?source=paper-aimd"


def test_models_and_prediction(client):
    models = {m["name"]: m for m in client.get("/api/models").json()}
    assert set(models) == {MODEL, "lost-model"}
    assert {"random-cv", "grouped-cv"} <= set(models[MODEL]["cv"])
    got = client.get(f"/api/models/{MODEL}/predict", params={"formula": FORMULA}).json()
    assert got["source"] == "paper-aimd" and [r["temperature"] for r in got["items"]] == [1000, 1500, 2000, 2500]
    assert all(r["D"] > 0 and r["D_stored"] > 0 for r in got["items"]) and got["fit"]["Ea"] > 0
    missing = client.get("/api/models/lost-model/predict", params={"formula": FORMULA})
    assert missing.status_code == 400 and "not on this server" in missing.json()["detail"]
    assert client.get("/api/models/nope/predict", params={"formula": FORMULA}).status_code == 404
    assert client.get(f"/api/models/{MODEL}/predict", params={"formula": FORMULA, "source": OURS}).status_code == 404


def test_overview_and_validation(client):
    overview = client.get("/api/overview").json()
    assert overview["temperature"] in overview["temperatures"] and overview["n_compositions"] > 100
    assert overview["D_by_anion"] and overview["Ea_by_anion"] and len(overview["binary"]) >= 3
    assert client.get("/api/overview", params={"temperature": 1234}).status_code == 404
    assert client.get("/api/overview", params={"source": "nowhere"}).status_code == 404
    validation = client.get("/api/validation").json()
    assert {(r["source"], r["formula"]) for r in validation["D"]} == {(OURS, FORMULA)}
    assert len(validation["D"]) == 4
    by_source = pd.DataFrame(validation["rdf_r2"]).groupby("source")["r2"]
    assert by_source.size()["paper-m3gnet"] > 200 and 0.8 < by_source.median()["paper-m3gnet"] < 1.0


def test_openapi_and_offline_assets(client):
    spec = client.get("/openapi.json").json()
    for path in ("/api/materials", "/api/materials/{formula}", "/api/materials/{formula}/rdf",
                 "/api/materials/{formula}/structures"):
        assert "get" in spec["paths"][path]
    assert not [p for p, ops in spec["paths"].items() if set(ops) - {"get"}]  # read-only
    docs = client.get("/docs").text
    assert "/swagger/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/swagger/swagger-ui-bundle.js").status_code == 200
    js = client.get("/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000 and "max-age" in js.headers["cache-control"]


@pytest.mark.parametrize("url, text", [
    ("/", "runs match"), ("/search?elements=Li,S&sort=D&order=desc", "Li2Mo3S4"),
    (f"/materials/{FORMULA}", "Radial distribution functions"), ("/overview", "Fig. 3"),
    ("/validation", OURS), ("/models", MODEL), (f"/models?model={MODEL}&formula={FORMULA}", "predicted"),
])
def test_pages(client, url, text):
    got = client.get(url, headers={"accept": "text/html"})
    assert got.status_code == 200 and text in got.text
    assert got.headers["x-content-type-options"] == "nosniff"


def test_page_errors_are_pages(client):
    got = client.get("/materials/Qq2", headers={"accept": "text/html"})
    assert got.status_code == 400 and "<h1>400</h1>" in got.text and "Qq" in got.text
    assert client.get("/materials/Li3PS4", headers={"accept": "text/html"}).status_code == 404
    blank = client.get("/search?elements=&temperature=&source=paper-aimd", follow_redirects=False)
    assert blank.status_code == 303 and blank.headers["location"] == "/search?source=paper-aimd"


def test_empty_database_pages(tmp_path):
    from fastapi.testclient import TestClient

    from amorphdb.web.app import create_app

    with TestClient(create_app(tmp_path / "empty.sqlite"), raise_server_exceptions=True) as c:
        for url in ("/", "/overview", "/validation", "/models", "/api/materials", "/api/models"):
            assert c.get(url, headers={"accept": "text/html"}).status_code == 200, url
        assert "None stored" in c.get("/validation").text
        assert c.get("/api/overview").status_code == 404
