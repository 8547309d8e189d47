"""Workflows: the jobs that combine the layers below (protocol, analysis, database, learning).

- :mod:`.melt_quench`: ``amorphdb.run``, the melt-quench protocol with analysis, all into the database;
- :mod:`.predict`: ``amorphdb.predict_formula``, the fast route for a new composition.

Import from the submodules; this package module imports nothing.
"""
