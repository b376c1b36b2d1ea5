"""Benchmarks of the ingest pipeline against hand-written baselines (``make bench``)."""
