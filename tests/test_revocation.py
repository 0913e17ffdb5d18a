"""Revocation through the middleware: an in-memory denylist, and one shared through a real Redis server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from jwt_middleware.revocation import MemoryDenylist, RedisDenylist

from .conftest import app_for, bearer, client_for, signer_for

pytestmark = pytest.mark.anyio

SIGNER = signer_for("HS256")


async def test_memory_denylist_refuses_a_revoked_jti_until_it_expires() -> None:
    denylist = MemoryDenylist()
    app = app_for(SIGNER, is_revoked=denylist)
    token = SIGNER.token(jti="session-1")
    async with client_for(app) as client:
        assert (await client.get("/", headers=bearer(token))).status_code == 200
        denylist.revoke("session-1", expires_at=time.time() + 60)
        refused = await client.get("/", headers=bearer(token))
        other = await client.get("/", headers=bearer(SIGNER.token(jti="session-2")))
        no_jti = await client.get("/", headers=bearer(SIGNER.token()))
    assert refused.status_code == 401
    assert refused.json()["code"] == "token_revoked"
    assert other.status_code == 200
    assert no_jti.status_code == 200


async def test_memory_denylist_forgets_entries_once_the_token_has_expired() -> None:
    denylist = MemoryDenylist(max_entries=2)
    denylist.revoke("old", expires_at=time.time() - 1)
    denylist.revoke("live", expires_at=time.time() + 60)
    assert len(denylist) == 1
    assert not await denylist({"jti": "old"})
    assert await denylist({"jti": "live"})
    denylist.revoke("live-2", expires_at=time.time() + 60)
    with pytest.raises(OverflowError, match="max_entries"):
        denylist.revoke("live-3", expires_at=time.time() + 60)
    with pytest.raises(ValueError, match="jti"):
        denylist.revoke("", expires_at=time.time() + 60)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (.ci/run installs it: apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[object]:
    redis = pytest.importorskip("redis.asyncio")
    client = redis.Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


async def test_redis_denylist_is_shared_by_every_instance(redis_client: object) -> None:
    # Two middleware instances (two "pods") share one Redis: a revocation through one is seen by the other.
    first, second = RedisDenylist(redis_client), RedisDenylist(redis_client)  # type: ignore[arg-type]
    token = SIGNER.token(jti="shared-1")
    async with client_for(app_for(SIGNER, is_revoked=first)) as a, client_for(app_for(SIGNER, is_revoked=second)) as b:
        assert (await b.get("/", headers=bearer(token))).status_code == 200
        await first.revoke("shared-1", expires_at=time.time() + 60)
        refused = await b.get("/", headers=bearer(token))
        assert (await a.get("/", headers=bearer(token))).status_code == 401
    assert refused.json()["code"] == "token_revoked"


async def test_redis_entries_expire_with_the_token(redis_client: object) -> None:
    denylist = RedisDenylist(redis_client, prefix="t:")  # type: ignore[arg-type]
    expires_at = time.time() + 30
    await denylist.revoke("ttl-1", expires_at=expires_at)
    await denylist.revoke("gone", expires_at=time.time() - 5)
    ttl = await redis_client.ttl("t:ttl-1")  # type: ignore[attr-defined]
    assert 0 < ttl <= 31
    assert await redis_client.exists("t:gone") == 0  # type: ignore[attr-defined]
    assert await denylist({"jti": "ttl-1"})
    assert not await denylist({"sub": "no-jti"})


async def test_redis_down_fails_closed() -> None:
    redis = pytest.importorskip("redis.asyncio")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe closes
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    try:
        async with client_for(app_for(SIGNER, is_revoked=RedisDenylist(client))) as http:
            response = await http.get("/", headers=bearer(SIGNER.token(jti="x")))
    finally:
        await client.aclose()
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_a_jti_revoked_again_for_longer_stays_revoked_when_its_first_expiry_passes() -> None:
    denylist = MemoryDenylist()
    now = time.time()
    denylist.revoke("j-1", expires_at=now + 0.01)
    denylist.revoke("j-1", expires_at=now + 3600)  # the later expiry wins
    time.sleep(0.02)
    assert len(denylist) == 1  # the heap's first entry for j-1 expired, and was skipped


async def test_redis_revoke_refuses_an_empty_jti(redis_client: object) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        await RedisDenylist(redis_client).revoke("", expires_at=time.time() + 60)  # type: ignore[arg-type]
