"""`python -m wgsites`: check, render and draw a stack file, show a peer's QR code, ask the hosts for their status.

(The lab is `python -m lab`.)
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from nacl.signing import SigningKey

from wgsites.operations import gateway_status
from wgsites.rendering.bundle import gateway_parameters
from wgsites.rendering.delivery import DeliveryPlan
from wgsites.rendering.diagram import dot_source
from wgsites.rendering.operator_files import check_folder, read_own_secret, write_file, write_tree
from wgsites.rendering.qr import qr_code
from wgsites.rendering.render import KeyRing
from wgsites.rendering.status_slots import status_slots
from wgsites.rendering.wg_quick_parser import read_wg_config
from wgsites.stack import access
from wgsites.stack.addressing import describe
from wgsites.stack.check import StackFile, load_stack_file, read_stack, stack_name
from wgsites.stack.endpoints import split_endpoint
from wgsites.stack.errors import ConfigError
from wgsites.stack.keys import generate_private_key, is_valid_key, public_key_of
from wgsites.stack.model import Vpn
from wgsites.stack.plaintext import escaped

from .host_answer import ask_host, check_ssh_key
from .host_status import StatusRow, collect, format_rows, json_rows, unknown_rows
from .importer import ImportOptions, import_vpn, same_peers, stack_text
from .status_metrics import GatewayView, status_metrics
from .status_row import mark_expired


def local_keys(vpn: Vpn, out: Path, key: str = "--out") -> KeyRing:
    """Keys for an offline render: those already in OUT when they are your own 0600 files, else made with pynacl.
    Nothing is written here: cmd_render writes them with the rest (key_files)."""
    public: dict[str, str] = {}
    private: dict[str, str] = {}
    for node in vpn.nodes:
        if node.key_source == "own":
            public[node.name] = node.public_key
            continue
        found = (read_own_secret(out / node.name / f"{node.interface}.key", key) or "").strip()
        private[node.name] = found if is_valid_key(found) else generate_private_key()
        public[node.name] = public_key_of(private[node.name])
    preshared = {}
    for spoke in vpn.preshared_spokes:  # a pair's key, kept with its spoke (`pulumi up` derives them instead)
        found = (read_own_secret(out / spoke.name / "preshared.key", key) or "").strip()
        # 32 random bytes, as `wg genpsk` makes them
        preshared[spoke.name] = found if is_valid_key(found) else generate_private_key()
    return KeyRing(public=public, private=private, preshared=preshared)


def local_bundle_key(vpn: Vpn, out: Path, key: str = "--out") -> SigningKey | None:
    """An aws hub's bundle signing key for an offline render: the one in OUT when it is your own 0600 file, else new.
    (`pulumi up` derives it from the stack's secret wgsites:keySeed instead.)"""
    if vpn.hub.kind != "aws":
        return None
    try:
        seed = base64.b64decode((read_own_secret(out / vpn.hub.name / BUNDLE_KEY_FILE, key) or "").strip(), validate=True)
    except ValueError:
        seed = b""
    return SigningKey(seed if len(seed) == 32 else os.urandom(32))


BUNDLE_KEY_FILE = "bundle-signing.key"


def key_files(vpn: Vpn, keys: KeyRing, bundle_key: SigningKey | None) -> dict[str, tuple[str, int]]:
    """The preshared keys and the bundle signing key, kept beside the rendered files for the next render to reuse
    (a node's own key is among its rendered files)."""
    files = {f"{name}/preshared.key": (key + "\n", 0o600) for name, key in keys.preshared.items()}
    if bundle_key is not None:
        files[f"{vpn.hub.name}/{BUNDLE_KEY_FILE}"] = (base64.b64encode(bytes(bundle_key)).decode() + "\n", 0o600)
    return files


def stack_output_config(peer: str, stack: str | None) -> str:
    """PEER's config as `pulumi up` left it in the stack's outputs (`PEER_config`), byte for byte (JSON)."""
    argv = ["pulumi", "stack", "output", "--json", "--show-secrets", f"{peer}_config", "--non-interactive"]
    argv += ["--stack", stack] if stack else []
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        raise ValueError("no `pulumi` on PATH: install the Pulumi CLI, or scan the .png that `render --out` writes") from None
    try:
        config = json.loads(done.stdout) if done.returncode == 0 else None
    except ValueError:
        config = None
    if not isinstance(config, str):
        said = done.stderr.strip().splitlines()[-1:] or ["no config in its output"]
        raise ValueError(
            f"peer {peer!r}: `pulumi stack output {peer}_config` failed ({said[0]}); run it in the project's folder, "
            "name the stack with --stack, and give a roaming peer's name as the stack file has it"
        )
    if "\nPrivateKey = " not in f"\n{config}":  # a bring-your-own-key device: the apps refuse a config without a key
        raise ValueError(
            f"peer {peer!r} brings its own key: its config has none, so a scanned code could not be imported; "
            f"save `pulumi stack output --show-secrets {peer}_config` to a file and paste the key where it says"
        )
    return config


def cmd_qr(args: argparse.Namespace) -> int:
    """A roaming peer's QR code, made now from its config: the state keeps no code (a preview made none)."""
    code = qr_code(stack_output_config(args.peer, args.stack))
    for flag, path, content in (("--png", args.png, code.png), ("--svg", args.svg, code.svg)):
        if path:  # the code holds the private key: 0600, as the config, by a fresh name in a safe folder
            write_file(Path(path), content(), 0o600, flag)
    if not (args.png or args.svg):
        sys.stdout.write(code.text())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    vpn = load_stack_file(args.stack_file)
    print(describe(vpn))
    for line in access.summary(vpn):
        print(line)
    return 0


def cmd_access(args: argparse.Namespace) -> int:
    """Who reaches what, as the hub enforces it: the lines a preview shows changed."""
    for line in access.matrix(load_stack_file(args.stack_file)):
        print(line)
    return 0


def output_folder(text: str, holds: str = "render writes DIR/<node>/ per node") -> Path:
    """`render --out`, `diagram --out`: an existing folder, or a new one in an existing folder (its parents are not
    made unasked: a typo leaves no folders behind). Refused up front, before anything is read or written."""
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise ConfigError([f"--out: {text!r} is a file, not a folder; name a folder ({holds})"])
    if not out.exists() and not out.parent.is_dir():
        raise ConfigError(
            [f"--out: the folder {str(out.parent)!r} does not exist; create it first (mkdir -p {shlex.quote(str(out.parent))})"]
        )
    check_folder(out if out.exists() else out.parent, "--out")
    return out


def cmd_render(args: argparse.Namespace) -> int:
    stack_file = read_stack(args.stack_file)
    vpn, stack = stack_file.vpn, stack_file.stack
    if vpn.hub.endpoint is None and not args.hub_endpoint:
        raise ConfigError(
            [
                f"--hub-endpoint: missing; the aws hub {vpn.hub.name}'s address is its Elastic IP, which only `pulumi up` "
                "makes: pass it, e.g. --hub-endpoint 203.0.113.10 (pulumi stack output), or set wgsites:vpn.hub.endpoint"
            ]
        )
    if args.hub_endpoint is not None and split_endpoint(args.hub_endpoint) is None:
        raise ConfigError([f"--hub-endpoint: {args.hub_endpoint!r} is not host or host:port; write it like 203.0.113.10"])
    out = output_folder(args.out)
    # everything is made in memory first: a refusal anywhere leaves OUT as it was
    keys = local_keys(vpn, out)
    bundle_key = local_bundle_key(vpn, out)
    written = key_files(vpn, keys, bundle_key)
    plan = DeliveryPlan(vpn, stack, stack_file.region)
    for node in vpn.nodes:
        files = plan.files(node.name, keys, args.hub_endpoint, bundle_key, codes=True)
        written.update({f"{node.name}/{file.name}": (file.content, file.mode) for file in files})
    write_tree(out, written, "--out")
    print(f"rendered {len(vpn.nodes)} node(s) of stack {stack} into {out}")
    return 0


def cmd_diagram(args: argparse.Namespace) -> int:
    out = output_folder(args.out, "diagram writes DIR/<stack>.dot, .svg and .png")
    stack_file = read_stack(args.stack_file)
    dot = dot_source(stack_file.vpn, stack_file.stack)
    written = draw(dot, out / stack_file.stack)
    print(f"drew stack {stack_file.stack}: {', '.join(str(p) for p in written)}")
    return 0


def draw(dot: str, base: Path) -> list[Path]:
    """BASE.dot, and Graphviz's BASE.svg and BASE.png drawn from it; ValueError when `dot` is missing or fails.
    BASE's folder is made when missing, not its parents (output_folder)."""
    base.parent.mkdir(exist_ok=True)
    written = [base.with_suffix(".dot")]
    written[0].write_text(dot)
    for fmt in ("svg", "png"):
        target = base.with_suffix(f".{fmt}")
        try:
            done = subprocess.run(["dot", f"-T{fmt}", "-o", str(target)], input=dot.encode(), capture_output=True, timeout=60)
        except FileNotFoundError:
            raise ValueError("Graphviz's `dot` is not installed; install it (apt-get install graphviz)") from None
        if done.returncode != 0:
            raise ValueError(f"dot -T{fmt} failed: {done.stderr.decode(errors='replace').strip()}")
        written.append(target)
    return written


def hub_rows(stack_file: StackFile, stale_after: int | None) -> tuple[list[StatusRow], GatewayView | None]:
    """An aws hub's peers from its own published view (SSM), with your AWS credentials; no SSH; and when it
    was published, with the bundle serial it names (None when unread).
    AWS_ENDPOINT_URL_SSM points elsewhere only in the lab, as for the gateway's agent."""
    vpn = stack_file.vpn
    parameters = gateway_parameters(stack_file.stack, vpn.hub.interface, stack_file.region)
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        return [
            StatusRow(vpn.hub.name, "-", "unknown", "reading an aws hub's status needs boto3: pip install -r requirements.txt")
        ], None
    config = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})
    ssm = boto3.client("ssm", region_name=parameters.region, endpoint_url=os.environ.get("AWS_ENDPOINT_URL_SSM"), config=config)
    try:
        document = gateway_status.read_document(ssm, parameters, status_slots(vpn))
    except gateway_status.HubStatusError as exc:  # each of its tunnels, unknown: not one row for all
        return unknown_rows(vpn, vpn.hub.name, str(exc)), None
    view = GatewayView(document["time"], document["bundle"]["serial"])
    return gateway_status.diagnose(vpn, document, stale_after or gateway_status.stale_after(vpn)), view


