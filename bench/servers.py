"""The portal and the bare page, each in a uvicorn process of its own, always stopped after."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STARTUP_SECONDS = 30.0
# Settings that would point the portal at another database, keys or workers than the bench's.
FOREIGN_SETTINGS = {"DATABASE_URL", "SECRET_KEY", "JOURNAL_KEY", "MASTER_KEY", "REDIS_URL"}
FOREIGN_SETTINGS |= {"WEB_CONCURRENCY", "HTTPS", "DEBUG"}


class ServerError(RuntimeError):
    """A server could not be prepared or started; the message carries the end of its log."""


@dataclass(frozen=True)
class Server:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 25) -> str:
        return tail(self.log, lines)

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process so far (Linux /proc), else None."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text(encoding="ascii")
        except OSError:
            return None
        # The command's name may hold spaces: count the fields after its closing parenthesis.
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def portal_environment(var_dir: Path, port: int = 0) -> dict[str, str]:
    """The environment of a development portal on ``var_dir``'s database and keys."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_SETTINGS}
    # Access logs would cost the portal CPU the bare page does not spend.
    env.update(PORTAL_ENV="development", PORTAL_VAR_DIR=str(var_dir), HOST=HOST, PORT=str(port))
    env.update(LOG_LEVEL="warning")
    return env


def run_module(command: list[str], env: dict[str, str], timeout: float = 600) -> None:
    """``python -m <command>`` to its end; ServerError with its output's end if it fails."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ServerError(f"python -m {' '.join(command)} took over {timeout:.0f} s") from error
    if done.returncode != 0:
        output = "\n".join(f"{done.stdout}{done.stderr}".splitlines()[-25:])
        raise ServerError(f"python -m {' '.join(command)} failed ({done.returncode}):\n{output}")


@contextmanager
def serve(
    name: str, command: list[str], env: dict[str, str], port: int, ready: str, log: Path
) -> Iterator[Server]:
    """Run ``command`` until the block ends; yield once ``ready`` answers 200."""
    with log.open("wb") as log_file:
        # A session of its own: Ctrl-C reaches only the bench, which then stops the server.
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, f"http://{HOST}:{port}", process, log)
    try:
        _wait_until_ready(server, ready)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(server: Server, path: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    with httpx.Client(base_url=server.base_url, timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise ServerError(f"{server.name} exited:\n{server.log_tail()}")
            try:
                if client.get(path).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # Not listening yet.
            time.sleep(0.1)
    raise ServerError(f"{server.name} not ready in {STARTUP_SECONDS:.0f} s:\n{server.log_tail()}")


@contextmanager
def portal_server(var_dir: Path) -> Iterator[Server]:
    """``python -m portal run`` (one uvicorn worker) on ``var_dir``'s data."""
    port = free_port()
    command = [sys.executable, "-m", "portal", "run"]
    env = portal_environment(var_dir, port)
    with serve("portal", command, env, port, "/healthz", var_dir / "portal.log") as server:
        yield server


@contextmanager
def baseline_server(var_dir: Path) -> Iterator[Server]:
    """The bare Starlette + Jinja page (bench/baseline.py), served the same way."""
    port = free_port()
    command = [sys.executable, "-m", "bench.baseline", str(port)]
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_SETTINGS}
    with serve("baseline", command, env, port, "/", var_dir / "baseline.log") as server:
        yield server
