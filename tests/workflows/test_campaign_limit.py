"""The opt-in amorphous-limit task of a campaign (``--amorphous-limit``): EMT Cu in an 8-atom cell on a real
Dask LocalCluster, stored as the amorphous-limit workflow stores it and shown by ``campaign status``; settings
that cannot fit the production run, or an element without a reference, refused before any MD."""

from __future__ import annotations

import pytest

from amorphdb import Database
from amorphdb.errors import InputError
from amorphdb.workflows.campaign import LimitSettings, campaign_status, run_campaign, task_list

EMT_SPEC = "ase.calculators.emt:EMT"
# 8 Cu atoms, production runs of 400 steps x 2 fs = 0.8 ps, a frame every 10 fs
TINY = dict(atoms=8, melt_temperature=2000.0, temperatures=[1400.0, 1200.0], volume_steps=40, check_steps=40,
            production_steps=400, frame_interval=5, checkpoint_interval=20, energy_tolerance=0.05,
            pressure_tolerance=1e6)
LIMIT = LimitSettings(snapshots=3, spacing_ps=0.2, fmax=0.05, max_steps=300)


def test_limit_task_follows_the_fit_only_when_asked():
    from amorphdb.protocol.settings import settings_for

    settings = settings_for("quick", **TINY)
    assert [t for _, t, _ in task_list(["Cu"], settings)] == ["melt", "T1400", "T1200", "fit"]
    assert task_list(["Cu"], settings, limit=True)[-1] == ("Cu", "limit", None)


@pytest.mark.parametrize("limit, message", [
    (LimitSettings(snapshots=3, spacing_ps=0.015), "a limit spacing of 0.015 ps is not a whole number of frames"),
    (LimitSettings(snapshots=10, spacing_ps=0.2),
     "10 limit snapshots 0.2 ps apart need 1.8 ps; a production run is 0.8 ps"),
    (LimitSettings(snapshots=0), "limit snapshots must be at least 1"),
])
def test_bad_limit_settings_are_refused_before_any_md(tmp_path, limit, message):
    with pytest.raises(InputError, match=message):
        run_campaign(["Cu"], engine=EMT_SPEC, db=tmp_path / "db.sqlite", workdir=tmp_path / "work", progress=False,
                     amorphous_limit=limit, **TINY)
    with pytest.raises(InputError, match="no reference structure for S"):  # sulfur needs a reference file
        run_campaign(["Cu2S"], engine=EMT_SPEC, db=tmp_path / "db.sqlite", workdir=tmp_path / "work",
                     progress=False, amorphous_limit=LIMIT, **TINY)
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


@pytest.mark.slow  # about 30 s on a loaded machine: a LocalCluster, the MD of one composition, 3 relaxations
def test_campaign_stores_the_amorphous_limit_of_the_coldest_quench(tmp_path):
    kwargs = dict(engine=EMT_SPEC, db=tmp_path / "db.sqlite", workdir=tmp_path / "work", workers=1, progress=False,
                  amorphous_limit=LIMIT, **TINY)
    result = run_campaign(["Cu"], **kwargs)
    assert result.exit_status == 0, result.summary()
    assert [o.task for o in result.outcomes] == ["melt", "T1400", "T1200", "fit", "limit"]
    with Database(kwargs["db"]) as db:
        (limit,) = db.amorphous_limits("Cu")
        production = next(r for r in db.show("Cu").runs if r.stage == "production" and r.temperature == 1200.0)
        assert (limit.status, limit.source, limit.engine, limit.run_id, limit.temperature) == (
            "done", "mlip-emt", "emt", production.id, 1200.0)
        assert [r.status for r in limit.relaxations] == ["done"] * 3
        # fcc is EMT's ground state of Cu: no relaxed snapshot lies below it (beyond the relaxations' tolerance);
        # 8 atoms at 1200 K may order into fcc, so the lowest may be at the ground state, the rest above
        assert -5e-3 < limit.limit <= limit.mean < 0.3
        assert limit.limit == min(r.formation_energy for r in limit.relaxations)
    status = campaign_status(db=kwargs["db"])
    (task,) = [t for t in status.tasks if t.task == "limit"]
    assert task.state == "done" and task.detail.endswith("eV/atom (3 snapshots at 1200 K)")
    assert "limit" in status.table()
    again = run_campaign(["Cu"], **kwargs)  # a rerun redoes nothing: the limit task stays done
    assert again.md_seconds == 0 and [o.status for o in again.outcomes] == ["done"] * 5
    with Database(kwargs["db"]) as db:
        assert len(db.amorphous_limits("Cu")) == 1
