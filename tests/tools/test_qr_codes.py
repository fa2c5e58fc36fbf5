"""`render --out` writes every device's QR code beside its config; a real decoder reads back the exact bytes."""

from __future__ import annotations

import io
import json
import os
import stat
import sys

import segno
import yaml

from tests.qrdecode import decode_image, terminal_art_to_pbm
from tests.stacks import HUB_ENDPOINT, STACKS, stack_file
from wgsites.operations.cli import main
from wgsites.rendering.qr import qr_code
from wgsites.stack.check import load_stack_file
from wgsites.stack.keys import generate_private_key, public_key_of


def test_every_device_gets_a_png_and_terminal_art_that_decode_to_its_config(tmp_path):
    checked = 0
    for stack in STACKS:
        out = tmp_path / stack
        assert main(["render", str(stack_file(stack)), "--out", str(out), "--hub-endpoint", HUB_ENDPOINT]) == 0
        for node in load_stack_file(stack_file(stack)).nodes:
            folder, iface = out / node.name, node.interface
            if not node.is_device:
                assert not list(folder.glob("*.png")) and not list(folder.glob("*.qr.txt")), f"{stack}/{node.name}"
                continue
            config = (folder / f"{iface}.conf").read_bytes()
            for name in (f"{iface}.png", f"{iface}.qr.txt"):
                assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, f"{stack}/{node.name}/{name}: it holds the key"
            decoded_png = decode_image(folder / f"{iface}.png")
            art = tmp_path / f"{stack}-{node.name}.pbm"
            art.write_bytes(terminal_art_to_pbm((folder / f"{iface}.qr.txt").read_text(encoding="utf-8")))
            decoded_art = decode_image(art)
            # compared, not printed: the config holds the private key
            assert decoded_png == config, f"{stack}/{node.name}: the PNG does not decode to the config"
            assert decoded_art == config, f"{stack}/{node.name}: the terminal art does not decode to the config"
            checked += 1
    assert checked == 5  # home: laptop, phone; internal, router, travel: laptop


def test_a_bring_your_own_key_device_gets_no_qr_code(tmp_path):
    """Its config has no key (a comment says where it goes): the apps refuse it, and a scanned code cannot
    be edited first, so there is no code to scan; the file is there to paste the key into."""
    document = yaml.safe_load(stack_file("home").read_text())
    document["config"]["wgsites:vpn"]["peers"].append(
        {"name": "tablet", "address": "10.99.0.12", "interface": "tab0", "publicKey": public_key_of(generate_private_key())}
    )
    path = tmp_path / "Pulumi.home.yaml"
    path.write_text(yaml.safe_dump(document))
    assert main(["render", str(path), "--out", str(tmp_path / "out"), "--hub-endpoint", HUB_ENDPOINT]) == 0
    folder = tmp_path / "out" / "tablet"
    config = (folder / "tab0.conf").read_bytes()
    assert b"# Your own key:" in config and b"PrivateKey =" not in config
    assert sorted(p.name for p in folder.iterdir()) == ["tab0.conf"]
    assert (tmp_path / "out" / "laptop" / "home0.png").exists()  # the other devices keep theirs


def test_a_render_again_rewrites_the_qr_code_with_the_reused_key(tmp_path):
    args = ["render", str(stack_file("router")), "--out", str(tmp_path), "--hub-endpoint", HUB_ENDPOINT]
    assert main(args) == 0
    first = (tmp_path / "laptop" / "home0.png").read_bytes()
    assert main(args) == 0
    assert (tmp_path / "laptop" / "home0.png").read_bytes() == first


def test_the_decoder_can_tell_a_wrong_code(tmp_path):
    """The comparison above can fail: another config's code decodes to other bytes, a blank image to none."""
    path = tmp_path / "other.png"
    path.write_bytes(qr_code("[Interface]\nSaveConfig = false\n").png())
    assert decode_image(path) == b"[Interface]\nSaveConfig = false\n"
    blank = tmp_path / "blank.pbm"
    blank.write_bytes(b"P1\n40 40\n" + b"0 " * 1600 + b"\n")
    assert decode_image(blank) is None


def test_the_core_qr_code_is_segnos():
    """`wgsites qr` and `render --out` show what wgsites.rendering.qr makes: the same SVG segno makes, and terminal art."""
    config = "[Interface]\nAddress = 10.99.0.10/24\n"
    made = qr_code(config)
    assert made.png().startswith(b"\x89PNG\r\n")
    assert made.svg().startswith("<?xml") and "<svg" in made.svg()
    assert set(made.text()) <= {"█", "▀", "▄", " ", "\n"} and len(made.text().splitlines()) > 10
    svg = io.BytesIO()
    segno.make(config, micro=False).save(svg, kind="svg", scale=4)
    assert made.svg() == svg.getvalue().decode()  # what the stack's `<peer>_qr_svg` output held before `wgsites qr`


