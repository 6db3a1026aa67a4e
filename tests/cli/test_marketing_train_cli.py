"""``modelry marketing train``: a response model with calibrated probabilities, served
calibrated on every path, call-outcome columns flagged, and bad input refused in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelry.cli.demo import campaign_table, write_csv


def _table(rows: int, seed: int) -> dict[str, Any]:
    """The demo campaign with two columns recorded by the call: ``duration`` (a known
    name) and ``minutes_on_line`` (the same kind of column under a name nobody lists)."""
    table = campaign_table(rows, seed=seed)
    rng = np.random.default_rng(seed)
    responded = np.asarray(table["responded"]) == "yes"
    table["duration"] = np.round(rng.lognormal(5.0, 0.6, rows) + 250 * responded, 1)
    table["minutes_on_line"] = np.round(rng.gamma(2.0, 2.0, rows) + 6.0 * responded, 2)
    return table


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``campaign`` trained by ``marketing train --json`` (temperature, the default)."""
    root = tmp_path_factory.mktemp("marketing-train")
    home = root / "home"
    env = {**os.environ, "MODELRY_HOME": str(home)}
    env.pop("MODELRY_REGISTRY_URL", None)
    data = write_csv(_table(1500, seed=5), root / "campaign.csv")
    done = subprocess.run(
        [sys.executable, "-m", "modelry.cli.main", "marketing", "train", str(data),
         "--target", "responded", "--name", "campaign", "--json"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return {"home": home, "root": root, "data": data, "report": json.loads(done.stdout)}


@pytest.fixture
def mkt(trained: dict[str, Any], run_cli: Any):  # type: ignore[no-untyped-def]
    def run(*args: str) -> Any:
        return run_cli("marketing", *args, home=trained["home"])

    return run


def test_the_report_gives_the_calibration_error_before_and_after(
    trained: dict[str, Any],
) -> None:
    report = trained["report"]
    calibration = report["calibration"]
    assert calibration["method"] == "temperature" and calibration["temperature"] > 0
    assert calibration["bins"] == 15
    for split in ("valid", "test"):
        for figure in ("ece", "brier"):
            assert set(calibration[split][figure]) == {"before", "after"}
    # Fitted on the validation split by maximum likelihood: it cannot raise its log loss.
    valid = calibration["valid"]
    assert valid["brier"]["after"] <= valid["brier"]["before"] + 1e-3
    version = Path(report["artifact"])
    assert (version / "plots" / "reliability.png").stat().st_size > 1000
    metrics = json.loads((version / "metrics.json").read_text())
    assert metrics["calibration"] == calibration
    card = (version / "card.md").read_text()
    assert "calibrated on the validation split (temperature" in card
    assert "| test |" in card


def test_call_outcome_columns_are_flagged_by_name_and_by_score(trained: dict[str, Any]) -> None:
    flags = {f["column"]: f for f in trained["report"]["call_outcome_columns"]}
    assert set(flags) == {"duration", "minutes_on_line"}
    assert flags["duration"]["by"] == "name"
    assert flags["minutes_on_line"]["by"] == "score"
    assert flags["minutes_on_line"]["score"] >= 0.80
    for column, flag in flags.items():
        assert flag["metric"] == "ROC-AUC" and flag["score"] > 0.5
        assert flag["advice"] == f"--drop {column}"
        assert f"--drop {column}" in flag["message"]


def test_the_served_probabilities_are_the_calibrated_ones(
    trained: dict[str, Any], mkt: Any, run_cli: Any, tmp_path: Path
) -> None:
    from modelry.registry.layout import NETWORK_FILE
    from modelry.serving.kinds import open_runtime

    version = Path(trained["report"]["artifact"])
    spec = json.loads((version / NETWORK_FILE).read_text())
    assert spec["calibration"]["method"] == "temperature"
    runtime: Any = open_runtime(version, "campaign", 1)
    customers = _table(200, seed=9)
    del customers["responded"]
    columns = {k: np.asarray(v) for k, v in customers.items()}
    encoded = runtime.preprocessor.transform(columns)
    network = runtime.raw_output(encoded.dense, encoded.codes)[:, 0]
    calibrated = runtime.network.calibration.apply(network)
    assert not np.allclose(calibrated, network, atol=1e-4)  # the map does something
    assert np.array_equal(runtime.predict(columns)["probability"], calibrated)
    # modelry predict and the targeting both read the served (calibrated) probability.
    source = write_csv(customers, tmp_path / "customers.csv")
    scored = tmp_path / "scored.csv"
    result = run_cli("predict", "campaign", str(source), "-o", str(scored), home=trained["home"])
    assert result.code == 0, result.err
    import pandas as pd

    assert pd.read_csv(scored)["score"].to_numpy() == pytest.approx(calibrated, abs=1e-6)
    out = tmp_path / "contacts.csv"
    result = mkt(
        "target", "campaign", str(source), "--cost-per-contact", "5",
        "--value-per-conversion", "60", "-o", str(out), "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert json.loads(result.out)["expected_conversions"] == pytest.approx(
        float(np.sort(calibrated)[::-1][calibrated[np.argsort(-calibrated)] * 60 > 5].sum()),
        rel=1e-5,
    )


def test_the_table_report_names_the_flags_and_the_chart(mkt: Any, trained: dict[str, Any]) -> None:
    result = mkt(
        "train", str(trained["data"]), "--target", "responded", "--name", "iso",
        "--calibration", "isotonic", "--drop", "duration,minutes_on_line", "--seed", "1",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "calibration on the validation split (isotonic" in result.out
    assert "ECE before" in result.out and "reliability chart" in result.out
    assert "call-outcome" not in result.err  # both dropped: nothing left to flag


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "responded", "--calibration", "platt"], "--calibration takes"),
        (["--target", "channel"], "needs a binary target"),
        (["--target", "no_such_column"], "no_such_column"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    mkt: Any, trained: dict[str, Any], args: list[str], message: str
) -> None:
    result = mkt("train", str(trained["data"]), *args)
    assert result.code != 0
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err


def test_a_known_outcome_gives_the_realised_profit_and_charts(mkt: Any, tmp_path: Path) -> None:
    """A labelled file (a test split): what the selection realised beside what it expected."""
    import pandas as pd

    customers = _table(400, seed=12)
    source = write_csv(customers, tmp_path / "labelled.csv")
    out, charts = tmp_path / "contacts.csv", tmp_path / "charts"
    result = mkt(
        "target", "campaign", str(source), "--cost-per-contact", "5",
        "--value-per-conversion", "60", "--outcome", "responded", "--charts", str(charts),
        "-o", str(out), "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    realised = json.loads(result.out)["realised"]
    written = pd.read_csv(out)
    chosen = written[written["contacted"]]
    y = (chosen["responded"] == "yes").to_numpy()
    assert realised["outcome"] == "responded"
    assert realised["conversions"] == int(y.sum())
    assert realised["profit"] == pytest.approx(float((60 * y - 5).sum()))
    assert 0 <= realised["ece"] <= 1
    for name in ("gains.png", "lift.png", "profit.png"):
        assert (charts / name).stat().st_size > 1000
    table = mkt(
        "target", "campaign", str(source), "--cost-per-contact", "5",
        "--value-per-conversion", "60", "--outcome", "responded", "-o", str(out),
    )  # fmt: skip
    assert "realised profit" in table.out and "calibration error" in table.out
    for column, message in (("channel", "must be binary"), ("nope", "no column(s) 'nope'")):
        bad = mkt(
            "target", "campaign", str(source), "--cost-per-contact", "5",
            "--value-per-conversion", "60", "--outcome", column, "-o", str(out),
        )  # fmt: skip
        assert bad.code != 0 and message in bad.err
        assert len(bad.err.strip().splitlines()) == 1, bad.err
