"""Training keeps priority over page rendering (issue 22): the server's threads are niced, the training
children it starts are not. Checked from /proc in a separate process (the test process is left alone)."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SERVER = textwrap.dedent("""
    import json, multiprocessing as mp, os, threading, time
    from gan_core.jobs import priority
    from gan_core.jobs.spawn import start_child

    early = threading.Event()
    threading.Thread(target=early.wait, daemon=True).start()      # a server thread that exists before
    base = os.getpriority(os.PRIO_PROCESS, 0)
    state = priority.serve_below_training(5)
    again = priority.serve_below_training(7)                        # once per process
    out = {"base": base, "state": state, "again": again, "main": priority.nice_of(os.getpid(), threading.get_native_id())}
    tids = {}

    def session():   # a thread made later (a page session), which starts a training child
        tids["session"] = priority.nice_of(os.getpid(), threading.get_native_id())
        proc = mp.get_context("spawn").Process(target=time.sleep, args=(20,), daemon=True)
        start_child(proc)
        tids["child"] = priority.nice_of(proc.pid)
        proc.kill()
        proc.join()

    t = threading.Thread(target=session)
    t.start()
    t.join()
    out.update(tids)
    out["early"] = max(priority.nice_of(os.getpid(), int(x)) for x in os.listdir("/proc/self/task"))
    print(json.dumps(out))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice values per thread: Linux")
def test_server_threads_are_niced_and_training_children_are_not():
    r = subprocess.run([sys.executable, "-c", SERVER], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    base = out["base"]
    assert out["state"]["nice"] == 5 and out["state"]["threads"] >= 2 and out["state"]["launcher_nice"] == base
    assert out["again"] == out["state"]
    assert out["main"] == base + 5 and out["session"] == base + 5 and out["early"] == base + 5
    assert out["child"] == base   # the trainer child renders nothing and keeps the normal priority


def test_without_the_launcher_children_start_in_the_calling_thread():
    from gan_core.jobs import priority

    assert not priority.installed()   # the test process never installed it
    assert priority.launch(lambda: 42) == 42
