"""The four setups of the guide, rendered from the example stacks, compared by meaning.

Each test states the guide's config and names every place where wgsites
deliberately differs (explicit MTU, keepalive, ::/0, the key loaded by PostUp).
"""

from __future__ import annotations

import ipaddress

import pytest

from tests.stacks import HUB_ENDPOINT, render_stack
from tests.wgconf import parse


def nets(*items: str) -> set:
    return {ipaddress.ip_network(i) for i in items}


@pytest.fixture
def render(tmp_path):
    return lambda stack: render_stack(stack, tmp_path)


def test_router_peer_to_site(render):
    r = render("router")
    router, laptop = parse(r.conf("router")), parse(r.conf("laptop"))
    # guide: router wg0.conf
    assert router.interface.get("Address") == "10.10.11.1/24"
    assert router.interface.get("ListenPort") == "51000"
    assert len(router.peers) == 1
    peer = router.peer(r.keys.public["laptop"])
    assert peer.networks() == nets("10.10.11.2/32")
    assert peer.get("Endpoint") is None  # the laptop roams: the router only answers
    # guide: laptop home0.conf
    assert laptop.interface.get("Address") == "10.10.11.2/24"
    assert laptop.interface.get("ListenPort") == "51000"
    hub = laptop.peer(r.keys.public["router"])
    assert hub.get("Endpoint") == "home.example.net:51000"
    assert hub.networks() == nets("10.10.11.0/24", "10.10.10.0/24")
    # deliberate differences
    assert router.interface.all("PostUp") == ["wg set %i private-key /etc/wireguard/%i.key"]  # key not in the file
    assert router.interface.get("PrivateKey") is None
    assert router.interface.get("MTU") == "1432"  # ppp0 uplink: 1492 - 60, not wg-quick's guess
    assert laptop.interface.get("MTU") == "1432"  # the same on both ends
    assert hub.get("PersistentKeepalive") == "25"  # laptop behind NAT keeps the router able to reach it
    assert laptop.interface.get("PrivateKey") == r.keys.private["laptop"]  # a roaming config is complete
    # the router already routes; wgsites writes the drop-in so a reboot keeps it
    assert "net.ipv4.ip_forward = 1" in r.files["router"]["70-wgsites-wg0.conf"]
    assert "wg0.nft" not in r.files["router"]  # no NAT in this setup


def test_internal_host_proxy_arp(render):
    r = render("internal")
    host, laptop = parse(r.conf("internal")), parse(r.conf("laptop"))
    # guide: internal host wg0.conf
    assert host.interface.get("Address") == "10.10.10.10/32"
    assert host.interface.get("ListenPort") == "51000"
    assert host.peer(r.keys.public["laptop"]).networks() == nets("10.10.10.11/32")
    assert host.peer(r.keys.public["laptop"]).get("Endpoint") is None
    # guide: sysctl ip_forward + proxy_arp
    sysctl = r.files["internal"]["70-wgsites-wg0.conf"]
    assert "net.ipv4.ip_forward = 1" in sysctl and "net.ipv4.conf.all.proxy_arp = 1" in sysctl
    # guide: laptop home_internal.conf
    assert laptop.interface.get("Address") == "10.10.10.11/24"
    assert laptop.interface.get("ListenPort") == "51000"
    hub = laptop.peer(r.keys.public["internal"])
    assert hub.get("Endpoint") == "home.example.net:51000"
    assert hub.networks() == nets("10.10.10.0/24")
    # deliberate: explicit MTU, keepalive, no NAT (proxy ARP puts the laptop on the LAN)
    assert host.interface.get("MTU") == laptop.interface.get("MTU") == "1440"
    assert hub.get("PersistentKeepalive") == "25"
    assert "wg0.nft" not in r.files["internal"]


