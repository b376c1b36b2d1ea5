"""reportlake: broker research reports into a validated, hive-partitioned Parquet lake.

This package is Prefect-free: ``flows/`` and ``tasks/`` adapt it to Prefect.
"""

import os

__version__ = "0.1.0"

# Read when pyarrow is first imported. The system allocator gives a commit's buffers back to
# the OS once they are freed; pyarrow's default (mimalloc) keeps them, and a 500-report commit
# left the flow's process ~150 MB larger for the rest of the run.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
