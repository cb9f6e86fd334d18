"""Load balancer configuration, runtime statistics, listeners file and reuseport helpers."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from hakube.apiserver.listeners_file import (
    ListenerError,
    ListenerSpec,
    parse_address,
    read_spec,
    write_spec,
)
from hakube.apiserver.reuseport import _proc_address, listening_sockets, reuseport_listener, steer
from hakube.cluster.pki import create_ca
from hakube.lb.config import WEIGHT, Backend, LBSettings, render_config, server_options
from hakube.lb.runtime import RuntimeAPIError, parse_show_stat
from hakube.testing import free_loopback_ip


def settings(tmp_path: Path) -> LBSettings:
    return LBSettings(external_ip="127.0.0.9", ca_file=tmp_path / "ca.crt", run_dir=tmp_path / "lb")


def test_config_checks_readyz_over_verified_tls(tmp_path: Path) -> None:
    cfg = render_config(settings(tmp_path), [Backend("r-1", "127.0.0.10"), Backend("r-2", "127.0.0.11")])
    lines = [line.strip() for line in cfg.splitlines()]
    assert "master-worker" in lines
    assert f"stats socket {tmp_path}/lb/admin.sock mode 600 level admin expose-fd listeners" in lines
    assert "bind 127.0.0.9:6443" in lines and "mode tcp" in lines
    assert "option httpchk GET /readyz" in lines and "http-check expect status 200" in lines
    assert "retries 3" in lines and "option redispatch" in lines
    for timeout in ("client", "server", "tunnel"):
        assert f"timeout {timeout} 3600s" in lines
    server = next(line for line in lines if line.startswith("server r-1 "))
    assert server.startswith(f"server r-1 127.0.0.10:6443 weight {WEIGHT} check check-ssl verify required ca-file ")
    for option in ("inter 250ms", "fall 2", "rise 2", "slowstart 5s", "on-marked-down shutdown-sessions"):
        assert option in server
    assert "source 127.0.0.9" in lines
    assert "agent-check" not in cfg  # no agent port configured, no agent checks


def test_servers_ask_the_api_servers_agent_for_a_weight(tmp_path: Path) -> None:
    s = LBSettings(external_ip="127.0.0.9", ca_file=tmp_path / "ca.crt", run_dir=tmp_path / "lb", agent_port=6444)
    assert server_options(s).startswith(f"weight {WEIGHT} check ")
    assert server_options(s).endswith(" agent-check agent-port 6444 agent-inter 100ms")
    with pytest.raises(ValueError, match="agent port"):
        LBSettings(external_ip="127.0.0.9", ca_file=tmp_path / "ca.crt", run_dir=tmp_path / "lb", agent_port=70000)


@pytest.mark.skipif(shutil.which("haproxy", path="/usr/sbin:/usr/bin:/sbin:/bin") is None,
                    reason="haproxy is not installed")
def test_haproxy_accepts_the_config(tmp_path: Path) -> None:
    s = LBSettings(external_ip="127.0.0.9", ca_file=tmp_path / "ca.crt", run_dir=tmp_path / "lb", agent_port=6444)
    s.run_dir.mkdir()
    s.ca_file.write_bytes(create_ca("test-ca").cert_pem)
    s.config_file.write_text(render_config(s, [Backend("r-1", "127.0.0.10")]))
    haproxy = shutil.which("haproxy", path="/usr/sbin:/usr/bin:/sbin:/bin")
    assert haproxy is not None
    check = subprocess.run([haproxy, "-c", "-f", str(s.config_file)], capture_output=True, text=True,
                           timeout=30, check=False)
    assert check.returncode == 0, check.stderr


def test_settings_and_backends_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="backend name"):
        Backend("bad name", "127.0.0.1")
    with pytest.raises(ValueError):
        Backend("r", "not-an-ip")
    with pytest.raises(ValueError, match="duplicate"):
        render_config(settings(tmp_path), [Backend("r", "127.0.0.1"), Backend("r", "127.0.0.2")])
    with pytest.raises(ValueError, match="too long for a Unix socket"):
        LBSettings(external_ip="127.0.0.9", ca_file=tmp_path / "ca", run_dir=tmp_path / ("d" * 120))


SHOW_STAT = """\
# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,\
act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,\
check_status,check_code,check_duration,addr,
kube-apiserver,FRONTEND,,,3,3,8000,12,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,0,,,,,
kube-apiservers,r-1,0,0,2,2,,9,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,42,0,,1,3,1,,9,,2,0,,0,L7OK,200,2,127.0.0.10:6443,
kube-apiservers,r-2,0,0,1,1,,3,0,0,,0,,0,0,0,0,DOWN,1,1,0,3,1,1,1,,1,3,2,,3,,2,0,,0,* L6TOUT,,501,127.0.0.11:6443,
kube-apiservers,BACKEND,0,0,3,3,800,12,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,42,0,,1,3,0,,12,,1,0,,0,,,,,
"""


def test_show_stat_is_parsed() -> None:
    stats = parse_show_stat(SHOW_STAT, frontend="kube-apiserver", backend="kube-apiservers")
    assert (stats.frontend_status, stats.frontend_sessions) == ("OPEN", 3)
    r1, r2 = stats.servers
    assert (r1.server, r1.address, r1.status, r1.check_status, r1.check_code) == (
        "r-1", "127.0.0.10:6443", "UP", "L7OK", "200")
    assert (r1.current_sessions, r1.total_sessions, r1.last_change_s, r1.up) == (2, 9, 42, True)
    assert (r2.status, r2.check_status, r2.check_duration_ms, r2.up) == ("DOWN", "L6TOUT", 501, False)
    assert stats.server("r-2") is r2 and stats.server("nope") is None
    with pytest.raises(RuntimeAPIError):
        parse_show_stat("Unknown command.\n", frontend="f", backend="b")


def test_listeners_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "listeners.json"
    assert read_spec(path) == ListenerSpec()
    spec = ListenerSpec(generation=3, listen=("127.0.0.9:6443", "[::1]:6443"), drain_peers=("127.0.0.9",))
    write_spec(path, spec)
    assert read_spec(path) == spec
    assert parse_address("[::1]:6443") == ("::1", 6443)
    for bad in ("localhost:6443", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:x"):
        with pytest.raises(ListenerError):
            parse_address(bad)
    with pytest.raises(ListenerError):
        ListenerSpec(drain_peers=("somewhere",))
    path.write_text("{not json")
    with pytest.raises(ListenerError):
        read_spec(path)


def test_proc_addresses_are_decoded() -> None:
    # /proc/net/tcp prints the address words in host byte order (little-endian here).
    assert _proc_address("0900007F", 4) == "127.0.0.9"
    assert _proc_address("00000000000000000000000001000000", 6) == "::1"


def test_steering_sends_every_connection_to_the_chosen_socket() -> None:
    ip = free_loopback_ip((0,))
    first = reuseport_listener(ip, 0, backlog=64)
    port = first.getsockname()[1]
    second = reuseport_listener(ip, port, backlog=64)
    try:
        assert listening_sockets(ip, port) == 2
        for index, chosen in ((1, second), (0, first)):
            steer(first, index)
            clients = [socket.create_connection((ip, port), timeout=2) for _ in range(20)]
            accepted = 0
            for _ in range(20):
                try:
                    conn, _ = chosen.accept()
                except BlockingIOError:
                    break
                conn.close()
                accepted += 1
            for c in clients:
                c.close()
            assert accepted == 20
    finally:
        first.close()
        second.close()
    assert listening_sockets(ip, port) == 0
