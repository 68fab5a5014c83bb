"""A process that has imported ssl-core once and forks a child per command (real processes, cheap to start).

Starting ``python -m ssl_core.cli`` afresh costs 10-20 s of imports on a
2-core machine; a fork after the imports is the same code path from
``ssl_core.cli.main`` on. A child may be given a fault to inject where it
writes files (:func:`faults.inject`): a full disk or a SIGKILL mid-write.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ZYGOTE = r"""
import json, os, sys, traceback
import torch
import ssl_core, ssl_core.cli, ssl_core.run, ssl_core.checkpoint_io
ssl_core.registry()  # built once, inherited by every child

def child(cmd):
    fd = os.open(cmd["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    code = 1
    os.environ.update(cmd.get("env") or {})
    try:
        if cmd.get("inject"):
            import faults
            faults.inject(**cmd["inject"])
        if cmd["op"] == "cli":
            code = ssl_core.cli.main(cmd["argv"])
        elif cmd["op"] == "call":  # a function of a module on the path, e.g. faults.build_toy_cache
            import importlib
            module, name = cmd["function"].rsplit(".", 1)
            code = getattr(importlib.import_module(module), name)(**cmd["kwargs"]) or 0
        elif cmd["op"] == "save_loop":  # rewrite a large file forever, each version filled with its number
            save = ssl_core.checkpoint_io.atomic_torch_save if cmd["atomic"] else torch.save
            i = 0
            while True:
                i += 1
                save({"version": torch.tensor(i), "data": torch.full((cmd["numel"],), float(i))}, cmd["path"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

print(json.dumps({"ready": True}), flush=True)
while True:
    line = sys.stdin.readline()
    if not line:
        break
    cmd = json.loads(line)
    if cmd["op"] == "wait":
        _, status = os.waitpid(cmd["pid"], 0)
        print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)
        continue
    pid = os.fork()
    if pid == 0:
        child(cmd)
    print(json.dumps({"pid": pid}), flush=True)
"""


class Zygote:
    """A process that has imported ssl-core and forks a child per request."""

    def __init__(self, cwd: Path):
        # One intra-op thread everywhere: the reference and the killed runs must share the
        # thread count (float reductions depend on it), and it is the fastest on 2 busy cores.
        tests = str(Path(__file__).resolve().parent)  # for the faults module
        path = os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", SSL_CORE_DISABLE_PLUGIN_AUTOLOAD="1",
                   PYTHONPATH=path)
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=cwd, env=env)
        assert self._reply() == {"ready": True}

    def _reply(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the zygote process died (exit code {self.proc.wait()})")
        return json.loads(line)

    def _send(self, cmd: dict) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def start(self, op: str, log: Path, **params) -> int:
        return self._send({"op": op, "log": str(log), **params})["pid"]

    def wait(self, pid: int) -> int:
        """The child's exit code (negative: killed by that signal)."""
        return self._send({"op": "wait", "pid": pid})["code"]

    def close(self) -> None:
        self.proc.kill()  # idle, every child reaped: nothing to lose, and a clean exit of torch takes seconds
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    z = Zygote(tmp_path_factory.mktemp("zygote"))
    yield z
    z.close()


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, not yet reaped by the zygote, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def poll_until(pid: int, predicate, timeout: float = 120.0) -> bool:
    """Poll ``predicate`` every ~0.5 ms while ``pid`` runs; whether it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if not alive(pid):
            return predicate()
        time.sleep(0.0005)
    raise TimeoutError("the child neither reached the kill point nor ended")


def file_id(path: Path):
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns
