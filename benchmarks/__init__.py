"""Benchmarks for jwt_middleware.

`python -m benchmarks.run` times the ASGI app in-process; `python -m benchmarks.e2e` drives uvicorn with wrk.

Plain scripts, not collected by pytest. See benchmarks/README.md.
"""
