"""Measuring: plan a run, spawn a worker per case, watch it from outside, and write records.

Kept empty on purpose: `python -m harness.run.worker` imports this first, before it has
started watching its lifeline to the harness.
"""
