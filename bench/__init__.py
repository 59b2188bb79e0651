"""Runnable benchmarks that print figures and ratios: `python -m bench.<name>`."""
