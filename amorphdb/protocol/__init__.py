"""The MPMorph melt-quench protocol with a universal ML potential (``docs/protocol.md`` has the numbers and the
reasons), MD only: it records its runs in a ledger and never imports the database or the analysis.

- :mod:`.settings`: :class:`~.settings.ProtocolSettings`, the presets, and the help the CLI builds its options from
  (standard library only, so ``amorphdb --help`` stays fast);
- :mod:`.eos`: Birch–Murnaghan P(V) and the zero-pressure volume;
- :mod:`.convergence`: the check tests (paper, statistical) and the stop rule of EOS and check runs;
- :mod:`.mpmorph`: the volume search (:func:`~.mpmorph.equilibrate`) and the melt-quench sequence of runs,
  each recorded through the :class:`~.mpmorph.RunLedger` protocol;
- :mod:`.results`: :class:`~.results.TemperatureResult`, :class:`~.results.ProtocolResult`.

:func:`amorphdb.workflows.melt_quench.run` (``amorphdb.run``) glues it to the analysis and the database.
Import from the submodules; this package module imports nothing.
"""
