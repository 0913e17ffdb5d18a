"""Test your app behind `JWTMiddleware`: a local issuer, its server, a pytest plugin and a forgery battery.

For tests only: the keys made here have their private halves in memory, and a middleware configured with one
logs a warning at start-up. Install with `pip install "jwt_middleware[testing]"`.

>>> from jwt_middleware.testing import LocalIssuer
>>> issuer = LocalIssuer(audience="orders-api")
>>> app.add_middleware(JWTMiddleware, algorithms=["RS256"], issuer=issuer.issuer, audience="orders-api",
...                    key=issuer.public_pem())
>>> client.get("/orders", headers=issuer.headers(scope="orders:read"))
"""

from __future__ import annotations

from .attacks import Forgery, forge, replay
from .issuer import LocalIssuer
from .keys import ALGORITHMS, IssuerKey, make_key
from .server import LocalServer

__all__ = ["ALGORITHMS", "Forgery", "IssuerKey", "LocalIssuer", "LocalServer", "forge", "make_key", "replay"]
