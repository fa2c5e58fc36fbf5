"""A tiny DNS server for the lab internet: answers A queries for one name, logs who asked.

Why: a peer's `DNS =` must resolve through the tunnel (full tunnel) or beside it (split);
the source address each query arrived from is the proof (the hub's public address when
masqueraded). Run as: python dns_responder.py LISTEN NAME ADDRESS LOG. Standard library only.
"""

import socket
import struct
import sys

listen, name, answer, log = sys.argv[1], sys.argv[2].lower().rstrip("."), sys.argv[3], sys.argv[4]
A, IN = 1, 1


def question(packet: bytes) -> tuple[str, int, int, int]:
    """(name, type, class, end offset) of the first question (no compression in queries)."""
    labels, at = [], 12
    while packet[at]:
        length = packet[at]
        labels.append(packet[at + 1 : at + 1 + length].decode("ascii", "replace"))
        at += 1 + length
    qtype, qclass = struct.unpack("!HH", packet[at + 1 : at + 5])
    return ".".join(labels).lower(), qtype, qclass, at + 5


def reply(packet: bytes) -> bytes:
    ident, flags = struct.unpack("!HH", packet[:4])
    qname, qtype, qclass, end = question(packet)
    known = qname == name
    records = b""
    if known and qtype == A and qclass == IN:
        records = b"\xc0\x0c" + struct.pack("!HHIH", A, IN, 60, 4) + socket.inet_aton(answer)
    rcode = 0 if known else 3  # NXDOMAIN for every other name
    header = struct.pack("!HHHHHH", ident, 0x8400 | (flags & 0x0100) | rcode, 1, 1 if records else 0, 0, 0)
    return header + packet[12:end] + records


sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((listen, 53))
print(f"listening on {listen}:53 for {name}", flush=True)
while True:
    data, (source, _port) = sock.recvfrom(4096)
    try:
        out = reply(data)
    except (IndexError, struct.error, UnicodeError):
        continue
    with open(log, "a") as f:
        f.write(f"{source} {question(data)[0]}\n")
    sock.sendto(out, (source, _port))
