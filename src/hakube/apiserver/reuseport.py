"""Share a listening address between processes, and hand it over without a reset.

The external IP:port moves between an API server and the load balancer
(DESIGN.md §1). Both bind it with SO_REUSEPORT, so for a moment both listen;
the kernel then spreads new connections over the *group* of sockets bound to
that address. The danger is in leaving: a listening socket that closes resets
every connection still waiting in its accept queue (and every handshake in
flight towards it), unless net.ipv4.tcp_migrate_req=1 (Linux 5.14+) moves
them to another socket of the group — off by default, and per network
namespace.

So a leaving socket first *steers* new connections away: a one-instruction
classic BPF program attached with SO_ATTACH_REUSEPORT_CBPF (no eBPF, no
privileges) returns the index of the socket that gets every new connection.
The leaver keeps accepting for a grace period — handshakes already aimed at it
finish and are accepted — and closes an empty queue. The program belongs to
the group, not to a socket: whoever attaches last decides, and an index
outside the group falls back to the kernel's hash.

Indices are the order in which sockets joined the group; when one leaves,
the last one takes its place (net/core/sock_reuseport.c). With the two
members this module is used for, "me" is 0 when I was alone and 1 when I
joined someone, and becomes 0 again when I am alone.
"""

from __future__ import annotations

import ctypes
import ipaddress
import socket
import struct
from pathlib import Path

__all__ = ["listening_sockets", "migrate_req_enabled", "reuseport_listener", "steer"]

SO_ATTACH_REUSEPORT_CBPF = 51  # asm-generic/socket.h
_BPF_RET_K = 0x06  # BPF_RET | BPF_K: return the constant k
_TCP_LISTEN = 0x0A  # include/net/tcp_states.h


def steer(sock: socket.socket, index: int) -> None:
    """Send every new connection of `sock`'s reuseport group to the member at `index`."""
    if index < 0:
        raise ValueError(f"invalid reuseport index {index}")
    insn = (ctypes.c_ubyte * 8).from_buffer_copy(struct.pack("=HBBI", _BPF_RET_K, 0, 0, index))
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; }; the kernel copies the program.
    prog = struct.pack("=HxxxxxxQ", 1, ctypes.addressof(insn))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, prog)


def reuseport_listener(host: str, port: int, *, backlog: int) -> socket.socket:
    """A listening TCP socket on host:port that may share the address (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _proc_address(hex_addr: str, version: int) -> str:
    # /proc/net/tcp prints each 32-bit word of the address in host byte order.
    words = [int(hex_addr[i:i + 8], 16) for i in range(0, len(hex_addr), 8)]
    packed = struct.pack(f"={len(words)}I", *words)
    return str(ipaddress.ip_address(packed if version == 6 else packed[:4]))


def listening_sockets(host: str, port: int, *, proc: Path = Path("/proc/net")) -> int:
    """How many sockets listen on exactly host:port in this network namespace (the reuseport group)."""
    ip = ipaddress.ip_address(host)
    table = proc / ("tcp6" if ip.version == 6 else "tcp")
    count = 0
    with open(table, encoding="ascii") as f:
        next(f, None)  # header
        for line in f:
            fields = line.split()
            if len(fields) < 4 or int(fields[3], 16) != _TCP_LISTEN:
                continue
            addr, _, hex_port = fields[1].partition(":")
            if int(hex_port, 16) == port and _proc_address(addr, ip.version) == str(ip):
                count += 1
    return count


def migrate_req_enabled(*, proc: Path = Path("/proc/sys/net/ipv4")) -> bool:
    """net.ipv4.tcp_migrate_req: the kernel itself moves a closing listener's queue to the group."""
    try:
        return (proc / "tcp_migrate_req").read_text().strip() == "1"
    except OSError:
        return False
