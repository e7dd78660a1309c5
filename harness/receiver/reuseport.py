"""Several receiver processes on one port (`SO_REUSEPORT`), and which process a client reaches.

One Python process serves one event loop on one core; a herd needs more. With `SO_REUSEPORT`
every process binds the same address and listens on a socket of its own, and the kernel hands
each new connection to one of them. By default it picks by a hash of the connection's four
addresses and ports (`connection` balance), so one client's sessions land on every process.

That would change what a plan means. The plan's state lives in each process's own `Decider`:
per-client session counts (`client_sessions_above`), a message's attempts, the greylist. A
client with three sessions spread over two processes is seen by each as having one or two. So
the `client` balance (the default) attaches a classic BPF program to the port's reuseport group
that picks the process from the client's address: every session of one client reaches the same
process, and the per-client state is whole there. The program reads the source address from the
SYN's network header (`SKF_NET_OFF`) and returns `address mod N`; an index past the group's size
(a process that died) makes the kernel fall back to its hash.

What stays per process either way: `sessions_above` (all open sessions of the receiver) cannot
be split, so a group refuses a plan that uses it; under `connection` balance the per-client and
per-message conditions cannot either.
"""

from __future__ import annotations

import ctypes
import socket
import struct
from dataclasses import dataclass
from typing import Literal, get_args

from harness.errors import ListenError
from harness.receiver.plan import FaultPlan

Balance = Literal["client", "connection"]
BALANCES: tuple[Balance, ...] = get_args(Balance)

#: Linux's SO_ATTACH_REUSEPORT_CBPF (asm-generic/socket.h); Python's socket module lacks it.
_SO_ATTACH_REUSEPORT_CBPF = 51
#: classic BPF's offset base for the network header (linux/filter.h SKF_NET_OFF = -0x100000)
_SKF_NET_OFF = -0x100000
#: where the source address's (last) 32 bits sit in an IPv4 and an IPv6 header
_SOURCE_OFFSET = {socket.AF_INET: 12, socket.AF_INET6: 8 + 12}
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS: A = 32-bit word at k
_ALU_MOD_K = 0x94  # BPF_ALU | BPF_MOD | BPF_K: A = A % k
_RET_A = 0x16  # BPF_RET | BPF_A: return A


@dataclass(frozen=True)
class GroupMembership:
    """This process is `member` (0-based) of `processes` receiver processes sharing the ports."""

    member: int
    processes: int
    balance: Balance = "client"

    def __post_init__(self) -> None:
        if self.processes < 1 or not 0 <= self.member < self.processes:
            raise ListenError(f"process {self.member} of {self.processes} does not exist")
        if self.balance not in BALANCES:
            raise ListenError(f"balance {self.balance!r} is not one of {', '.join(BALANCES)}")

    @classmethod
    def parse(cls, text: str, balance: Balance = "client") -> GroupMembership:
        """`I/N`: member I (0-based) of N processes."""
        member, slash, processes = text.partition("/")
        if not slash or not member.isdigit() or not processes.isdigit():
            raise ListenError(f"group membership {text!r} is not I/N (e.g. 0/2)")
        return cls(int(member), int(processes), balance)

    @property
    def stream_salt(self) -> str:
        """What makes this process's random draws differ from its neighbours' (same seed)."""
        return f"/process{self.member}" if self.processes > 1 else ""


def enable_reuse_port(sock: socket.socket) -> None:
    """Let other sockets of this user bind the same address (before `bind`)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)


def steer_by_client_address(sock: socket.socket, processes: int) -> None:
    """Make the port's reuseport group pick the socket by the client's address (after `listen`).

    Every member attaches the same program; the last one attached is the group's, which is
    the same program.
    """
    offset = _SOURCE_OFFSET.get(sock.family)
    if offset is None:
        raise ListenError(f"cannot steer connections of address family {sock.family!r}")
    program = [
        (_LD_W_ABS, 0, 0, (_SKF_NET_OFF + offset) & 0xFFFFFFFF),
        (_ALU_MOD_K, 0, 0, processes),
        (_RET_A, 0, 0, 0),
    ]
    instructions = ctypes.create_string_buffer(
        b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    )
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; } on a 64-bit ABI
    fprog = struct.pack("HxxxxxxQ", len(program), ctypes.addressof(instructions))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_REUSEPORT_CBPF, fprog)
    except OSError as error:
        raise ListenError(
            f"cannot steer clients to receiver processes by address ({error.strerror}); "
            "use --balance connection if the plan keeps no per-client state"
        ) from None


def group_problems(plan: FaultPlan, balance: Balance) -> list[str]:
    """The plan's conditions whose state a group of processes with `balance` would split."""
    problems: list[str] = []
    for rule in plan.rules:
        match = rule.match
        split = ["sessions_above"] if match.sessions_above is not None else []
        if balance == "connection":
            split += [
                name
                for name in ("client_sessions_above", "message_attempt", "pair_attempt", "greylist")
                if getattr(match, name) is not None
            ]
        problems += [f"rule {rule.index + 1} '{rule.name}' uses {name}" for name in split]
    return problems
