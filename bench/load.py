"""An async load generator (keep-alive GETs); run as a module: the mixed load of bench.stress."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx

REQUEST_TIMEOUT = 10.0
# uvicorn closes a keep-alive connection idle for 5 s; one idle this long is not reused.
IDLE_REUSE_SECONDS = 4.0
ClientKind = Literal["raw", "httpx"]


@dataclass(frozen=True)
class LoadResult:
    client: ClientKind
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu_seconds: float | None
    client_cpu_seconds: float
    machine_cpu_seconds: float | None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, percent: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = min(len(ordered), max(1, math.ceil(percent / 100 * len(ordered))))
        return ordered[rank - 1] * 1000

    @property
    def server_cpu_us_per_request(self) -> float | None:
        if self.server_cpu_seconds is None or not self.requests:
            return None
        return self.server_cpu_seconds / self.requests * 1e6

    @property
    def client_cpu_share(self) -> float:
        """How busy the load generator was: near 1.0 means it, not the server, set the pace."""
        return self.client_cpu_seconds / self.seconds if self.seconds else 0.0

    @property
    def other_cpu_share(self) -> float | None:
        """CPUs kept busy by everything but the server and the client: noise in the figures."""
        if self.machine_cpu_seconds is None or self.server_cpu_seconds is None or not self.seconds:
            return None
        others = self.machine_cpu_seconds - self.server_cpu_seconds - self.client_cpu_seconds
        return max(0.0, others / self.seconds)


def machine_cpu_seconds() -> float | None:
    """CPU time all processes have used since boot (Linux /proc/stat), else None."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal: everything but idle and iowait is work.
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class RawConnection:
    """One HTTP/1.1 keep-alive connection sending the same GET again and again.

    httpx spends about 1 ms of CPU per request: on a small machine it saturates a core before
    a bare Starlette page does, and every ratio against that baseline comes out too high.
    This reads status, Content-Length or chunks, and nothing else.
    """

    def __init__(self, base_url: str, path: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"the raw client speaks plain http only, not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {parts.netloc}",
            "Accept: text/html",
            "User-Agent: portal-bench",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0

    async def get(self) -> int:
        if time.monotonic() - self.last_used > IDLE_REUSE_SECONDS:
            # The server may have closed it meanwhile, as a browser knows: start a new one.
            self.close()
        self.last_used = time.monotonic()
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        reader = self.reader
        self.writer.write(self.request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lowered = head.lower()
        if b"\r\ntransfer-encoding: chunked" in lowered:
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await reader.readexactly(size + 2)
            await reader.readuntil(b"\r\n")  # End of the (empty) trailers.
        else:
            start = lowered.find(b"\r\ncontent-length:")
            if start < 0:
                raise ValueError("response without Content-Length or chunks")
            end = lowered.index(b"\r\n", start + 2)
            await reader.readexactly(int(lowered[start + 17 : end]))
        if b"\r\nconnection: close" in lowered:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


Get = Callable[[], Awaitable[int]]


async def _run(
    gets: list[Get], seconds: float, on_error: Callable[[int], None]
) -> tuple[int, int, float, list[float]]:
    """Call each worker's ``get`` in a loop until the deadline; time every answer."""
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(index: int, get: Get) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    status = await get()
            except (
                OSError,
                ValueError,
                TimeoutError,
                httpx.HTTPError,
                asyncio.IncompleteReadError,
            ):
                errors += 1
                on_error(index)
                continue
            latencies.append(time.perf_counter() - sent)
            if status != 200:
                errors += 1

    # Each worker stops starting requests at the deadline; the last ones still finish.
    await asyncio.gather(*(worker(index, get) for index, get in enumerate(gets)))
    return len(latencies), errors, time.perf_counter() - started, latencies


async def _measure(
    client: ClientKind,
    gets: list[Get],
    on_error: Callable[[int], None],
    warmup: float,
    duration: float,
    server_cpu: Callable[[], float | None],
) -> LoadResult:
    if warmup > 0:
        await _run(gets, warmup, on_error)
    return await _timed(client, lambda: _run(gets, duration, on_error), server_cpu)


# The measured part of a load: requests answered, errors, seconds taken, latencies.
Measured = tuple[int, int, float, list[float]]


async def _timed(
    client: ClientKind,
    run: Callable[[], Awaitable[Measured]],
    server_cpu: Callable[[], float | None],
) -> LoadResult:
    """Run the measured part once, with the CPU the server, this client and the machine used."""
    cpu_before, machine_before = server_cpu(), machine_cpu_seconds()
    client_before = time.process_time()
    requests, errors, seconds, latencies = await run()
    client_cpu = time.process_time() - client_before
    cpu_after, machine_after = server_cpu(), machine_cpu_seconds()
    return LoadResult(
        client=client,
        requests=requests,
        errors=errors,
        seconds=seconds,
        latencies=latencies,
        server_cpu_seconds=None
        if cpu_before is None or cpu_after is None
        else cpu_after - cpu_before,
        client_cpu_seconds=client_cpu,
        machine_cpu_seconds=None
        if machine_before is None or machine_after is None
        else machine_after - machine_before,
    )


async def measure(
    base_url: str,
    path: str,
    headers: dict[str, str],
    *,
    client: ClientKind,
    concurrency: int,
    warmup: float,
    duration: float,
    server_cpu: Callable[[], float | None],
) -> LoadResult:
    """Warm up, then load ``path`` for ``duration`` seconds over ``concurrency`` connections."""
    if client == "raw":
        connections = [RawConnection(base_url, path, headers) for _ in range(concurrency)]

        def reset(index: int) -> None:
            # A failed exchange leaves the connection in an unknown state: start a new one.
            connections[index].close()

        try:
            gets: list[Get] = [connection.get for connection in connections]
            return await _measure(client, gets, reset, warmup, duration, server_cpu)
        finally:
            for connection in connections:
                connection.close()

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # trust_env=False: a proxy from the environment must never sit between us and loopback.
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT, trust_env=False
    ) as http:

        async def get() -> int:
            return (await http.get(path, headers=headers)).status_code

        gets = [get] * concurrency
        return await _measure(client, gets, lambda _: None, warmup, duration, server_cpu)


async def measure_at_rate(
    base_url: str,
    path: str,
    headers: dict[str, str],
    *,
    rate: float,
    warmup: float,
    duration: float,
    server_cpu: Callable[[], float | None],
) -> LoadResult:
    """Open loop: start a GET every 1/``rate`` s, whatever the earlier answers do.

    Each latency counts from when the request was due, not from when a connection was free,
    so a slow answer shows in every request it delays (no coordinated omission). Connections
    are opened as needed and reused once free.
    """
    idle: list[RawConnection] = []
    opened: list[RawConnection] = []
    latencies: list[float] = []
    errors = 0

    async def one(due: float, timed: bool) -> None:
        nonlocal errors
        connection = idle.pop() if idle else RawConnection(base_url, path, headers)
        if connection not in opened:
            opened.append(connection)
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                status = await connection.get()
        except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError):
            connection.close()
            errors += timed
            idle.append(connection)
            return
        idle.append(connection)
        if timed:
            latencies.append(time.perf_counter() - due)
            errors += status != 200

    async def run(seconds: float, timed: bool) -> float:
        started = time.perf_counter()
        pending: set[asyncio.Task[None]] = set()
        for index in range(max(1, round(rate * seconds))):
            due = started + index / rate
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            task = asyncio.create_task(one(due, timed))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)
        return time.perf_counter() - started

    async def measured() -> Measured:
        seconds = await run(duration, timed=True)
        return len(latencies), errors, seconds, latencies

    try:
        if warmup > 0:
            await run(warmup, timed=False)
        return await _timed("raw", measured, server_cpu)
    finally:
        for connection in opened:
            connection.close()


if __name__ == "__main__":
    # `python -m bench.load`: the mixed load on `portal serve` (this module is its generator).
    import sys

    from bench.stress import main

    sys.exit(main())
