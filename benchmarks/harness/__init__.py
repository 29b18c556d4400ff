"""Benchmark harness for Switchboard: servers, the wsbench load generator, results, report.

Entry point: ``benchmarks/run.py``. Everything here uses the standard library only and talks
to 127.0.0.1 exclusively.
"""
