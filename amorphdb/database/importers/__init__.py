"""Importers of published data sets into the database (one module per source)."""
