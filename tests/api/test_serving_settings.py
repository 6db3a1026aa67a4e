"""The embedded engine reads the models' stored serving settings, and never imports Ray."""

from __future__ import annotations

import subprocess
import sys

from modelry.api.app import create_app
from modelry.registry.serving_config import ModelServing, serving_path, write_serving
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
