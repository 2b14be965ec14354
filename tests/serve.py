"""``keyq serve`` as an operator runs it: a real process on a free port of 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

KEYQ = Path(sys.executable).parent / "keyq"
COMMAND = [str(KEYQ)] if KEYQ.exists() else [sys.executable, "-m", "bot"]
"""The installed ``keyq`` command beside this Python, or the package run as a module."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server(subprocess.Popen[str]):
    """A ``keyq serve`` process: the port it listens on, and (once stopped by ``serving``) what
    it printed."""

    port: int
    output: str = ""


def serve(folder: Path, env: dict[str, str] | None = None) -> Server:
    """Starts ``keyq serve`` in ``folder`` with only ``env``'s KEYQ_ settings (none of the test
    run's own) and returns once it answers its health check."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEYQ_")}
    process = Server(
        [*COMMAND, "serve", "--port", str(port)],
        cwd=folder,
        env={**clean, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.port = port
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.TransportError:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "keyq serve did not start"
            time.sleep(0.1)


@contextmanager
def serving(folder: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """``serve``, stopped (and its output kept in ``output``) when the block ends."""
    process = serve(folder, env)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        process.output = process.stdout.read() if process.stdout else ""
