"""What each official WireGuard app accepts when it imports a config (a file or a QR code).

One function per app returns the reasons that app refuses TEXT; an empty list means it imports it.
Each follows its app's own parser, read from its source (cited per rule, no code copied):

- Android: github.com/WireGuard/wireguard-android (read at e7b3a3c1),
  tunnel/src/main/java/com/wireguard/config/{Config,Interface,Peer,Attribute,InetNetwork,InetEndpoint,InetAddresses}.java,
  tunnel/src/main/java/com/wireguard/crypto/Key.java, tunnel/.../android/backend/Tunnel.java (names)
- Apple (iOS, macOS): github.com/WireGuard/wireguard-apple (read at 2fec12a6),
  Sources/Shared/Model/TunnelConfiguration+WgQuickConfig.swift, Sources/Shared/Model/String+ArrayConversion.swift,
  Sources/WireGuardKit/{IPAddressRange,Endpoint,DNSServer}.swift, Sources/WireGuardKitC/key.c
- Windows: github.com/WireGuard/wireguard-windows (read at 5a7d225d), conf/parser.go, conf/name.go

The three differ on purpose here: keys, duplicates, sections, lists and number ranges each follow
their own app, so a config that only one app refuses is caught by that app's function alone.
Messages never repeat a key's value: they end up in test output.
"""

from __future__ import annotations

from .android import android
from .apple import apple
from .windows import windows

APPS = {"android": android, "apple": apple, "windows": windows}


def refusals(text: str, name: str | None = None) -> dict[str, list[str]]:
    """Every app's refusals of TEXT, only the apps that refuse it; NAME is the tunnel name where the app uses one."""
    found = {"android": android(text, name), "apple": apple(text), "windows": windows(text, name)}
    return {app: errors for app, errors in found.items() if errors}
