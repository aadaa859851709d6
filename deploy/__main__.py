"""``python -m deploy``: N replicas of ``app.py`` behind HAProxy on this machine, until Ctrl-C.

    python -m deploy --replicas 4 --host 0.0.0.0 --port 8080     # serve a room on port 8080
    python -m deploy config --replicas 4                          # print the HAProxy config only
    python -m deploy compose --replicas 2                         # write deploy/compose.yaml + haproxy.compose.cfg

A replica that exits is started again on its port (its tabs are told their session expired and continue from
their prompt and settings); HAProxy stops sending browsers to it while it is down.
"""
from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path

from deploy.replicas import HERE, Deployment, compose_files, haproxy_config, torch_threads


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.split("\n")[0])
    ap.add_argument("what", nargs="?", choices=("run", "config", "compose"), default="run")
    ap.add_argument("--replicas", type=int, default=2, help="app processes (one queue of 2 slots each)")
    ap.add_argument("--host", default="127.0.0.1", help="where HAProxy listens (0.0.0.0: the whole network)")
    ap.add_argument("--port", type=int, default=8080, help="HAProxy's port (replicas take free loopback ports)")
    ap.add_argument("--threads", type=int, default=None,
                    help="PLAYGROUND_TORCH_THREADS of each replica (default: cores / (replicas x 2), at least 1)")
    ap.add_argument("--out", default=str(HERE), help="compose: the folder to write into")
    a = ap.parse_args(argv)
    if a.replicas < 1:
        ap.error("--replicas must be at least 1")
    if a.what == "config":
        print(haproxy_config([(f"r{i}", f"127.0.0.1:{7860 + i}") for i in range(1, a.replicas + 1)],
                             bind=f"{a.host}:{a.port}"), end="")
        return
    if a.what == "compose":
        for name, text in compose_files(a.replicas, a.port, a.threads or 1).items():
            (Path(a.out) / name).write_text(text)
            print(f"wrote {Path(a.out) / name}")
        return
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    dep = Deployment(a.replicas, a.port, a.host, a.threads or torch_threads(a.replicas))
    with dep:
        print(f"{a.replicas} replicas ({dep.threads} torch thread(s) each) behind HAProxy: {dep.url}  "
              f"(logs: {dep.dir}; Ctrl-C stops)", flush=True)
        try:
            while True:
                time.sleep(2)
                for name in dep.restart_dead():
                    print(f"replica {name} exited; started again", flush=True)
        except KeyboardInterrupt:
            print("stopping", flush=True)


if __name__ == "__main__":
    main()
