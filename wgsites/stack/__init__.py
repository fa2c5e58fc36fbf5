"""The stack file and its model: read, parse and check a VPN description; no host, no AWS."""
