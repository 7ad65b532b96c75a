"""Find the pinned `ollama` binary and run `ollama serve` on a loopback port.

Used by `polski register --start-server`, the set-up script's main command and the
test fixtures. The binary is built by scripts/ollama/install.sh (never downloaded).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from training.errors import ServerError
from training.ollama_client import resolve_host

OLLAMA_VERSION = "0.24.0"
SUPPORTED_VERSIONS = ("0.24.",)  # a server reporting another version gets a warning-free refusal


def cache_dir() -> Path:
    return Path(os.environ.get("POLSKI_CACHE", Path.home() / ".cache" / "polski"))


def find_binary() -> Path | None:
    """$OLLAMA_BIN, then `ollama` on PATH, then the cached build of the pinned version."""
    explicit = os.environ.get("OLLAMA_BIN")
    if explicit:
        return Path(explicit) if Path(explicit).exists() else None
    on_path = shutil.which("ollama")
    if on_path:
        return Path(on_path)
    cached = cache_dir() / f"ollama-v{OLLAMA_VERSION}" / "ollama"
    return cached if cached.exists() else None


def require_binary() -> Path:
    binary = find_binary()
    if binary is None:
        raise ServerError("no `ollama` binary found: run `bash scripts/ollama/install.sh` (builds the pinned v0.24.0)")
    return binary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_version(url: str, timeout: float = 2.0) -> str | None:
    """The version a server at `url` reports on /api/version, or None if nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/api/version", timeout=timeout) as resp:
            return json.loads(resp.read())["version"]
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return None


def check_supported(version: str) -> None:
    if not version.startswith(SUPPORTED_VERSIONS):
        raise ServerError(
            f"Ollama server reports version {version}, but polski is tested with {OLLAMA_VERSION}: "
            "run the pinned server (bash scripts/ollama/install.sh)"
        )


@dataclass
class OllamaServer:
    """A running `ollama serve` owned by this process."""

    url: str
    binary: Path
    env: dict = field(repr=False)
    process: subprocess.Popen = field(repr=False)
    log_path: Path

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def cli(self, *args: str, timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess:
        """Runs the `ollama` CLI against this server."""
        return subprocess.run(
            [str(self.binary), *args], env=self.env, capture_output=True, text=True, timeout=timeout, input=input
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    models_dir: Path,
    *,
    port: int | None = None,
    binary: Path | None = None,
    extra_env: dict | None = None,
    timeout: float = 60.0,
    detach: bool = False,
) -> OllamaServer:
    """Starts `ollama serve` on 127.0.0.1 with its own OLLAMA_MODELS and waits until it answers."""
    binary = binary or require_binary()
    port = port or free_port()
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "OLLAMA_HOST": f"127.0.0.1:{port}",
        "OLLAMA_MODELS": str(models_dir),
        "OLLAMA_NOPRUNE": "1",
        **(extra_env or {}),
    }
    log_path = models_dir / "serve.log"
    log = open(log_path, "ab")
    process = subprocess.Popen(
        [str(binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=detach
    )
    log.close()
    server = OllamaServer(url=url, binary=binary, env=env, process=process, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"`ollama serve` exited with code {process.returncode}: see {log_path}")
        version = server_version(url, timeout=1.0)
        if version:
            check_supported(version)
            return server
        time.sleep(0.2)
    server.stop()
    raise ServerError(f"`ollama serve` did not answer on {url} within {timeout:.0f} s: see {log_path}")


def ensure_server(host: str | None = None, models_dir: Path | None = None) -> str:
    """For --start-server: the URL of an answering Ollama at HOST (default: OLLAMA_HOST or 127.0.0.1:11434), starting
    a detached `ollama serve` there if none answers (localhost only)."""
    url = resolve_host(host)[0]
    version = server_version(url)
    if version:
        check_supported(version)
        return url
    if not url.startswith(("http://127.0.0.1", "http://localhost")):
        raise ServerError(f"no Ollama server answers at {url}: start it there with `ollama serve`")
    port = int(url.rsplit(":", 1)[1]) if url.count(":") == 2 else 11434
    models = models_dir or Path(os.environ.get("OLLAMA_MODELS", Path.home() / ".ollama" / "models"))
    start_server(models, port=port, detach=True)
    return url
