"""Send one ICMPv6 router advertisement (RFC 4861 4.2) out of an interface: the VPC router's, as the gateway sees it.

Usage: router_advertisement.py IFNAME LIFETIME. No prefix option (EC2's addresses come from IMDS and DHCPv6,
not SLAAC): a host taking it learns only its default route, via the sender's link-local address.
"""

import socket
import struct
import sys

ifname, lifetime = sys.argv[1], int(sys.argv[2])
# type 134, code 0, checksum (the kernel fills it in), cur hop limit 64, no flags, router lifetime,
# reachable time and retrans timer unspecified
packet = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, lifetime, 0, 0)
with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as sock:
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex(ifname))
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)  # a receiver drops any other hop limit
    sock.sendto(packet, ("ff02::1", 0, 0, socket.if_nametoindex(ifname)))