def cmd_status(args: argparse.Namespace) -> int:
    stack_file = read_stack(args.stack_file)
    vpn = stack_file.vpn

    check_ssh_key(args.ssh_key)  # ssh would only warn, and go on without it

    def run(node: str, command: str) -> str:
        return ask_host(vpn.node(node).ssh, command, args.ssh_key)

    rows, gateway = collect(vpn, stack_file.stack, run, args.stale_after), None
    if vpn.hub.kind == "aws":
        found, gateway = hub_rows(stack_file, args.stale_after)
        rows += found
    rows = mark_expired(vpn, rows)
    if args.format == "prometheus":
        sys.stdout.write(status_metrics(vpn, stack_file.stack, rows, gateway))
    else:
        print(json.dumps(json_rows(rows), indent=2) if args.format == "json" else format_rows(rows))
    return 0 if rows and all(r.state in ("ok", "expired") for r in rows) else 1


def cmd_import(args: argparse.Namespace) -> int:
    out = Path(args.out)
    stack = stack_name(out)  # Pulumi.<stack>.yaml: refused before anything is read when it names no stack
    if out.exists() or out.is_symlink():
        raise ConfigError([f"--out: {out} exists; import never overwrites a stack file (its secrets), name another"])
    if not out.parent.is_dir():
        folder = str(out.parent)
        raise ConfigError([f"--out: the folder {folder!r} does not exist; create it first (mkdir -p {shlex.quote(folder)})"])
    check_folder(out.parent, "--out")
    target = split_endpoint(args.ssh)
    if target is None:
        raise ConfigError([f"--ssh: {args.ssh!r} is not HOST or HOST:PORT; give where Pulumi reaches the hub, e.g. 10.10.10.1"])
    options = ImportOptions(target[0], target[1] or 22, args.ssh_user, args.endpoint, args.hub_name)
    configs = [read_wg_config(path) for path in args.configs]
    raw, notes = import_vpn(configs, options)
    try:
        notes += same_peers(raw, configs[0], stack)
    except ConfigError as exc:  # the configs parse, but describe a VPN check would refuse
        raise ConfigError(["the imported stack would not pass check:", *exc.messages]) from None
    text = stack_text(raw, [Path(p) for p in args.configs])
    with tempfile.TemporaryDirectory() as folder:  # it must read back as `check` reads it, before it is written
        trial = Path(folder) / out.name
        trial.write_text(text)
        read_stack(trial)
    write_file(out, text, 0o644, "--out", replace=False)  # no secret in it: public keys and addresses
    for note in notes:
        print(f"note: {escaped(note)}", file=sys.stderr)  # notes quote the imported files: escape sequences shown
    print(f"wrote {out}: hub {raw['hub']['name']} and {len(raw.get('sites', []))} site(s), {len(raw.get('peers', []))} peer(s)")
    return 0


