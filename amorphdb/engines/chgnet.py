"""CHGNet (the default engine): the pretrained weights ship in the ``chgnet`` wheel; covers the 89 elements of its
training set MPtrj, Z = 1…94 without Po, At, Rn, Fr and Ra."""

from __future__ import annotations

from .base import Potential, package_version, torch_device


def load_chgnet(device: str | None = None) -> Potential:
    """CHGNet's pretrained model as a :class:`Potential` on ``device`` (default: the GPU when torch sees one)."""
    dev = torch_device(device)
    from ase.data import chemical_symbols
    from chgnet.model.dynamics import CHGNetCalculator

    calc = CHGNetCalculator(use_device=dev, on_isolated_atoms="ignore")
    n_el = calc.model.atom_embedding.embedding.num_embeddings  # elements 1..94
    model_version = getattr(calc.model, "version", None) or "?"
    return Potential("chgnet", f"{package_version('chgnet')} (model {model_version})", calc,
                     frozenset(chemical_symbols[1:n_el + 1]) - NOT_TRAINED, dev)


#: in the embedding table but not in MPtrj: their embeddings kept their initial values (norm 7.5–8.7 against
#: 22–32 for their neighbours Tl–Bi and Ac–Pu in CHGNet 0.3.0) and their atomic reference energies are ~0
NOT_TRAINED = frozenset({"Po", "At", "Rn", "Fr", "Ra"})
