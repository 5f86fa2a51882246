"""Benchmarks of nb201_flat against the tools people use today (``python -m benchmarks.run``).

Every group times our implementation and a faithful baseline in the same process run, on the
same machine, checks that both compute the same numbers, and reports one row per operation.
"""
