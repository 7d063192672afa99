"""A load generator of plain keep-alive GETs: as fast as answered, or at a fixed rate."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT = 10.0
# uvicorn closes a keep-alive connection idle for 5 s; one idle this long is not reused.
IDLE_REUSE_SECONDS = 4.0
FAILURES = (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError)


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu_seconds: float | None
    client_cpu_seconds: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, percent: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        rank = min(len(ordered), max(1, math.ceil(percent / 100 * len(ordered))))
        return ordered[rank - 1] * 1000

    @property
    def cpu_us(self) -> float | None:
        """The server's CPU time per request, in microseconds."""
        if self.server_cpu_seconds is None or not self.requests:
            return None
        return self.server_cpu_seconds / self.requests * 1e6

    @property
    def client_busy(self) -> float:
        """The load generator's share of a CPU: near 1, it rather than the server set the pace."""
        return self.client_cpu_seconds / self.seconds if self.seconds else 0.0


class Connection:
    """One HTTP/1.1 keep-alive connection sending the same GET again and again.

    httpx spends about 1 ms of CPU per request: it would saturate a core before a bare
    Starlette page does. This reads the status and the body's length, nothing else.
    """

    def __init__(self, base_url: str, path: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        lines = [f"GET {path} HTTP/1.1", f"Host: {parts.netloc}", "Accept: text/html"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.last_used = 0.0

    async def get(self) -> int:
        if time.monotonic() - self.last_used > IDLE_REUSE_SECONDS:
            self.close()  # The server may have closed it meanwhile, as a browser knows.
        self.last_used = time.monotonic()
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(self.request)
        head = (await reader.readuntil(b"\r\n\r\n")).lower()
        if b"\r\ntransfer-encoding: chunked" in head:
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await reader.readexactly(size + 2)
            await reader.readuntil(b"\r\n")
        else:
            start = head.index(b"\r\ncontent-length:") + 17
            await reader.readexactly(int(head[start : head.index(b"\r\n", start)]))
        if b"\r\nconnection: close" in head:
            self.close()
        return int(head[9:12])

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
        self.streams = None


Measured = tuple[int, int, float, list[float]]  # answered, errors, seconds, latencies


async def _timed(
    run: Callable[[], Awaitable[Measured]], server_cpu: Callable[[], float | None]
) -> LoadResult:
    """Run the measured part once, with the CPU time the server and this client used."""
    cpu_before, client_before = server_cpu(), time.process_time()
    requests, errors, seconds, latencies = await run()
    cpu_after = server_cpu()
    return LoadResult(
        requests=requests,
        errors=errors,
        seconds=seconds,
        latencies=latencies,
        server_cpu_seconds=None
        if cpu_before is None or cpu_after is None
        else cpu_after - cpu_before,
        client_cpu_seconds=time.process_time() - client_before,
    )


async def closed_loop(
    base_url: str,
    path: str,
    headers: dict[str, str],
    *,
    concurrency: int,
    warmup: float,
    duration: float,
    server_cpu: Callable[[], float | None],
) -> LoadResult:
    """``concurrency`` connections, each sending its next request as soon as answered."""
    connections = [Connection(base_url, path, headers) for _ in range(concurrency)]

    async def run(seconds: float) -> Measured:
        latencies: list[float] = []
        errors = 0
        started = time.perf_counter()

        async def loop(connection: Connection) -> None:
            nonlocal errors
            while time.perf_counter() < started + seconds:
                sent = time.perf_counter()
                try:
                    async with asyncio.timeout(TIMEOUT):
                        status = await connection.get()
                except FAILURES:
                    errors += 1
                    connection.close()  # In an unknown state: start a new one.
                    continue
                latencies.append(time.perf_counter() - sent)
                errors += status != 200

        await asyncio.gather(*(loop(c) for c in connections))
        return len(latencies), errors, time.perf_counter() - started, latencies

    try:
        if warmup > 0:
            await run(warmup)
        return await _timed(lambda: run(duration), server_cpu)
    finally:
        for connection in connections:
            connection.close()


async def open_loop(
    base_url: str,
    path: str,
    headers: dict[str, str],
    *,
    rate: float,
    warmup: float,
    duration: float,
    server_cpu: Callable[[], float | None],
) -> LoadResult:
    """A GET every 1/``rate`` s, whatever the earlier answers do.

    Each latency counts from when the request was due, so a slow answer shows in every request
    it delays (no coordinated omission). Connections are opened as needed, reused once free.
    """
    idle: list[Connection] = []
    opened: list[Connection] = []

    async def run(seconds: float) -> Measured:
        latencies: list[float] = []
        errors = 0

        async def one(due: float) -> None:
            nonlocal errors
            if not idle:
                opened.append(Connection(base_url, path, headers))
                idle.append(opened[-1])
            connection = idle.pop()
            try:
                async with asyncio.timeout(TIMEOUT):
                    status = await connection.get()
                latencies.append(time.perf_counter() - due)
                errors += status != 200
            except FAILURES:
                errors += 1
                connection.close()
            idle.append(connection)

        started = time.perf_counter()
        tasks = []
        for index in range(max(1, round(rate * seconds))):
            due = started + index / rate
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
        return len(latencies), errors, time.perf_counter() - started, latencies

    try:
        if warmup > 0:
            await run(warmup)
        return await _timed(lambda: run(duration), server_cpu)
    finally:
        for connection in opened:
            connection.close()
