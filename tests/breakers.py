"""Ways to break the database under a running server: cut PostgreSQL, lock or fill SQLite's disk.

For the fault tests (tests/functional/test_faults.py). The SQLite faults need root: chattr and
mount.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import subprocess
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
HOST = "127.0.0.1"
CHUNK = 64 * 1024


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class TcpProxy:
    """A loopback TCP relay in its own thread and event loop, which can be cut and restored.

    Its own loop: the caller's blocking steps (starting the server, which checks the database
    through the proxy) must not stop it from relaying.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.relayed = 0
        self.open = False

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def start(self) -> None:
        self.thread.start()
        self._call(self._listen())

    async def _listen(self) -> None:
        self.open = True
        self.server = await asyncio.start_server(self._relay, HOST, self.port, reuse_address=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        if not self.open:  # Cut while this one was being set up.
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self.relayed += 1
        self.writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    async def _cut(self) -> None:
        self.open = False
        if self.server is not None:
            self.server.close()  # New connections are refused ...
            self.server = None
        for writer in list(self.writers):
            writer.transport.abort()  # ... and the open ones are reset.
        self.writers.clear()

    def cut(self) -> None:
        self._call(self._cut())

    def restore(self) -> None:
        self._call(self._listen())

    def close(self) -> None:
        if self.thread.is_alive():
            self._call(self._cut())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()


@contextmanager
def proxy(target: tuple[str, int]) -> Iterator[TcpProxy]:
    relay = TcpProxy(target)
    relay.start()
    try:
        yield relay
    finally:
        relay.close()


def sqlite_files(database: Path, *, shared_memory: bool = False) -> list[Path]:
    """The files that hold an SQLite database's data: the file and its write-ahead log, and
    with ``shared_memory`` the ``-shm`` file, SQLite's shared-memory index, which every process
    maps into its memory (made read-only under it, a write through the map is SIGBUS)."""
    files = [database, Path(f"{database}-wal")]
    if shared_memory:
        files.append(Path(f"{database}-shm"))
    return files


def immutable(paths: list[Path], on: bool) -> None:
    """chattr ±i: unlike chmod, it also binds root (the tests and the bench run as root)."""
    for path in paths:
        if path.exists():
            subprocess.run(
                ["chattr", "+i" if on else "-i", str(path)],
                check=True,
                capture_output=True,
                timeout=10,
            )


@contextmanager
def read_only(paths: list[Path]) -> Iterator[None]:
    """The files read-only for the block, then writable again (the repair)."""
    immutable(paths, True)
    try:
        yield
    finally:
        immutable(paths, False)


def cannot_break_files() -> str | None:
    """Why chattr and mount cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "chattr +i and mount need root"
    for tool in ("chattr", "mount", "umount"):
        if not any(Path(d, tool).exists() for d in os.environ.get("PATH", "").split(os.pathsep)):
            return f"{tool} is missing"
    return None


@contextmanager
def small_disk(folder: Path, size_kb: int) -> Iterator[Path]:
    """A tmpfs of ``size_kb`` mounted on ``folder`` for the block: a disk that can be filled."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs", str(folder)],
        check=True,
        capture_output=True,
        timeout=10,
    )
    try:
        yield folder
    finally:
        done = subprocess.run(["umount", str(folder)], capture_output=True, timeout=10)
        if done.returncode != 0:  # Still busy: detach it now, freed when the last file closes.
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=10)


def fill(folder: Path, name: str = "filler") -> Path:
    """Write a file in ``folder`` until its disk is full; delete it to free the space.

    Called again, it takes what was freed meanwhile (SQLite may free some by checkpointing).
    """
    path = folder / name
    with path.open("ab", buffering=0) as out:
        for size in (CHUNK, 4096, 1):  # Down to the last byte.
            block = b"\0" * size
            try:
                while out.write(block):
                    pass
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    return path
