"""What the recruitment benchmarks share: the text encoder they embed with, and the bootstrap
interval of a mean their figures carry."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelry.settings import Settings

BOOTSTRAP = 10_000


def encoder_home(given: Path | None, scratch: Path) -> Path:
    """``given`` (a MODELRY_HOME holding ``text-encoder``), else a fresh one under
    ``scratch`` with the encoder registered (``modelry encoder add``, ~30 s)."""
    if given is not None:
        return given
    from modelry.cli.encoder import add_encoder

    home = scratch / "encoder"
    add_encoder(Settings(home=home))
    return home


def interval(values: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """The 95 % percentile bootstrap interval of the mean of ``values``."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (BOOTSTRAP, len(values)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))
