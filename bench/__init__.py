"""Benchmarks of the portal against a bare Starlette + Jinja page; never run as tests."""
