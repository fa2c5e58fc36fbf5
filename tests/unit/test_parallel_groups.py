"""The suite runs side by side (`scripts/test`: pytest-xdist, `--dist loadgroup`): tests that share a
module-scoped fixture (a lab brought up once for several tests, which build on each other) must run on
one worker, in order (tests/conftest.py), while the others spread over every worker."""

import re
import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).with_name("parallel_probe.py")


def test_tests_sharing_a_module_fixture_run_on_one_worker_in_order():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup", "-v", str(PROBE)],
        capture_output=True,
        text=True,
        cwd=PROBE.parents[2],
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    ran = re.findall(r"\[(gw\d+)\] .*PASSED .*::(test_\w+)\[", done.stdout)
    shared = {worker for worker, test in ran if test == "test_in_order_on_one_worker"}
    alone = {worker for worker, test in ran if test == "test_alone"}
    assert len(ran) == 12 and len(shared) == 1, done.stdout[-3000:]
    assert len(alone | shared) > 1, "every test ran on one worker: nothing ran side by side"
