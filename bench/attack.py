#!/usr/bin/env python3
"""Andi under attack, measured: prints numbers, asserts nothing.

Starts `andi serve` (the release binary) on a fresh SQLite file and measures
  1. a legitimate key's GET /api/objects throughput and p99, alone and during a flood of
     unknown (well-formed) keys from another address;
  2. the server's peak memory while 10 clients send 10 MiB JSON bodies at once;
  3. how many idle connections the server still holds after its idle timeout.
Every loop is bounded in time. Only loopback addresses are used.

    cargo build --release && python3 bench/attack.py [--seconds 5]
"""

import argparse
import asyncio
import os
import random
import string
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANDI = os.environ.get("ANDI_BIN", os.path.join(ROOT, "target", "release", "andi"))
PORT = 18087
ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase


def base62(value, width):
    digits = []
    for _ in range(width):
        value, rem = divmod(value, 62)
        digits.append(ALPHABET[rem])
    return "".join(reversed(digits))


def unknown_key():
    """A key with a valid checksum that no database holds, as the server's format wants."""
    import zlib

    body = "andi_live_" + "".join(random.choice(ALPHABET) for _ in range(30))
    return body + base62(zlib.crc32(body.encode()), 6)


def run(*args, env):
    return subprocess.run([ANDI, *args], env=env, check=True, capture_output=True, text=True)


async def request(host, path, key=None, body=None, source="127.0.0.1"):
    reader, writer = await asyncio.open_connection(host, PORT, local_addr=(source, 0))
    head = f"{'POST' if body is not None else 'GET'} {path} HTTP/1.1\r\nHost: andi\r\nConnection: close\r\n"
    if key:
        head += f"Authorization: Bearer {key}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"\r\n" + (body or b""))
    await writer.drain()
    status_line = await reader.readline()
    await reader.read()
    writer.close()
    return int(status_line.split()[1]) if status_line else 0


async def load(key, seconds, clients, source):
    latencies, deadline = [], time.monotonic() + seconds

    async def client():
        while time.monotonic() < deadline:
            started = time.monotonic()
            await request("127.0.0.1", "/api/objects", key, source=source)
            latencies.append(time.monotonic() - started)

    await asyncio.gather(*(client() for _ in range(clients)))
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan")
    return len(latencies) / seconds, p99


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if not os.path.exists(ANDI):
        sys.exit("build first: cargo build --release")
    workdir = tempfile.mkdtemp(prefix="andi-attack-")
    env = dict(os.environ, DATABASE_URL=f"sqlite://{workdir}/andi.db?mode=rwc",
               ANDI_LISTEN=f"127.0.0.1:{PORT}", ANDI_POLICY_DIR=os.path.join(ROOT, "policies"),
               ANDI_IDLE_TIMEOUT="2s", RUST_LOG="warn")
    run("workspace", "create", "acme", "--name", "Acme", env=env)
    key = run("key", "create", "--workspace", "acme", "--name", "bench", "--role", "admin",
              env=env).stdout.strip()
    server = subprocess.Popen([ANDI, "serve"], env=env, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                if await request("127.0.0.1", "/healthz") == 200:
                    break
            except OSError:
                await asyncio.sleep(0.1)
        alone = await load(key, args.seconds, 16, "127.0.0.1")
        print(f"legitimate GET /api/objects alone:        {alone[0]:8.0f} req/s, p99 {alone[1]:6.1f} ms")

        flooding = True
        flood_count = 0

        async def flood():
            nonlocal flood_count
            while flooding:
                await request("127.0.0.1", "/api/objects", unknown_key(), source="127.0.0.2")
                flood_count += 1

        flooders = [asyncio.create_task(flood()) for _ in range(16)]
        during = await load(key, args.seconds, 16, "127.0.0.1")
        flooding = False
        await asyncio.gather(*flooders)
        print(f"legitimate GET /api/objects during flood: {during[0]:8.0f} req/s, p99 {during[1]:6.1f} ms"
              f"  ({flood_count / args.seconds:.0f} unknown-key req/s from 127.0.0.2)")

        body = b'{"name": "x", "attributes": {}, "padding": [' + b",".join([b"0"] * (5 * 1024 * 1024 - 1024)) + b"]}"
        before = rss_mb(server.pid)
        peak = before
        sending = asyncio.gather(*(request("127.0.0.1", "/api/objects", key, body) for _ in range(10)))
        task = asyncio.ensure_future(sending)
        while not task.done():
            peak = max(peak, rss_mb(server.pid))
            await asyncio.sleep(0.01)
        statuses = task.result()
        print(f"10 concurrent {len(body) / 2**20:.0f} MiB bodies: peak RSS {peak:.0f} MB "
              f"(from {before:.0f} MB), answers {sorted(set(statuses))}")

        idle = []
        for _ in range(200):
            _, writer = await asyncio.open_connection("127.0.0.1", PORT)
            idle.append(writer)
        await asyncio.sleep(3)
        held = int(subprocess.run(["sh", "-c", f"ls /proc/{server.pid}/fd | wc -l"],
                                  capture_output=True, text=True).stdout)
        status = await request("127.0.0.1", "/healthz")
        print(f"200 idle sockets, 3 s later: server holds {held} descriptors; /healthz answers {status}")
        for writer in idle:
            writer.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


asyncio.run(main())
