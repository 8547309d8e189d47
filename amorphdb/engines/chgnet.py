"""CHGNet (the default engine): the pretrained weights ship in the ``chgnet`` wheel; covers the 89 elements of its
training set MPtrj, Z = 1…94 without Po, At, Rn, Fr and Ra. Imported only when the engine is asked for
(:func:`amorphdb.engines.load_engine`), so torch and CHGNet load here at the top.

Our own piece, and why: CHGNet's ASE calculator takes forces and stress as two separate gradients of the energy,
each keeping the graph for a later training loss (``create_graph=True``). MD needs neither: one gradient with
respect to positions and strain together gives both, at about half the cost. :class:`CHGNetInference` does that
with CHGNet's own model, graph converter and batching; its energies, forces and stresses are CHGNet's to float32
precision (``tests/engines/test_engines.py``; timings: ``benchmarks/bench_chgnet_calculator.py``,
docs/protocol.md).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from ase.calculators.calculator import Calculator, all_changes
from ase.data import chemical_symbols
from chgnet.model.dynamics import CHGNetCalculator
from chgnet.model.model import BatchedGraph
from pymatgen.io.ase import AseAtomsAdaptor

from .base import Potential, package_version, torch_device

#: CHGNet's stress unit: eV/Å³ → GPa (as its model converts)
GPA_PER_EV_A3 = 160.21766208

#: in the embedding table but not in MPtrj: their embeddings kept their initial values (norm 7.5–8.7 against
#: 22–32 for their neighbours Tl–Bi and Ac–Pu in CHGNet 0.3.0) and their atomic reference energies are ~0
NOT_TRAINED = frozenset({"Po", "At", "Rn", "Fr", "Ra"})


class CHGNetInference(CHGNetCalculator):
    """CHGNet's calculator whose energy (eV), forces (eV/Å) and stress (eV/Å³, 3×3 as CHGNet gives it) come from
    one forward and one backward pass; no magnetic moments or crystal features."""

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def calculate(self, atoms: Any = None, properties: Any = None, system_changes: Any = all_changes,
                  task: str = "efs") -> None:
        Calculator.calculate(self, atoms, properties, system_changes)
        model = self.model
        graph = model.graph_converter(AseAtomsAdaptor.get_structure(self.atoms)).to(self.device)
        with warnings.catch_warnings():  # CHGNet takes the strained cell's volume as a constant, as its calculator
            warnings.filterwarnings("ignore", "Converting a tensor with requires_grad", UserWarning)
            batch = BatchedGraph.from_graphs([graph], bond_basis_expansion=model.bond_basis_expansion,
                                             angle_basis_expansion=model.angle_basis_expansion, compute_stress=True)
        n = len(self.atoms) if model.is_intensive else 1  # an intensive model predicts eV/atom
        energy = model._compute(batch)["e"] * n  # eV; the composition model's part: no gradient
        positions, strain = torch.autograd.grad(energy.sum(), [batch.atom_positions[0], batch.strains[0]])
        if model.composition_model is not None:
            energy = energy + model.composition_model([graph]) * n
        stress = strain / batch.volumes[0] * GPA_PER_EV_A3 * self.stress_weight  # GPa → the calculator's eV/Å³
        self.results = {"energy": float(energy.sum()), "free_energy": float(energy.sum()),
                        "forces": -positions.detach().cpu().numpy(), "stress": stress.detach().cpu().numpy()}


def load_chgnet(device: str | None = None) -> Potential:
    """CHGNet's pretrained model as a :class:`Potential` on ``device`` (default: the GPU when torch sees one)."""
    dev = torch_device(device)
    calc = CHGNetInference(use_device=dev, on_isolated_atoms="ignore")
    calc.model.eval()
    n_el = calc.model.atom_embedding.embedding.num_embeddings  # elements 1..94
    model_version = getattr(calc.model, "version", None) or "?"
    return Potential("chgnet", f"{package_version('chgnet')} (model {model_version})", calc,
                     frozenset(chemical_symbols[1:n_el + 1]) - NOT_TRAINED, dev)
