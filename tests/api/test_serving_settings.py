"""The embedded engine reads the models' stored serving settings, and never imports Ray."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from modelry.api.app import create_app
from modelry.registry.serving_config import (
    ModelServing,
    read_serving,
    serving_path,
    write_serving,
)
from modelry.serving.batching import BatchPolicy
from modelry.settings import Settings


def test_stored_batching_overrides_the_default_for_that_model_only(settings: Settings) -> None:
    write_serving(settings.home, "tiers", ModelServing(batching=False))
    write_serving(settings.home, "spend", ModelServing(num_replicas=3))  # no batching field
    serving_path(settings.home, "clients").write_text("{not json")  # ignored, logged
    app = create_app(settings.model_copy(update={"max_batch_size": 16}))
    pool = app.state.plane.pool
    assert pool.policies["tiers"] == BatchPolicy(enabled=False, max_batch_size=16)
    assert pool.policies["spend"] == BatchPolicy(max_batch_size=16)  # the service's default
    assert "clients" not in pool.policies


def test_the_embedded_server_and_cli_never_import_ray() -> None:
    code = (
        "import sys, modelry.cli.main, modelry.api.server, modelry.api.app;"
        "from modelry.cli.serve import serve_command;"
        "bad = sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.'));"
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_models_scale_stores_settings_without_a_cluster(home: Path, run_cli: Any) -> None:
    done = run_cli("models", "scale", "tiers", "--min", "1", "--max", "4", "--cpus", "0.5",
                   "--json", home=home)  # fmt: skip
    assert done.code == 0, done.err
    printed = json.loads(done.out)
    assert printed["applied_to_versions"] == []
    assert read_serving(home, "tiers") == ModelServing(min_replicas=1, max_replicas=4, num_cpus=0.5)
    missing = run_cli("models", "scale", "nope", "--replicas", "2", home=home)
    assert missing.code == 1 and "nope" in missing.err
    both = run_cli("models", "scale", "tiers", "--replicas", "2", "--max", "3", home=home)
    assert both.code == 1 and "not both" in both.err


def test_serve_on_ray_refuses_workers(home: Path, run_cli: Any) -> None:
    done = run_cli("serve", "--engine", "ray", "--workers", "2", home=home)
    assert done.code == 1 and "models scale" in done.err