def stand_in_pulumi(tmp_path, monkeypatch, outputs: dict[str, str]) -> None:
    """A `pulumi` on PATH that answers `stack output --json --show-secrets NAME --non-interactive --stack lab`
    as the CLI does (a model of it: tests/engine/test_pulumi_up.py runs `wgsites qr` against the real one)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    answers = folder / "outputs.json"
    answers.write_text(json.dumps(outputs))
    script = folder / "pulumi"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"outputs = json.load(open({str(answers)!r}))\n"
        "args = sys.argv[1:]\n"
        "if args[:4] != ['stack', 'output', '--json', '--show-secrets'] or args[5:] != ['--non-interactive', '--stack', 'lab']:\n"
        "    sys.exit(f'error: unexpected arguments {args}')\n"
        "if args[4] not in outputs:\n"
        "    print(f\"error: current stack does not have output property '{args[4]}'\", file=sys.stderr)\n"
        "    sys.exit(255)\n"
        "print(json.dumps(outputs[args[4]]))\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")


def test_wgsites_qr_makes_the_code_of_the_config_the_stack_outputs(tmp_path, monkeypatch, capsys):
    """The state keeps no code: `wgsites qr PEER` makes it from `PEER_config`, byte for byte what a scan reads."""
    assert main(["render", str(stack_file("router")), "--out", str(tmp_path / "out"), "--hub-endpoint", HUB_ENDPOINT]) == 0
    config = (tmp_path / "out" / "laptop" / "home0.conf").read_text()
    stand_in_pulumi(tmp_path, monkeypatch, {"laptop_config": config})
    capsys.readouterr()  # what render said
    png, svg = tmp_path / "laptop.png", tmp_path / "laptop.svg"
    assert main(["qr", "laptop", "--stack", "lab", "--png", str(png), "--svg", str(svg)]) == 0
    assert capsys.readouterr().out == ""  # files asked for: nothing on the terminal
    for path in (png, svg):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path.name}: it holds the key"
    assert decode_image(png) == config.encode()  # compared, not printed: it holds the key
    assert svg.read_text() == qr_code(config).svg()
    assert main(["qr", "laptop", "--stack", "lab"]) == 0
    art = tmp_path / "art.pbm"
    art.write_bytes(terminal_art_to_pbm(capsys.readouterr().out))
    assert decode_image(art) == config.encode()


def test_wgsites_qr_refuses_a_peer_it_cannot_make_a_code_for(tmp_path, monkeypatch, capsys):
    own_key = "[Interface]\n# Your own key: PrivateKey = <paste it here>\nAddress = 10.99.0.12/32\n"
    stand_in_pulumi(tmp_path, monkeypatch, {"tablet_config": own_key})
    assert main(["qr", "tablet", "--stack", "lab"]) == 2
    assert "peer 'tablet' brings its own key" in capsys.readouterr().err
    assert main(["qr", "lapto", "--stack", "lab"]) == 2
    err = capsys.readouterr().err
    assert "peer 'lapto': `pulumi stack output lapto_config` failed (error: current stack does not have output" in err
    assert "give a roaming peer's name as the stack file has it" in err
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert main(["qr", "laptop", "--stack", "lab"]) == 2
    assert "no `pulumi` on PATH" in capsys.readouterr().err


def test_a_device_with_a_preshared_key_gets_a_code_holding_it(tmp_path):
    document = yaml.safe_load(stack_file("router").read_text())
    document["config"]["wgsites:vpn"]["presharedKey"] = True
    path = tmp_path / "Pulumi.router.yaml"
    path.write_text(yaml.safe_dump(document))
    out = tmp_path / "out"
    assert main(["render", str(path), "--out", str(out)]) == 0
    config = (out / "laptop" / "home0.conf").read_bytes()
    key = (out / "laptop" / "preshared.key").read_text().strip()
    assert f"PresharedKey = {key}\n".encode() in config
    assert stat.S_IMODE((out / "laptop" / "preshared.key").stat().st_mode) == 0o600
    assert decode_image(out / "laptop" / "home0.png") == config  # compared, not printed: it holds the keys
    assert f"{key}\n" in (out / "router" / "wg0.psk").read_text()  # the hub's store holds the same pair's key
