"""N replicas of the page behind HAProxy, with cookie-sticky sessions: the config and the processes.

``haproxy_config`` renders ``haproxy.cfg.template`` for any list of replicas; ``Deployment`` starts N
``python app.py`` processes on loopback ports and HAProxy in front of them (``python -m deploy``, the end-to-end
test and ``benchmarks.classroom_load --replicas``); ``compose_files`` writes the same recipe for ``docker compose``.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template

import httpx

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "haproxy.cfg.template"
COOKIE = "playground_replica"  # = playground.ui.sessions.REPLICA_COOKIE (a test holds them equal)
HEALTH = "/gradio_api/app_id"  # a replica is up when Gradio answers this small JSON (the page itself is ~500 KB)
QUEUE_SLOTS = 2  # events one replica runs at once (build_demo: default_concurrency_limit=2)
IMAGE = "gpt-playground"  # the README's `docker build -t gpt-playground .`
APP_PORT = 7860  # the image's port (Dockerfile: EXPOSE 7860, GRADIO_SERVER_PORT=7860)


def haproxy_path() -> str:
    """Debian's haproxy (in /usr/sbin, outside a normal user's PATH); a clear message when it is missing."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise FileNotFoundError("haproxy is not installed: `sudo apt-get install haproxy` (Debian/Ubuntu)")
    return found


def torch_threads(replicas: int, cores: int | None = None) -> int:
    """PLAYGROUND_TORCH_THREADS for each of ``replicas`` on ``cores`` cores: every queue slot of every replica
    gets its own cores, at least one thread (app.py's default; 2 replicas on 2 cores: 1)."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // (replicas * QUEUE_SLOTS))


def haproxy_config(servers: list[tuple[str, str]], bind: str, resolvers: str = "", server_options: str = "") -> str:
    """The HAProxy config for ``servers`` [(name, "host:port")]; the name is also its cookie value."""
    if not servers or len({name for name, _ in servers}) != len(servers):
        raise ValueError(f"need one or more replicas with distinct names; got {servers}")
    lines = "\n".join(f"    server {name} {address} cookie {name}" for name, address in servers)
    return Template(TEMPLATE.read_text()).substitute(
        bind=bind, cookie=COOKIE, health=HEALTH, servers=lines, resolvers=resolvers, server_options=server_options)


def compose_files(replicas: int = 2, port: int = 8080, threads: int = 1) -> dict[str, str]:
    """{file name in deploy/: text}: ``compose.yaml`` (``replicas`` app services from the project's image, each
    with ``threads`` torch threads, and HAProxy) and the ``haproxy.compose.cfg`` it mounts. ``python -m deploy
    compose`` writes them."""
    names = [f"app{i}" for i in range(1, replicas + 1)]
    cfg = haproxy_config([(f"r{i}", f"{name}:{APP_PORT}") for i, name in enumerate(names, 1)], bind=f":{port}",
                         resolvers="\nresolvers docker\n    nameserver dns 127.0.0.11:53\n",
                         server_options=" resolvers docker init-addr last,libc,none")
    compose = f"""# GPT Playground: {replicas} replicas of the project's image behind HAProxy, one browser on one replica.
# Written by `python -m deploy compose --replicas {replicas}`; run it from deploy/: `docker compose up -d --build`,
# then open http://<this host>:{port}. PLAYGROUND_TORCH_THREADS: the host's cores / ({replicas} replicas x {QUEUE_SLOTS} queue
# slots), at least 1 (`--threads`).
x-replica: &replica
  image: {IMAGE}
  build: ..
  restart: unless-stopped
  environment:
    PLAYGROUND_TORCH_THREADS: "{threads}"
    FORWARDED_ALLOW_IPS: "*"  # only HAProxy reaches this port (not published): trust its X-Forwarded-For
  expose: ["{APP_PORT}"]
  healthcheck:
    test: ["CMD", "curl", "-fsS", "http://127.0.0.1:{APP_PORT}{HEALTH}"]
    interval: 30s
    timeout: 5s
    start_period: 60s
    retries: 3
