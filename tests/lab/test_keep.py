"""`scripts/lab STACK --keep`: the commands it prints work while it waits, and Enter tears the lab down.

Why: a node's WireGuard sockets and files live in its private mount namespace, so the old advice
(`ip netns exec wglXXXX-laptop bash`, then `wg show`) showed nothing, and `status` had no stack file naming
the lab's hosts. The test runs what a user would: scripts/lab from another folder with a relative path,
then the printed `--shell ... -c 'wg show'` and the printed `status` command, then Enter.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from pathlib import Path

from tests.stacks import stack_file

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "scripts" / "lab"


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"no {marker!r} from scripts/lab:\n{''.join(seen)}")


def printed(output: str, what: str) -> list[str]:
    """The command after `what:` in the kept lab's message, as argv."""
    line = next(line for line in output.splitlines() if line.strip().startswith(f"{what}:"))
    return shlex.split(line.split(":", 1)[1])


def test_keep_prints_a_shell_and_a_status_that_work(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.router.yaml").write_text(stack_file("router").read_text())
    proc = subprocess.Popen(
        [str(LAB), "stacks/Pulumi.router.yaml", "--keep"],  # relative to the folder it is run from
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = read_until(proc, "Press Enter to tear down.", 600)
        prefix = re.search(r"kept running; lab (wgl[0-9a-f]{4}), nodes: ", output).group(1)
        shell = printed(output, "a command on a node")
        assert shell[:3] == ["sudo", str(LAB), "--shell"] and shell[-2:] == ["-c", "wg show"]
        done = subprocess.run(shell[1:], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert re.search(r"^interface: \w+", done.stdout, re.M) and "peer: " in done.stdout, done.stdout
        node = shell[3]

        copy = Path(printed(output, "the stack as the lab runs it")[0])
        assert copy.name == "Pulumi.router.yaml" and copy.parent.name.startswith(f"{prefix}-")
        status = printed(output, "status, from the operator node")
        done = subprocess.run(status[1:], capture_output=True, text=True, timeout=90, cwd=tmp_path)
        assert "Traceback" not in done.stderr
        rows = done.stdout.splitlines()[1:]
        assert rows and all(row.split()[2] in ("ok", "never") for row in rows), done.stdout + done.stderr
        assert any(row.split()[2] == "ok" for row in rows), done.stdout
        print(f"\n{output}\n{done.stdout}")

        proc.communicate("\n", timeout=120)
    finally:
        if proc.poll() is None:
            proc.terminate()  # the lab tears itself down on SIGTERM
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0
    assert not any(p.name.startswith(f"{prefix}-") for p in Path("/run/netns").iterdir())
    gone = subprocess.run([str(LAB), "--shell", node, "-c", "true"], capture_output=True, text=True)
    assert gone.returncode == 2 and f"{node}: no such lab node" in gone.stderr


def test_a_stack_file_missing_from_the_callers_folder_is_refused_up_front(tmp_path: Path) -> None:
    done = subprocess.run([str(LAB), "Pulumi.none.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == (
        f"scripts/lab: {tmp_path}/Pulumi.none.yaml: no such stack file (from {tmp_path}); give its path from this folder, "
        "or a STACK name\n"
    )
