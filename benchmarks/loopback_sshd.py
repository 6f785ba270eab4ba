"""A throwaway sshd on 127.0.0.1 for benchmarks: its own port, host key and client key pair.

Debian's `openssh-server` is installed with apt-get when `sshd` is missing (as root, which
this needs anyway: sshd only lets the user it runs as log in unless it is root). Nothing of
the machine's own ssh set-up is read or changed: every file lives in a temporary folder.

    with LoopbackSshd(folder) as sshd:
        subprocess.run(sshd.client_argv("echo hello", tty=False))
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")


def find_sshd() -> str | None:
    """The sshd binary, or None."""
    for candidate in (shutil.which("sshd"), *SSHD_CANDIDATES):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def ensure_sshd() -> str:
    """The sshd binary, installing Debian's openssh-server when it is missing."""
    found = find_sshd()
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("sshd is not installed and installing it needs root: run `apt-get install -y openssh-server` as root")
    if shutil.which("apt-get") is None:
        raise SystemExit("sshd is not installed and this is not a Debian-like host (no apt-get): install an OpenSSH server")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "openssh-server"]):
        result = subprocess.run(argv, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"`{' '.join(argv)}` failed ({result.returncode}): {result.stderr.strip()[-800:]}")
    found = find_sshd()
    if not found:
        raise SystemExit("openssh-server was installed but no sshd binary was found")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LoopbackSshd:
    """sshd listening on 127.0.0.1 with keys under `folder`; a context manager that stops it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.user = os.environ.get("USER") or "root"
        self.client_key = folder / "client_ed25519"
        self.process: subprocess.Popen[bytes] | None = None

    def _keygen(self, path: Path) -> None:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, stdin=subprocess.DEVNULL)

    def start(self) -> None:
        sshd = ensure_sshd()
        if os.geteuid() != 0:
            raise SystemExit("the loopback sshd must run as root (it changes to the logged-in user)")
        self.folder.mkdir(parents=True, exist_ok=True)
        host_key = self.folder / "host_ed25519"
        self._keygen(host_key)
        self._keygen(self.client_key)
        authorized = self.folder / "authorized_keys"
        authorized.write_text(Path(f"{self.client_key}.pub").read_text(encoding="utf-8"), encoding="utf-8")
        authorized.chmod(0o600)
        config = self.folder / "sshd_config"
        config.write_text(
            "\n".join([
                f"Port {self.port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {authorized}",
                f"PidFile {self.folder / 'sshd.pid'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "UsePAM no",
                "StrictModes no",  # the key files live in a world-readable temp folder
                "PrintMotd no",
                "PrintLastLog no",
                "Compression no",  # measure what the application writes, not zlib's luck
                "",
            ]),
            encoding="utf-8",
        )
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
        log = (self.folder / "sshd.log").open("wb")
        self.process = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"sshd exited {self.process.returncode}: {(self.folder / 'sshd.log').read_text()[-800:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"sshd did not listen on 127.0.0.1:{self.port} within 10s")

    def client_argv(self, command: str, *, tty: bool = True) -> list[str]:
        """ssh to this server running `command` (a shell command line)."""
        return [
            "ssh", *(["-tt"] if tty else ["-T"]),
            "-i", str(self.client_key), "-p", str(self.port),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "BatchMode=yes", "-o", "Compression=no", "-F", "/dev/null",
            f"{self.user}@127.0.0.1", command,
        ]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> LoopbackSshd:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()
