"""What every benchmark here records beside its figures: the machine, its load, the
CPU other processes took while we measured, the exact command, and the log they append to."""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
# Runs append to the dated log; RESULTS.md is the hand-kept summary drawn from it.
HISTORY = BENCH / "history.md"
SHARED_DATA = Path(os.environ.get("MODELRY_BENCH_DATA", BENCH.parent.parent / "shared" / "data"))
BANK = SHARED_DATA / "bank_marketing_additional" / "bank-additional-full.csv"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> str:
    try:
        return "{:.2f} / {:.2f} / {:.2f}".format(*os.getloadavg())
    except OSError:
        return "n/a"


def versions() -> dict[str, str]:
    import numpy
    import onnxruntime
    import sklearn
    import torch

    import modelry

    return {
        "modelry": modelry.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
    }


def cpu_snapshot() -> tuple[float, float]:
    """(busy CPU-seconds of the whole machine, CPU-seconds of this process and its children)."""
    import resource

    with open("/proc/stat") as f:
        parts = [float(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0.0)
    busy = (sum(parts[:8]) - idle) / hz
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy, me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def foreign_cpu(before: tuple[float, float], after: tuple[float, float], wall: float) -> str:
    """CPU used by other processes while we ran, in cores on average."""
    other = (after[0] - before[0]) - (after[1] - before[1])
    return f"{max(other, 0.0) / wall:.2f} cores"


def command_line() -> str:
    exe = sys.executable
    cwd = os.getcwd()
    if exe.startswith(cwd + os.sep):
        exe = os.path.relpath(exe, cwd)
    return " ".join(shlex.quote(a) for a in [exe, *sys.argv])


def append_results(section: str) -> None:
    """Append one section to bench/history.md; what others wrote there stays as it is."""
    if not HISTORY.exists():
        HISTORY.write_text(
            "# Benchmark history\n\nEach section names the command that produced it.\n",
            encoding="utf-8",
        )
    text = HISTORY.read_text(encoding="utf-8")
    sep = "" if text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
    with HISTORY.open("a", encoding="utf-8") as f:
        f.write(sep + section.rstrip("\n") + "\n")


def train_seed(
    name: str,
    data: dict[str, Any],
    path: Path,
    seed: int,
    home: Path,
    *,
    on_stage: Callable[[str], None] | None = None,
    **settings: Any,
) -> tuple[Any, float]:
    """One ``train_model`` run of the table at ``path`` with the default settings but the
    seed (``settings``: other top-level config, e.g. ``engine``, ``serve``), registered under
    ``home``; its outcome and the call's wall seconds."""
    from modelry.pipeline import train_model
    from modelry.settings import Settings
    from modelry.training.config import TrainConfig

    config = TrainConfig.from_dict(
        {"name": name, "data": data, "training": {"seed": seed}, **settings}
    )
    t0 = time.perf_counter()
    out = train_model(config, path, Settings(home=home), on_stage=on_stage)
    return out, time.perf_counter() - t0
