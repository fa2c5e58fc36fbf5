"""The stack file is read as the Pulumi CLI (yaml.v3) reads it, or refused with one line per mistake."""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc

import pytest
import yaml

from tests.stacks import ROOT, STACKS, stack_file
from wgsites.stack.check import load_stack_file
from wgsites.stack.errors import ConfigError
from wgsites.stack.yaml_file import MAX_BYTES, MAX_NODES, read_stack_document, v3_scalar

STACK = """\
config:
  aws:region: eu-central-1
  wgsites:vpn:
    network: 10.99.0.0/24
    listenPort: {port}
    hub:
      name: gateway
      kind: aws
      address: 10.99.0.1
      masquerade: {masquerade}
    peers:
      - name: phone
        address: 10.99.0.11
        tunnel: {tunnel}
        dns: [9.9.9.9]
"""
GOOD = {"port": "51820", "masquerade": "ens5", "tunnel": "full"}
P = "wgsites:vpn"
# the syntax errors are libyaml's words when PyYAML has it (stackfile uses it for speed), else PyYAML's
LIBYAML = yaml.__with_libyaml__ and hasattr(yaml, "CSafeLoader")
UNCLOSED = "did not find expected ',' or ']'" if LIBYAML else "expected ',' or ']', but got '<stream end>'"


def write(tmp_path, text: str, name: str = "Pulumi.test.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def stack(**fields: str) -> str:
    return STACK.format(**{**GOOD, **fields})


YAML_CASES = [
    (
        stack(tunnel="split\n        tunnel: full"),
        f"{P}.peers[0].tunnel: 'full' on line 15 repeats the key set on line 14; Pulumi refuses a key written twice, so keep one",
    ),
    (
        stack(masquerade="ens5\n      masquerade: true"),
        f"{P}.hub.masquerade: True on line 11 repeats the key set on line 10; Pulumi refuses a key written twice, so keep one",
    ),
    (
        stack() + "  wgsites:vpn:\n    network: 10.0.0.0/24\n",
        f"{P}: {{...}} on line 16 repeats the key set on line 3; Pulumi refuses a key written twice, so keep one",
    ),
    (
        stack(port="0100"),
        f"{P}.listenPort: 0100 is octal 64 to Pulumi and YAML 1.1 but 100 to YAML 1.2; write 64, or 100 if you meant decimal",
    ),
    (stack(port="51_820"), f"{P}.listenPort: 51_820 is 51820 to Pulumi but a string to YAML 1.2 tools; write 51820"),
    (stack(port="0xCA6C"), f"{P}.listenPort: 0xCA6C is hexadecimal for 51820; write 51820"),
    (
        stack(port="0o145154"),
        f"{P}.listenPort: 0o145154 is octal for 51820 to Pulumi but a string to YAML 1.1 tools; write 51820",
    ),
    (stack(port="0b1010"), f"{P}.listenPort: 0b1010 is binary for 10; write 10"),
    (
        stack(port="051829"),
        f"{P}.listenPort: 051829 is the float 51829.0 to Pulumi but 51829 to YAML 1.2 and a string to YAML 1.1; write 51829",
    ),
    (
        stack(masquerade="off"),
        f"{P}.hub.masquerade: off is false to YAML 1.1 tools but the string 'off' to Pulumi; "
        "write false, or quote 'off' if you mean the word",
    ),
    (
        stack(masquerade="yes"),
        f"{P}.hub.masquerade: yes is true to YAML 1.1 tools but the string 'yes' to Pulumi; "
        "write true, or quote 'yes' if you mean the word",
    ),
    (
        stack(masquerade="On"),
        f"{P}.hub.masquerade: On is true to YAML 1.1 tools but the string 'On' to Pulumi; "
        "write true, or quote 'On' if you mean the word",
    ),
    # sexagesimal: yaml.v3 keeps the string (YAML 1.1 would say 860), and the converter refuses it
    (stack(port="14:20"), f"{P}.listenPort: '14:20' is not a whole number from 1 to 65535; use one in that range"),
    # a float is not a port, whichever way it is written
    (stack(port="5.1e4"), f"{P}.listenPort: 51000.0 is not a whole number from 1 to 65535; use one in that range"),
    (
        stack(masquerade="!!python/object:os.system {}"),
        f"{P}.hub.masquerade: tag !!python/object:os.system on line 10 is not supported in a stack file; remove the tag",
    ),
    (
        stack(masquerade="&a ens5\n      <<: {lans: [10.1.0.0/16]}"),
        f"{P}.hub.<<: merge key on line 11 hides values from a reviewer; write the keys out",
    ),
    (
        stack(tunnel="[full"),
        "{file}: not valid YAML at line 15, column 12 (" + UNCLOSED + "); fix the indentation or quoting there",
    ),
    (
        stack() + "---\nconfig: {}\n",
        "{file}: not valid YAML at line 16, column 1 (but found another document); fix the indentation or quoting there",
    ),
    (
        stack(masquerade="2001-12-14"),
        f"{P}.hub.masquerade: 2001-12-14 is a date to Pulumi, which stores it as a time such as "
        "'2001-12-14 00:00:00 +0000 UTC'; quote '2001-12-14' if you mean the text",
    ),
    ("config:\n  wgsites:vpn: &a [*a]\n", f"{P}[0]: an alias on line 2 contains itself; write the values out"),
    ("config:\n  aws:region: x\n", f"{{file}}: no `config: {P}:` object; describe the VPN under that key"),
    ("- config\n", f"{{file}}: no `config: {P}:` object; describe the VPN under that key"),
]


@pytest.mark.parametrize(
    ("text", "message"), YAML_CASES, ids=[m.split(":")[1][:40] + str(i) for i, (_, m) in enumerate(YAML_CASES)]
)
def test_stack_file_mistake_gives_one_message(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_stack_file(path)
    assert caught.value.messages == [message.replace("{file}", str(path))]


def test_good_template_is_valid(tmp_path):
    load_stack_file(write(tmp_path, stack()))


@pytest.mark.parametrize("name", STACKS)
def test_example_stacks_read_the_same_as_pyyaml(name):
    """Our reader changes nothing for the examples (they use no ambiguous form)."""
    path = stack_file(name)
    assert read_stack_document(path) == yaml.safe_load(path.read_text())


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # every row is what gopkg.in/yaml.v3's resolve.go makes of the plain scalar
        ("0100", 64),  # ParseInt(_, 0, 64): a leading 0 is octal, as in YAML 1.1
        ("1_000", 1000),  # underscores removed before ParseInt
        ("14:20", "14:20"),  # no base 60 in yaml.v3
        ("yes", "yes"),
        ("off", "off"),
        ("True", True),
        ("1e3", 1000.0),  # yamlStyleFloat; PyYAML keeps the string
        ("0o17", 15),
        ("0x1F", 31),
        ("-0b11", -3),
        ("08", 8.0),  # not an octal int, but yamlStyleFloat matches
        ("99999999999999999999", 1e20),  # past uint64: a float
        ("2001-12-14", "2001-12-14"),  # kept as text here, refused (Pulumi would store a time.Time's String())
        ("10.10.11.1", "10.10.11.1"),
        (".inf", float("inf")),
        ("~", None),
        ("=", "="),  # PyYAML's SafeLoader has no constructor for it and fails
    ],
)
def test_scalars_resolve_as_yaml_v3(text, value):
    assert v3_scalar(text) == value


