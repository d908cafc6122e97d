"""Deterministic analyzers: pure functions from raw observations (objects, logs) to findings.

No I/O, no clock of their own (callers pass `now`), no LLM: the same input always gives the
same findings, which is what lets specialists cite them and tests pin them down.
"""
