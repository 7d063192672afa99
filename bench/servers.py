"""Start the portal and the baseline in their own uvicorn processes, and always stop them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.data import MANIFEST, BenchData

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STARTUP_SECONDS = 30.0
SETUP_SECONDS = 180.0
STOP_SECONDS = 5.0
LOG_LINES = 25

# Settings that would point the portal at another database, keys or workers than the bench's own.
FOREIGN_SETTINGS = (
    "DATABASE_URL",
    "SECRET_KEY",
    "JOURNAL_KEY",
    "REDIS_URL",
    "WEB_CONCURRENCY",
    "HTTPS",
    "DEBUG",
)


class ServerError(RuntimeError):
    """A server could not be prepared or started; the message carries the end of its log."""


@dataclass(frozen=True)
class Server:
    """A running server: where to reach it and how to read its CPU time."""

    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = LOG_LINES) -> str:
        """The end of the server's output: its tracebacks when a page failed."""
        return _tail(self.log, lines)

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process so far (Linux /proc), else None."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text(encoding="ascii")
        except OSError:
            return None
        # The command name may hold spaces: count fields after its closing parenthesis.
        fields = stat.rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def portal_environment(var_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_SETTINGS}
    env.update(
        PORTAL_ENV="development",
        PORTAL_VAR_DIR=str(var_dir),
        HOST=HOST,
        PORT=str(port),
        # Access logs would cost the portal CPU the baseline does not spend.
        LOG_LEVEL="warning",
    )
    return env


def _tail(path: Path, lines: int = LOG_LINES) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def prepare_portal_database(var_dir: Path) -> BenchData:
    """Build a fresh SQLite database: the real migrations, the demo data, the bench's dossiers."""
    env = portal_environment(var_dir, port=0)
    manifest = var_dir / MANIFEST
    for command in (
        ["portal", "migrate"],
        ["portal", "seed-demo"],
        ["bench.data", "--out", str(manifest)],
    ):
        shown = " ".join(["python -m", *command])
        try:
            done = subprocess.run(
                [sys.executable, "-m", *command],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=SETUP_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise ServerError(f"{shown} took over {SETUP_SECONDS:.0f} s") from error
        if done.returncode != 0:
            raise ServerError(
                f"{shown} failed ({done.returncode}):\n"
                + "\n".join(f"{done.stdout}{done.stderr}".splitlines()[-LOG_LINES:])
            )
    return BenchData.read(manifest)


@contextmanager
def serve(
    name: str, command: list[str], env: dict[str, str], port: int, ready_path: str, log: Path
) -> Iterator[Server]:
    """Run ``command`` until the block ends; yield once ``ready_path`` answers 200."""
    with log.open("wb") as log_file:
        # Its own session: Ctrl-C reaches only the bench, which then stops the server itself.
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        server = Server(name=name, base_url=f"http://{HOST}:{port}", process=process, log=log)
        _wait_until_ready(server, ready_path, log)
        yield server
    finally:
        _stop(process)


def _wait_until_ready(server: Server, path: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    with httpx.Client(base_url=server.base_url, timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise ServerError(
                    f"{server.name} exited with {server.process.returncode}:\n{_tail(log)}"
                )
            try:
                if client.get(path).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # Not listening yet.
            time.sleep(0.1)
    raise ServerError(
        f"{server.name} did not answer 200 on {path} within {STARTUP_SECONDS:.0f} s:\n{_tail(log)}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def portal_server(
    var_dir: Path, name: str = "portal", module: tuple[str, ...] = ("portal", "run")
) -> Iterator[Server]:
    """``python -m <module>`` with the portal's environment on ``var_dir``'s data."""
    port = free_port()
    with serve(
        name,
        [sys.executable, "-m", *module],
        portal_environment(var_dir, port),
        port,
        "/healthz",
        var_dir / f"{name}.log",
    ) as server:
        yield server


def floor_server(var_dir: Path) -> AbstractContextManager[Server]:
    """The portal with one page more: the worker's page cut to the goal's list (bench.floor)."""
    return portal_server(var_dir, "floor", ("bench.floor",))


@contextmanager
def baseline_server(log_dir: Path) -> Iterator[Server]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_SETTINGS}
    with serve(
        "baseline",
        [sys.executable, "-m", "bench.baseline", str(port)],
        env,
        port,
        "/",
        log_dir / "baseline.log",
    ) as server:
        yield server