services:
""" + "".join(f"  {name}: *replica\n" for name in names) + f"""  proxy:
    image: haproxy:2.6
    restart: unless-stopped
    ports: ["{port}:{port}"]
    volumes: ["./haproxy.compose.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"]
    depends_on:
""" + "".join(f"      {name}:\n        condition: service_healthy\n" for name in names)
    return {"compose.yaml": compose, "haproxy.compose.cfg": cfg}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not answer {url} within {timeout:.0f} s")


@dataclass
class Replica:
    name: str  # also its cookie value and the X-Playground-Replica header
    port: int
    proc: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Deployment:
    """``replicas`` × ``python app.py`` on loopback ports and HAProxy on ``host:port`` in front (a context manager).

    ``env`` is added to every replica's environment (e.g. PLAYGROUND_STATE_TTL_S); their output goes to
    ``log_dir`` (a temporary folder by default), one file per replica and one for HAProxy.
    """

    def __init__(self, replicas: int = 2, port: int = 0, host: str = "127.0.0.1", threads: int | None = None,
                 env: dict | None = None, log_dir: str | Path | None = None):
        if replicas < 1:
            raise ValueError(f"need at least one replica; got {replicas}")
        self.n, self.host, self.port = replicas, host, port or free_port(host)
        self.threads = threads or torch_threads(replicas)
        self.extra_env = dict(env or {})
        self.haproxy_bin = haproxy_path()
        self.dir = Path(log_dir or tempfile.mkdtemp(prefix="playground-replicas-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.replicas: list[Replica] = []
        self.proxy: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{'127.0.0.1' if self.host in ('0.0.0.0', '') else self.host}:{self.port}"

    def config(self) -> str:
        return haproxy_config([(r.name, f"127.0.0.1:{r.port}") for r in self.replicas], bind=f"{self.host}:{self.port}")

    def start_replica(self, name: str, port: int) -> Replica:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SERVER_NAME": "127.0.0.1",
               "GRADIO_SERVER_PORT": str(port), "PLAYGROUND_TORCH_THREADS": str(self.threads), **self.extra_env}
        log = open(self.dir / f"{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return Replica(name, port, proc)

    def start(self, timeout: float = 180.0) -> "Deployment":
        try:
            self.replicas = [self.start_replica(f"r{i}", free_port()) for i in range(1, self.n + 1)]
            for r in self.replicas:  # they load in parallel
                _wait(r.url + HEALTH, r.proc, timeout, f"replica {r.name}")
            cfg = self.dir / "haproxy.cfg"
            cfg.write_text(self.config())
            check = subprocess.run([self.haproxy_bin, "-c", "-q", "-f", str(cfg)], capture_output=True, text=True)
            if check.returncode:
                raise RuntimeError(f"haproxy refused {cfg}: {check.stdout}{check.stderr}")
            log = open(self.dir / "haproxy.log", "ab")
            self.proxy = subprocess.Popen([self.haproxy_bin, "-db", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
            log.close()
            _wait(self.url + HEALTH, self.proxy, 30, "haproxy")
        except BaseException:
            self.close()
            raise
        return self

    def replica(self, name: str) -> Replica:
        return next(r for r in self.replicas if r.name == name)

    def kill(self, name: str) -> None:
        """Stop one replica at once (SIGKILL: a crash, not a goodbye); HAProxy finds it down and moves its browsers."""
        proc = self.replica(name).proc
        proc.kill()
        proc.wait()

    def restart_dead(self) -> list[str]:
        """Start again, on the same port, every replica that exited; their names."""
        back = []
        for i, r in enumerate(self.replicas):
            if r.proc.poll() is not None:
                self.replicas[i] = self.start_replica(r.name, r.port)
                back.append(r.name)
        return back

    def close(self) -> None:
        for proc in [self.proxy, *(r.proc for r in self.replicas)]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in [self.proxy, *(r.proc for r in self.replicas)]:
            if proc is not None:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def __enter__(self) -> "Deployment":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
