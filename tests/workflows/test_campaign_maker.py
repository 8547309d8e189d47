"""The jobflow Maker: one composition's protocol as a jobflow job, run with ``run_locally``."""

from __future__ import annotations

import pytest
from jobflow import Flow, run_locally

from amorphdb import Database
from amorphdb.errors import InputError
from amorphdb.workflows.maker import MeltQuenchMaker

pytestmark = pytest.mark.filterwarnings("ignore:structure has no Li")


@pytest.mark.slow  # about 10 s of EMT MD
def test_maker_runs_the_protocol_with_run_locally(tmp_path):
    settings = dict(atoms=8, melt_temperature=2000.0, temperatures=[1400.0], volume_steps=40, check_steps=40,
                    production_steps=150, frame_interval=5, checkpoint_interval=50, energy_tolerance=0.05,
                    pressure_tolerance=1e6)
    maker = MeltQuenchMaker(engine="ase.calculators.emt:EMT", db=str(tmp_path / "db.sqlite"),
                            workdir=str(tmp_path / "work"), settings=settings)
    job = maker.make("Cu")
    assert job.name == "amorphdb melt-quench"
    responses = run_locally(Flow([job]), create_folders=False, ensure_success=True)
    out = responses[job.uuid][1].output
    assert out["formula"] == "Cu" and out["source"] == "mlip-emt" and out["n_atoms"] == 8
    assert [t["temperature"] for t in out["temperatures"]] == [2000.0, 1400.0]
    assert all(t["diffusion"]["Cu"]["D"] > 0 for t in out["temperatures"])
    with Database(tmp_path / "db.sqlite") as db:  # the same rows as amorphdb run
        production = [r for r in db.show("Cu").runs if r.stage == "production"]
    assert sorted(r.id for r in production) == sorted(t["run_id"] for t in out["temperatures"])


def test_maker_options_are_those_of_run():
    import inspect

    from amorphdb.workflows.melt_quench import run

    fields = set(MeltQuenchMaker.__dataclass_fields__) - {"name", "settings"}
    assert fields <= set(inspect.signature(run).parameters)
    with pytest.raises(InputError, match="unknown setting"):
        MeltQuenchMaker(engine="ase.calculators.emt:EMT", settings={"nonsense": 1})
    with pytest.raises(InputError, match="unknown preset"):
        MeltQuenchMaker(preset="slow")
