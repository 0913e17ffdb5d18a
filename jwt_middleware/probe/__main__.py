"""`python -m jwt_middleware.probe ...`, the same as the `jwt-probe` console script."""

from __future__ import annotations

from jwt_middleware.probe.cli import main

__all__: list[str] = []

raise SystemExit(main())
