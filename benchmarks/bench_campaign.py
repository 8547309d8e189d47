"""Campaign throughput with 1 and 2 workers, the scheduler's overhead, and a scaling estimate for the published table.

1. **Throughput (measured).** The same campaign (default: LiAlO2 and KLi8Si of the published table, the quick
   preset, CHGNet on the CPU) with 1 and then with 2 worker processes, each into a fresh SQLite database and
   work directory: compositions per hour and their ratio. The machine's load average is printed with them.
2. **Overhead (measured).** Each campaign's wall time against the sum of its tasks' MD wall times:
   ``W × wall / Σ MD − 1`` for W workers (for W > 1 it includes the workers waiting for a melt). Worker start-up
   (imports, loading the potential) is inside the wall time.
3. **Per-step time (measured)** of the potential at the paper's cell (Li3PS4, 104 atoms) on one core: wall and
   CPU time of a short ``run_nvt`` (CPU time is what an idle core would take when the machine is shared).
4. **Scaling (estimated, not measured).** The whole published table (165 compositions) at the paper preset on
   N nodes × M cores: tasks of ``steps × time per step`` (the melt, then 4 quench tasks; steps per task: 3 EOS
   runs + ``--checks`` check runs + production), scheduled greedily on N × M single-threaded workers as Dask
   does (ready tasks first, a composition's later tasks first).

Run by hand (minutes to hours, depending on the arguments):

    OMP_NUM_THREADS=1 python benchmarks/bench_campaign.py [--formulas LiAlO2 KLi8Si] [--workers 1 2]
        [--temperatures 1500 2500] [--engine chgnet] [--skip-campaigns] [--nodes 1 4 16] [--cores 32]
    # the scheduler's overhead with a cheap potential on tiny cells (what docs/campaign.md reports):
    OMP_NUM_THREADS=1 python benchmarks/bench_campaign.py --formulas Cu Ag Ni Au --temperatures 1400 1200 \
        --campaign-engine ase.calculators.emt:EMT --set atoms=8 melt_temperature=2000 volume_steps=40 \
        check_steps=40 production_steps=400 frame_interval=5 checkpoint_interval=20 energy_tolerance=0.05 \
        pressure_tolerance=1000000
"""

from __future__ import annotations

import argparse
import heapq
import os
import tempfile
import time
from pathlib import Path

from amorphdb.composition import scale_composition
from amorphdb.engines import load_engine
from amorphdb.md.runner import run_nvt
from amorphdb.protocol.settings import PRESETS, setting_info
from amorphdb.structure import pack
from amorphdb.workflows.campaign import paper_formulas, run_campaign


def campaign(formulas: list[str], workers: int, args: argparse.Namespace) -> dict[str, float]:
    """One campaign into a fresh database: wall time, Σ MD and Σ CPU of its tasks (s), compositions done per
    hour."""
    with tempfile.TemporaryDirectory(prefix="bench-campaign-") as tmp:
        load = os.getloadavg()[0]
        result = run_campaign(formulas, name=f"bench-{workers}", engine=args.campaign_engine or args.engine,
                              device="cpu", db=Path(tmp) / "db.sqlite", workdir=Path(tmp) / "work",
                              workers=workers, preset="quick", temperatures=args.temperatures, progress=False,
                              **dict(args.set))
    print(result.summary())
    wall = result.wall_seconds
    return {"workers": workers, "wall": wall, "md": result.md_seconds,
            "task": sum(o.seconds for o in result.outcomes),
            "cpu": sum(o.cpu_seconds for o in result.outcomes),
            "per_hour": (len(formulas) - len(result.failed)) / wall * 3600,
            "overhead": workers * wall / result.md_seconds - 1, "load": (load + os.getloadavg()[0]) / 2,
            "outside": workers * wall / sum(o.seconds for o in result.outcomes) - 1}


def step_time(engine: str, steps: int) -> tuple[float, float]:
    """(wall, CPU) seconds per MD step of ``engine`` on Li3PS4 at the paper's cell size, one thread."""
    composition = scale_composition("Li3PS4", PRESETS["paper"].atoms, mode="ceil")
    atoms = pack(composition)
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(atoms)
    calc = load_engine(engine, device="cpu").calculator
    with tempfile.TemporaryDirectory(prefix="bench-step-") as tmp:
        run_nvt(atoms, calc, temperature=2000.0, n_steps=2, path=Path(tmp) / "warm.traj", progress=False)
        wall, cpu = time.perf_counter(), time.process_time()
        run_nvt(atoms, calc, temperature=2000.0, n_steps=steps, path=Path(tmp) / "run.traj", progress=False)
        return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def schedule(n_compositions: int, melt_steps: int, quench_steps: int, n_quench: int, workers: int,
             seconds_per_step: float) -> float:
    """Wall time (s) of the campaign's task graph on ``workers`` workers, scheduled as Dask does: a free worker
    takes a ready quench task first (the campaign's priorities), else the next melt; each composition is a
    melt, then ``n_quench`` independent quench tasks (the fit is negligible)."""
    free = [0.0] * workers  # when each worker is next free
    quenches: list[float] = []  # when each waiting quench task became ready
    melts, end = n_compositions, 0.0
    while melts or quenches:
        now = heapq.heappop(free)
        if quenches and (quenches[0] <= now or not melts):
            finish = max(now, heapq.heappop(quenches)) + quench_steps * seconds_per_step
        else:
            melts -= 1
            finish = now + melt_steps * seconds_per_step
            for _ in range(n_quench):
                heapq.heappush(quenches, finish)
        heapq.heappush(free, finish)
        end = max(end, finish)
    return end