def test_file_over_one_mib_is_refused(tmp_path):
    path = write(tmp_path, stack() + "#" * MAX_BYTES)
    with pytest.raises(ConfigError) as caught:
        load_stack_file(path)
    assert caught.value.messages == [
        f"{path}: larger than 1048576 bytes (1 MiB); a stack file is a few kilobytes, check the file"
    ]


BOMB = "config:\n  wgsites:vpn:\n    a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"    {b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_alias_bomb_is_refused_quickly_in_little_memory(tmp_path):
    assert len(BOMB) < 500  # nine levels of nine: 387 million strings if expanded
    path = write(tmp_path, BOMB)
    tracemalloc.start()
    started = time.process_time()  # this process's CPU: the suite's other workers and their waits aside
    with pytest.raises(ConfigError) as caught:
        load_stack_file(path)
    elapsed = time.process_time() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(caught.value.messages) == 1
    assert f"more than {MAX_NODES} values after expanding aliases; write the values out" in caught.value.messages[0]
    assert elapsed < 5, elapsed
    assert peak < 64 * 2**20, peak


def test_wide_document_is_refused_while_composing(tmp_path):
    path = write(tmp_path, "config:\n  wgsites:vpn: [" + "a, " * 200_000 + "]\n")
    started = time.process_time()  # this process's CPU: the suite's other workers and their waits aside
    with pytest.raises(ConfigError) as caught:
        load_stack_file(path)
    assert caught.value.messages == [f"{path}: more than {MAX_NODES} values; a stack file has a few hundred"]
    assert time.process_time() - started < 5


def test_deep_nesting_is_refused(tmp_path):
    path = write(tmp_path, "config:\n  wgsites:vpn: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError) as caught:
        load_stack_file(path)
    assert caught.value.messages == [f"{path}: nested too deeply to read; a stack file needs a few levels"]


def test_every_mistake_is_listed(tmp_path):
    path = write(tmp_path, stack(port="0100", masquerade="off", tunnel="split\n        tunnel: full"))
    with pytest.raises(ConfigError) as caught:
        load_stack_file(path)
    assert len(caught.value.messages) == 3


def test_not_utf8_and_missing_file(tmp_path):
    path = tmp_path / "Pulumi.bin.yaml"
    path.write_bytes(b"config:\n  x: \xff\n")
    with pytest.raises(ConfigError) as caught:
        load_stack_file(path)
    assert caught.value.messages == [f"{path}: byte 13 is not UTF-8; save the file as UTF-8"]
    with pytest.raises(ConfigError):
        load_stack_file(tmp_path / "Pulumi.none.yaml")


@pytest.mark.parametrize(
    "text",
    [
        stack(tunnel="split\n        tunnel: full"),
        stack(port="0100"),
        stack(masquerade="off"),
        BOMB,
        "config:\n  wgsites:vpn: " + "[" * 5000 + "]" * 5000 + "\n",
        stack(tunnel="[full"),
        "config:\n  wgsites:vpn:\n    network: \x01\n",
    ],
    ids=["duplicate", "octal", "yaml11-bool", "bomb", "deep", "syntax", "control-char"],
)
def test_cli_check_exits_2_with_error_lines(tmp_path, text):
    path = write(tmp_path, text)
    done = subprocess.run(
        [sys.executable, "-m", "wgsites", "check", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
