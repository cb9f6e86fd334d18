"""The load balancer agent: the weight an API server asks for, and the one-line answer HAProxy reads."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from hakube.apiserver.__main__ import port_number
from hakube.apiserver.app import ETCD_READY_GRACE
from hakube.apiserver.lbagent import DOWN, DOWN_AFTER, FULL, SHED, SHED_AFTER, AgentServer, answer
from hakube.testing import free_loopback_ip


def test_full_weight_while_etcd_answers() -> None:
    assert answer(etcd_silent_for=0.0, shutting_down=False) == FULL == "up 100%"
    assert answer(etcd_silent_for=SHED_AFTER - 0.01, shutting_down=False) == FULL


def test_sheds_when_etcd_is_silent_never_answered_or_shutting_down() -> None:
    assert answer(etcd_silent_for=SHED_AFTER, shutting_down=False) == SHED == "up 1%"
    assert answer(etcd_silent_for=DOWN_AFTER - 0.01, shutting_down=False) == SHED
    assert answer(etcd_silent_for=None, shutting_down=False) == SHED
    assert answer(etcd_silent_for=0.0, shutting_down=True) == SHED


def test_down_before_readyz_fails() -> None:
    assert answer(etcd_silent_for=DOWN_AFTER, shutting_down=False) == DOWN == "down"
    assert answer(etcd_silent_for=60.0, shutting_down=True) == DOWN
    # The load balancer hears "down" (agent checks every 100 ms) before /readyz would answer 500.
    assert SHED_AFTER < DOWN_AFTER <= ETCD_READY_GRACE - 0.25


async def _read(host: str, port: int) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


@pytest.mark.asyncio
async def test_agent_answers_each_connection_with_the_current_answer_and_closes() -> None:
    host = free_loopback_ip((6444,))
    current = [FULL]
    agent = AgentServer(host, 6444, lambda: current[0])
    await agent.start()
    try:
        assert await _read(host, 6444) == b"up 100%\n"  # read() returning means the agent closed
        current[0] = SHED
        assert await _read(host, 6444) == b"up 1%\n"
    finally:
        await agent.close()
    with pytest.raises(OSError):
        await _read(host, 6444)


def test_agent_port_flag_takes_a_port_number_or_zero() -> None:
    assert port_number("0") == 0 and port_number("6444") == 6444
    for bad in ("x", "-1", "65536"):
        with pytest.raises(argparse.ArgumentTypeError):
            port_number(bad)
