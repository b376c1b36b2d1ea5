"""Thin Prefect task adapters over the ``reportlake`` domain package."""
