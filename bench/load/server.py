"""gunicorn serving ``wsgi:app`` on a free loopback port, for the length of a benchmark.

``with Gunicorn(env, workers=3) as server: ...`` starts it, waits until ``/readyz`` answers
200 and stops it on the way out, whatever happened (SIGTERM, then SIGKILL after a grace
period). The server also dies with the benchmark process (``PR_SET_PDEATHSIG``), so a killed
benchmark does not leave workers behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_available() -> bool:
    """Whether gunicorn is installed in this Python."""
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        return False
    return True


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Gunicorn:
    """A gunicorn master and its workers (``worker_pids()``)."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        workers: int,
        worker_class: str = "gthread",
        threads: int = 2,
        log_path: Path | None = None,
        ready_timeout: float = 300.0,
    ) -> None:
        self.env = env
        self.workers = workers
        self.worker_class = worker_class
        self.threads = threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def command(self) -> list[str]:
        """The command line (``python -m gunicorn ...``)."""
        cmd = [sys.executable, "-m", "gunicorn", "wsgi:app"]
        cmd += ["--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers)]
        cmd += ["--worker-class", self.worker_class]
        if self.worker_class == "gthread":
            cmd += ["--threads", str(self.threads)]
        # Keep-alive long enough that the load generator's connections stay open; no
        # per-request access log (the app's own request log is off too).
        cmd += ["--keep-alive", "30", "--timeout", "60", "--graceful-timeout", "10"]
        cmd += ["--log-level", "warning", "--error-logfile", "-"]
        return cmd

    def start(self) -> None:
        """Start the server and wait until ``/readyz`` answers 200 (stopped again if not)."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        out: Any = subprocess.DEVNULL
        if self.log_path is not None:
            self._log = out = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with {self.proc.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=5) as response:
                    if response.status == 200 and len(self.worker_pids()) >= self.workers:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not become ready in {self.ready_timeout:.0f} s")

    def worker_pids(self) -> list[int]:
        """The pids of the master's children (the workers), oldest first."""
        if self.proc is None:
            return []
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.proc.pid:  # ppid
                children.append((int(fields[19]), int(entry.name)))  # start time, pid
        return [pid for _start, pid in sorted(children)]

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL if the server is still there after 15 s."""
        proc, self.proc = self.proc, None
        try:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def __enter__(self) -> Gunicorn:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def pid_alive(pid: int) -> bool:
    """Whether a process of this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
