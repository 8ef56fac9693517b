"""Benchmarks a person runs (docs/benchmarks.md); not part of the test suite."""
