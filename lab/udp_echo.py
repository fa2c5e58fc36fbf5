"""A UDP echo for the access checks: `serve ADDRESS PORT` answers each datagram with the sender's address;
`ask ADDRESS PORT` sends one and prints the answer (exit 0), or exits 1 after a second without one."""

import socket
import sys

mode, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ":" in address else socket.AF_INET
sock = socket.socket(family, socket.SOCK_DGRAM)
if mode == "serve":
    sock.bind((address, port))
    while True:
        data, sender = sock.recvfrom(2048)
        sock.sendto(sender[0].encode(), sender)
else:
    sock.settimeout(1.0)
    sock.connect((address, port))  # connected: an ICMP refusal (admin-prohibited) is an error at once, not a timeout
    for _ in range(2):  # one retry: the first datagram of a flow may meet a tunnel still handshaking
        try:
            sock.send(b"?")
            print(sock.recv(2048).decode())
            sys.exit(0)
        except TimeoutError:
            continue
        except OSError as exc:
            print(f"refused: {exc.strerror}")
            sys.exit(1)
    sys.exit(1)
