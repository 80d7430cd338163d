"""The machine a benchmark ran on, for the report (CPU model, cores, memory,
torch version and threads, device), and how every benchmark writes its result."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path


def machine_info() -> dict:
    cpu = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gb = None
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = round(int(line.split()[1]) / 1e6, 1)
    info = {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": memory_gb,
            "python": platform.python_version(), "os": platform.platform(terse=True)}
    try:
        import torch

        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                    cuda=torch.cuda.is_available())
    except ImportError:  # the build benchmark may run outside the virtualenv
        pass
    return info


def stamp() -> dict:
    """What every result records: the machine and the time of the measurement."""
    return {"machine": machine_info(), "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def write_result(path: str | Path, result: dict) -> Path:
    """Write one benchmark's result as JSON (read by bench/report.py)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")
    return path
