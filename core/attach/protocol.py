"""Newline-delimited JSON between a runner process and the views attached to it.

Client → runner:
    {"op": "hello", "after": N, "role": "captain" | "viewer", "by": NAME}
    {"op": "command", "id": K, "command": {...Command.to_dict()}}
Runner → client:
    {"op": "welcome", "release": ID, "journal": PATH, "pid": PID, "tag": TAG}
    {"op": "event", "event": {...Event.to_record()}}      every event after N, then live
    {"op": "answer", "id": K, "refusal": null | TEXT}
    {"op": "refused", "message": TEXT}                     the connection itself is refused
    {"op": "finished", "phase": PHASE}                     the runner is done; it exits next

The socket lives in a 0700 folder beside the release lock, is itself 0600, and the runner
checks every peer's uid with SO_PEERCRED: only the user who runs the release may attach.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from pathlib import Path
from typing import Any

SOCKET_NAME = "attach.sock"
LOG_NAME = "runner.log"
# sun_path holds 108 bytes; longer paths are reached through /proc/self/fd/<folder>/<name>.
MAX_SOCKET_PATH = 100
CAPTAIN, VIEWER = "captain", "viewer"


class AttachError(Exception):
    """No runner could be reached, or it refused us; the message says why and what to do."""


def runner_dir(store_root: Path) -> Path:
    """The runner's folder (socket and log) inside a store's root."""
    return Path(store_root) / "runner"


def socket_path(store_root: Path) -> Path:
    return runner_dir(store_root) / SOCKET_NAME


def log_path(store_root: Path) -> Path:
    return runner_dir(store_root) / LOG_NAME


def private_dir(folder: Path) -> Path:
    """Create `folder` (0700) and make sure nobody else can enter it."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")


def decode(line: bytes) -> dict[str, Any]:
    """One message; raises ValueError on anything that is not a JSON object with an `op`."""
    message = json.loads(line.decode("utf-8"))
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise ValueError("not an attach message")
    return message


def peer_uid(sock: Any) -> int:
    """The uid of the process at the other end of a connected Unix socket (SO_PEERCRED)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


class _ShortPath:
    """A path for bind/connect that fits sun_path: the real one, or one through /proc/self/fd."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> str:
        if len(os.fsencode(self.path)) <= MAX_SOCKET_PATH:
            return str(self.path)
        self._fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        return f"/proc/self/fd/{self._fd}/{self.path.name}"

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)


def bind_socket(path: Path) -> socket.socket:
    """A listening socket at `path`, 0600 from birth, in a 0700 folder; a stale one is replaced.

    Only the lock holder calls this, so a socket file already there is a dead runner's.
    """
    private_dir(path.parent)
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        with _ShortPath(path) as address:
            server.bind(address)
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    server.listen(16)
    server.setblocking(False)
    return server


def connect_socket(path: Path, timeout: float = 5.0) -> socket.socket:
    """A connected socket to the runner at `path`; AttachError when nobody serves it."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(timeout)
    try:
        with _ShortPath(path) as address:
            client.connect(address)
    except FileNotFoundError:
        client.close()
        raise AttachError(f"no runner is serving {path}") from None
    except ConnectionRefusedError:
        client.close()
        raise AttachError(f"the runner socket {path} is stale: its runner is gone") from None
    except PermissionError:
        client.close()
        raise AttachError(f"permission denied on {path}: only the user who runs the release may attach") from None
    except OSError as error:
        client.close()
        raise AttachError(f"cannot reach the runner at {path}: {error.strerror or error}") from None
    client.setblocking(False)
    return client
