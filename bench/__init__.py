"""Benchmarks: figures printed against their targets, never asserted in tests."""
