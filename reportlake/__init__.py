"""reportlake: broker research reports into a validated, hive-partitioned Parquet lake.

This package is Prefect-free: ``flows/`` and ``tasks/`` adapt it to Prefect.
"""

__version__ = "0.1.0"
