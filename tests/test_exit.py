"""Processes that imported Brian2 exit without the interpreter's last garbage collection."""

import subprocess
import sys

import pytest

_CYCLE = """
import sys
{setup}
class Cycle:  # garbage only the cycle collector frees: at exit, its last collection
    def __init__(self):
        self.me = self
    def __del__(self):
        print("collected at exit", flush=True)
Cycle()
print("done", flush=True)
"""


@pytest.mark.parametrize("setup, collected", [
    ("", True),  # Python's own shutdown collects the cycle (what the call removes)
    ("from brainlearn.standalone import skip_exit_collection\nskip_exit_collection()", False),
    ("from brainlearn.cli import main\nmain([])", False),  # every command
    ("from brainlearn.sweep import signals_from_any_thread\nimport threading\n"
     "def task():\n    with signals_from_any_thread():\n        pass\n"
     "t = threading.Thread(target=task)\nt.start()\nt.join()", False),  # a Dask worker's task
])
def test_the_last_collection_is_skipped_by_commands_and_worker_tasks(setup, collected):
    out = subprocess.run([sys.executable, "-c", _CYCLE.format(setup=setup)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "done" in out.stdout
    assert ("collected at exit" in out.stdout) is collected, out.stdout
