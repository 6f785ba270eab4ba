"""A real Unleash server for tests: a throwaway PostgreSQL cluster and `unleash-server` on loopback.

`scripts/install-test-services.sh` installs PostgreSQL (Debian) and the pinned unleash-server
(npm, cached under ~/.cache/shipdeck-test). When something is missing the tests skip with the
command to run — except in CI (`CI` set), where a missing tool fails the test: a feature whose
real-server test silently skipped has not been tested.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx
import pytest

UNLEASH_VERSION = "7.5.1"  # keep in step with scripts/install-test-services.sh
ADMIN_TOKEN = "*:*.shipdeck-test-admin-token"
CLIENT_TOKEN = "default:production.shipdeck-test-client-token"
INSTALL = "scripts/install-test-services.sh"


def _missing(what: str) -> None:
    message = f"{what} is missing; run `bash {INSTALL}` (make test does)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        _missing("PostgreSQL (initdb under /usr/lib/postgresql/*/bin)")
    return found[-1].parent


def _unleash_entry() -> Path:
    cache = Path(os.environ.get("SHIPDECK_TEST_CACHE", Path.home() / ".cache" / "shipdeck-test"))
    entry = cache / f"unleash-server-{UNLEASH_VERSION}" / "node_modules" / "unleash-server" / "dist" / "server.js"
    if not entry.exists():
        _missing(f"unleash-server {UNLEASH_VERSION} ({entry})")
    if shutil.which("node") is None:
        _missing("node")
    return entry


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI and the dev machines run tests as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _wait_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port}:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen[bytes] | None, sig: int) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)


@dataclass
class UnleashServer:
    """A running Unleash: its URL, the admin token, and a client (SDK) token for `production`."""

    url: str
    admin_token: str = ADMIN_TOKEN
    client_token: str = CLIENT_TOKEN
    workdir: Path = field(default_factory=Path)
    _processes: list[tuple[subprocess.Popen[bytes], int]] = field(default_factory=list)

    def admin(self) -> httpx.Client:
        """A plain httpx client on the admin API, for test setup and for counting changes."""
        return httpx.Client(base_url=self.url, headers={"Authorization": self.admin_token}, timeout=30)

    def stop(self) -> None:
        for process, sig in reversed(self._processes):
            _stop(process, sig)
        self._processes.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_unleash() -> UnleashServer:
    """PostgreSQL + Unleash on loopback ports; the caller must `stop()` it."""
    pg_bin, entry = _pg_bin(), _unleash_entry()
    workdir = Path(tempfile.mkdtemp(prefix="shipdeck-unleash-"))
    os.chmod(workdir, 0o755)
    server = UnleashServer(url="", workdir=workdir)
    try:
        data = workdir / "pg"
        data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
        subprocess.run(
            _as_postgres([str(pg_bin / "initdb"), "-D", str(data), "-U", "unleash", "--auth=trust", "-E", "UTF8", "--no-sync"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        pg_port, pg_log = free_port(), workdir / "postgres.log"
        with pg_log.open("wb") as out:
            postgres = subprocess.Popen(
                _as_postgres(
                    [str(pg_bin / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(pg_port), "-k", str(data),
                     "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
                ),
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        server._processes.append((postgres, signal.SIGINT))  # SIGINT: PostgreSQL's fast shutdown
        _wait_port(pg_port, postgres, "postgres", pg_log, time.monotonic() + 60)
        for _ in range(50):  # listening precedes accepting connections by a moment
            made = subprocess.run(
                [str(pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(pg_port), "-U", "unleash", "unleash"],
                capture_output=True, timeout=30,
            )
            if made.returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"createdb failed: {made.stderr.decode(errors='replace')}")
        http_port, log = free_port(), workdir / "unleash.log"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir),
            "DATABASE_URL": f"postgres://unleash@127.0.0.1:{pg_port}/unleash",
            "DATABASE_SSL": "false",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(http_port),
            "INIT_ADMIN_API_TOKENS": ADMIN_TOKEN,
            "INIT_CLIENT_API_TOKENS": CLIENT_TOKEN,
            "CHECK_VERSION": "false",
            "SEND_TELEMETRY": "false",
            "LOG_LEVEL": "warn",
        }
        with log.open("wb") as out:
            unleash = subprocess.Popen(["node", str(entry)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        server._processes.append((unleash, signal.SIGTERM))
        server.url = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 180  # the first start runs every migration
        _wait_port(http_port, unleash, "unleash-server", log, deadline)
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"unleash-server never became healthy:\n{log.read_text(errors='replace')[-3000:]}")
    except BaseException:
        server.stop()
        raise


@pytest.fixture(scope="module")
def unleash_server() -> Iterator[UnleashServer]:
    """One Unleash (and its PostgreSQL) per test module; both stopped and deleted after."""
    server = start_unleash()
    try:
        yield server
    finally:
        server.stop()
