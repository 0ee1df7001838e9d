"""One code path online and offline: decide once, before any Hugging Face library is imported, whether the
hub is reachable. If it is not, set HF_HUB_OFFLINE / HF_DATASETS_OFFLINE so nothing hangs on retries.

Override with LORA_BENCH_OFFLINE=1 (never touch the hub) or =0 (always try it). An HF_HUB_OFFLINE already
set by the user wins.
"""

from __future__ import annotations

import os
import socket
import threading

HUB_HOST = "huggingface.co"


def _hub_resolves(timeout: float = 2.0) -> bool:
    ok: list[bool] = []

    def probe():
        try:
            socket.getaddrinfo(HUB_HOST, 443)
            ok.append(True)
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    return bool(ok)


def configure() -> bool:
    """Set the offline variables where the hub cannot be reached; returns True when offline."""
    if "HF_HUB_OFFLINE" in os.environ:
        offline = os.environ["HF_HUB_OFFLINE"].lower() in ("1", "true", "yes")
    else:
        forced = os.environ.get("LORA_BENCH_OFFLINE")
        offline = forced.lower() in ("1", "true", "yes") if forced is not None else not _hub_resolves()
    if offline:
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ.setdefault(var, "1")
    return offline


OFFLINE = configure()