def setting(text: str) -> tuple[str, float]:
    """``NAME=VALUE`` of a numeric ProtocolSettings field (the type is the field's)."""
    name, _, value = text.partition("=")
    kinds = {info.name: info.kind for info in setting_info() if not info.many and info.kind in (int, float)}
    if name not in kinds:
        raise argparse.ArgumentTypeError(f"not a numeric setting: {name!r} (one of {', '.join(kinds)})")
    return name, kinds[name](value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formulas", nargs="+", default=["LiAlO2", "KLi8Si"], help="(two of the published table)")
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--temperatures", nargs="+", type=float, default=None, help="default: the preset's")
    parser.add_argument("--engine", default="chgnet")
    parser.add_argument("--campaign-engine", default=None, help="the campaigns' engine (default: --engine)")
    parser.add_argument("--set", nargs="*", type=setting, default=[], metavar="NAME=VALUE",
                        help="settings over the quick preset, e.g. atoms=8 production_steps=200")
    parser.add_argument("--skip-campaigns", action="store_true", help="only the per-step time and the estimate")
    parser.add_argument("--steps", type=int, default=10, help="MD steps timed for the per-step time")
    parser.add_argument("--checks", type=int, default=2, help="check runs per temperature in the estimate")
    parser.add_argument("--nodes", nargs="+", type=int, default=[1, 4, 16])
    parser.add_argument("--cores", type=int, default=32, help="cores per node")
    args = parser.parse_args()

    if not args.skip_campaigns:
        formulas = args.formulas
        rows = [campaign(formulas, w, args) for w in args.workers]
        print(f"campaign of {', '.join(formulas)}, quick preset {dict(args.set) or ''}, "
              f"{args.campaign_engine or args.engine} on CPU, temperatures "
              f"{args.temperatures or list(PRESETS['quick'].temperatures)} K")
        print(f"{'workers':>7} {'wall s':>8} {'sum MD s':>9} {'sum task s':>10} {'sum CPU s':>9} {'comp/h':>7} "
              f"{'overhead':>9} {'outside':>8} {'load':>5}")
        for r in rows:
            print(f"{r['workers']:>7} {r['wall']:>8.0f} {r['md']:>9.0f} {r['task']:>10.0f} {r['cpu']:>9.0f} "
                  f"{r['per_hour']:>7.1f} {r['overhead']:>8.1%} {r['outside']:>8.1%} {r['load']:>5.1f}")
        print("overhead: W x wall / sum of MD times - 1; outside: W x wall / sum of task times - 1 (Dask, worker "
              "start-up, idle workers; the analysis and database writes are inside the tasks)")
        if len(rows) > 1:
            print(f"throughput ratio {rows[-1]['workers']} vs {rows[0]['workers']} workers: "
                  f"{rows[-1]['per_hour'] / rows[0]['per_hour']:.2f}")

    wall, cpu = step_time(args.engine, args.steps)
    print(f"\n{args.engine} per step, Li3PS4 104 atoms, one thread: {wall:.3f} s wall, {cpu:.3f} s CPU "
          f"(load {os.getloadavg()[0]:.1f})")
    paper = PRESETS["paper"]
    chain = 3 * paper.volume_steps + args.checks * paper.check_steps + paper.production_steps
    n_comp, n_quench = len(paper_formulas()), len(paper.temperatures)
    total = n_comp * (1 + n_quench) * chain
    print(f"estimate (not measured): {n_comp} compositions x {1 + n_quench} tasks x {chain} steps = {total:.3g} steps "
          f"at {cpu:.3f} s per step per core = {total * cpu / 3600:.0f} core-hours")
    print(f"{'nodes':>5} {'cores':>5} {'workers':>7} {'wall h':>7} {'days':>6}")
    for n in args.nodes:
        hours = schedule(n_comp, chain, chain, n_quench, n * args.cores, cpu) / 3600
        print(f"{n:>5} {args.cores:>5} {n * args.cores:>7} {hours:>7.1f} {hours / 24:>6.2f}")


if __name__ == "__main__":
    main()
