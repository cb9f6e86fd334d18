"""Writes in flight when etcd's leader changes are abandoned as indeterminate, never left hanging."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from hakube.store.errors import Indeterminate
from hakube.store.storage import Storage


def test_a_leader_change_abandons_writes_begun_before_it() -> None:
    async def run() -> None:
        store = Storage("127.0.0.1:1")
        started = asyncio.Event()

        async def hanging_call(*_args: Any, **_kwargs: Any) -> Any:
            started.set()
            await asyncio.Event().wait()  # a proposal lost with its leader: no answer, ever

        store._call = hanging_call  # type: ignore[method-assign]
        store._kv = SimpleNamespace(Txn=None)  # a stand-in stub: the call itself is replaced above
        store.note_leader(7)  # the first leader seen: nothing to abandon
        write = asyncio.create_task(store._txn([], [], []))
        await started.wait()
        store.note_leader(0)  # the member lost its leader
        with pytest.raises(Indeterminate):
            await asyncio.wait_for(write, 1.0)
        # A write begun under the new view is not touched by the same change.
        started.clear()
        later = asyncio.create_task(store._txn([], [], []))
        await started.wait()
        store.note_leader(0)
        await asyncio.sleep(0.05)
        assert not later.done()
        later.cancel()

    asyncio.run(run())
