"""Tests of the herd load test: the curve, the Locust runs, `herd run` and `bench load`."""