def test_site_to_site(render):
    r = render("sites")
    alpha, beta = parse(r.conf("alpha")), parse(r.conf("beta"))
    # guide: alpha
    assert alpha.interface.get("Address") == "10.10.9.0/31"
    assert alpha.interface.get("ListenPort") == "51000"
    assert alpha.interface.all("PostUp")[0] == "wg set %i private-key /etc/wireguard/%i.key"  # as the guide
    to_beta = alpha.peer(r.keys.public["beta"])
    assert to_beta.networks() == nets("10.10.11.0/24", "10.10.9.0/31")
    assert to_beta.get("Endpoint") == "beta.example.net:51000"
    # guide: beta
    assert beta.interface.get("Address") == "10.10.9.1/31"
    assert beta.interface.get("ListenPort") == "51000"
    to_alpha = beta.peer(r.keys.public["alpha"])
    assert to_alpha.networks() == nets("10.10.10.0/24", "10.10.9.0/31")
    assert to_alpha.get("Endpoint") == "alpha.example.net:51000"
    # both static: no keepalive, as the guide; routed, never NATed
    assert to_beta.get("PersistentKeepalive") is None and to_alpha.get("PersistentKeepalive") is None
    for node, iface in (("alpha", "wgA"), ("beta", "wgB")):
        nft = r.files[node][f"{iface}.nft"]
        assert "masquerade" not in nft
        # guide: iptables -A FORWARD -i wgX -p tcp --dport 22 -j REJECT, added in PostUp, removed in PreDown
        assert f'iifname "{iface}" tcp dport 22 reject' in nft
        conf = parse(r.conf(node))
        assert "nft -f /etc/wireguard/%i.nft" in conf.interface.all("PostUp")
        assert conf.interface.all("PreDown") == [f"nft delete table inet wgsites_{iface}"]
        assert "net.ipv4.ip_forward = 1" in r.files[node][f"70-wgsites-{iface}.conf"]
    # deliberate: the hub sends no ICMP redirect out of its tunnel (site to site through it would spend the rate
    # limit its own rejects share); Linux sends one when `all` or the interface asks, so both say no
    redirects = ("net.ipv4.conf.all.send_redirects = 0", "net.ipv4.conf.wgA.send_redirects = 0")
    assert all(line in r.files["alpha"]["70-wgsites-wgA.conf"].splitlines() for line in redirects)
    assert "send_redirects" not in r.files["beta"]["70-wgsites-wgB.conf"]  # a site forwards LAN to tunnel only


def test_default_gateway(render):
    r = render("travel")
    gateway, laptop = parse(r.conf("gateway")), parse(r.conf("laptop"))
    # guide: client wg0.conf
    assert laptop.interface.get("Address") == "10.90.90.1/24"
    assert laptop.interface.get("ListenPort") == "51000"
    hub = laptop.peer(r.keys.public["gateway"])
    assert hub.get("Endpoint") == f"{HUB_ENDPOINT}:51000"
    # deliberate: ::/0 beside 0.0.0.0/0, so IPv6 cannot leak around the tunnel
    assert hub.networks() == nets("0.0.0.0/0", "::/0")
    # guide: gateway0.conf
    assert gateway.interface.get("Address") == "10.90.90.2/24"
    assert gateway.interface.get("ListenPort") == "51000"
    assert gateway.interface.all("PostUp")[0] == "wg set %i private-key /etc/wireguard/%i.key"
    assert gateway.peer(r.keys.public["laptop"]).networks() == nets("10.90.90.1/32")
    # guide: ip_forward and `-s 10.90.90.0/24 -o eth0 -j MASQUERADE` (ens5 is the name on AWS Nitro)
    assert "net.ipv4.ip_forward = 1" in r.files["gateway"]["70-wgsites-gateway0.conf"]
    assert "net.ipv4.conf.gateway0.send_redirects = 0" in r.files["gateway"]["70-wgsites-gateway0.conf"]  # aws hub too
    # the guide's NAT, only toward the internet (never into the VPN or a LAN of it)
    assert 'ip saddr 10.90.90.0/24 ip daddr != { 10.90.90.0/24 } oifname "ens5" masquerade' in r.files["gateway"]["gateway0.nft"]
    assert gateway.interface.get("MTU") == laptop.interface.get("MTU") == "1440"


def test_home_headline(render):
    r = render("home")
    gateway = parse(r.conf("gateway"))
    home, laptop, phone = (parse(r.conf(n)) for n in ("home", "laptop", "phone"))
    # the hub routes the home LAN through the home router's tunnel
    assert gateway.peer(r.keys.public["home"]).networks() == nets("10.99.0.2/32", "10.10.10.0/24")
    # the home router dials out (CGNAT): endpoint of the hub, keepalive, no endpoint of its own
    to_hub = home.peer(r.keys.public["gateway"])
    assert to_hub.get("Endpoint") == f"{HUB_ENDPOINT}:51820"
    assert to_hub.get("PersistentKeepalive") == "25"
    assert gateway.peer(r.keys.public["home"]).get("Endpoint") is None
    # the laptop reaches the VPN and the home LAN through the hub; the phone sends everything
    assert laptop.peer(r.keys.public["gateway"]).networks() == nets("10.99.0.0/24", "10.10.10.0/24")
    assert phone.peer(r.keys.public["gateway"]).networks() == nets("0.0.0.0/0", "::/0")
    # PPPoE at home: 1492 - 60 on both ends of that tunnel; the hub takes its smallest path
    assert home.interface.get("MTU") == "1432" and gateway.interface.get("MTU") == "1432"
    assert laptop.interface.get("MTU") == "1440"