def positive_seconds(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is no number of seconds; give a whole number above 0, e.g. 210")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wgsites", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate a stack file")
    check.add_argument("stack_file")
    check.set_defaults(func=cmd_check)
    who = sub.add_parser("access", help="print who reaches what (the access policy as a matrix)")
    who.add_argument("stack_file")
    who.set_defaults(func=cmd_access)
    render = sub.add_parser("render", help="write every node's files into a folder")
    render.add_argument("stack_file")
    render.add_argument("--out", required=True, help="folder; DIR/<node>/ per node")
    render.add_argument(
        "--hub-endpoint",
        help="the hub's public address when the stack cannot know it (an aws hub's Elastic IP)",
    )
    render.set_defaults(func=cmd_render)
    qr = sub.add_parser(
        "qr", help="a roaming peer's QR code from its config in the stack's outputs (terminal art, or --png / --svg)"
    )
    qr.add_argument("peer", help="the peer's name in the stack file")
    qr.add_argument("--stack", help="the Pulumi stack (default: the selected one)")
    qr.add_argument("--png", metavar="FILE", help="write the code as a PNG (0600: it holds the key)")
    qr.add_argument("--svg", metavar="FILE", help="write the code as an SVG (0600: it holds the key)")
    qr.set_defaults(func=cmd_qr)
    diagram = sub.add_parser("diagram", help="draw the topology as DOT, SVG and PNG (Graphviz)")
    diagram.add_argument("stack_file")
    diagram.add_argument("--out", default=".", help="folder; writes DIR/<stack>.dot, .svg and .png (default: here)")
    diagram.set_defaults(func=cmd_diagram)
    status = sub.add_parser(
        "status",
        help="which tunnels are up, and why not: hosts managed over SSH asked over SSH, an aws hub's view read from SSM; "
        "exit 1 when any tunnel is not ok",
    )
    status.add_argument("stack_file")
    status.add_argument("--ssh-key", help="SSH private key (default: your SSH agent and ~/.ssh)")
    status.add_argument(
        "--format",
        choices=("table", "json", "prometheus"),
        default="table",
        help="table (default); json: one object per tunnel; prometheus: metrics in the text exposition format "
        "(docs/monitoring.md)",
    )
    status.add_argument("--json", dest="format", action="store_const", const="json", help="the same as --format json")
    status.add_argument(
        "--stale-after",
        type=positive_seconds,
        metavar="SECONDS",
        help="a tunnel without a handshake for this long is stale (default: 180; an aws hub's view: 180 + its sync period)",
    )
    status.set_defaults(func=cmd_status)
    adopt = sub.add_parser("import", help="write a stack file from the wg-quick configs you already run (the hub's first)")
    adopt.add_argument("configs", nargs="+", metavar="CONFIG", help="the hub's wg-quick config, then any spokes' own")
    adopt.add_argument("--out", required=True, help="the stack file to write: Pulumi.<stack>.yaml (never overwritten)")
    adopt.add_argument("--ssh", required=True, help="HOST or HOST:PORT where Pulumi reaches the hub over SSH")
    adopt.add_argument("--ssh-user", default="root", help="login on the hub (not root: it needs passwordless sudo)")
    adopt.add_argument("--hub-name", default="hub", help="the hub's name in the stack (default: hub)")
    adopt.add_argument("--endpoint", help="what spokes dial (host or host:port), when no spoke's config given says it")
    adopt.set_defaults(func=cmd_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        for message in exc.messages:
            print(f"error: {escaped(message)}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {escaped(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path given that cannot be read or written (permissions, a full disk): said, no traceback
        where = escaped(str(exc.filename or ""))
        print(f"error: {where}: {escaped(exc.strerror or str(exc))}; check the path and its permissions", file=sys.stderr)
        return 2
