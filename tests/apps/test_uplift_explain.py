"""Explanations of the uplift kind: the served uplift split over the user's columns,
exactly (the attributions add up), through Python, the CLI and HTTP, bad input refused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from test_uplift import campaign, write

from modelry.apps.marketing.uplift import train_uplift
from modelry.explain.uplift import UpliftExplainer
from modelry.registry.store import Registry
from modelry.serving.kinds import open_runtime
from modelry.settings import Settings


@pytest.fixture(scope="module")
def offers(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("uplift-explain")
    settings = Settings(home=root / "home")
    train_uplift(
        write(campaign(3000, seed=1), root / "campaign.csv"),
        treatment="arm",
        control="none",
        outcome="visit",
        registry=Registry(settings),
        name="offers",
    )
    return settings


def _runtime(settings: Settings) -> Any:
    version = Registry(settings).resolve("offers")
    return open_runtime(version.path, "offers", version.version)


def _rows(n: int, seed: int) -> dict[str, np.ndarray]:
    frame = campaign(n, seed=seed).drop(columns=["arm", "visit", "spend"])
    return {c: frame[c].to_numpy() for c in frame.columns}


def test_attributions_add_up_to_the_served_uplift(offers: Settings) -> None:
    runtime = _runtime(offers)
    columns = _rows(60, seed=7)
    served = runtime.predict(columns)
    explanations = UpliftExplainer(runtime).explain(columns)
    assert len(explanations) == 60
    for i, e in enumerate(explanations):
        assert set(e.attributions) == {"x", "base", "group"}
        # The explained quantity is the served uplift (probability scale) of the best arm.
        assert e.score == pytest.approx(float(served["uplift"][i]), abs=1e-5)
        assert sum(e.attributions.values()) == pytest.approx(e.score - e.baseline_score, abs=1e-9)
        assert abs(e.delta) < 1e-9
        best = served["recommended_arm"][i] or None
        if best is not None:
            assert e.target == best
        assert e.quantity is not None and "uplift of P(visit)" in e.quantity
    # The baseline is one row (the average customer) for each arm.
    assert len({round(e.baseline_score, 12) for e in explanations if e.target == "Offer A"}) == 1


def test_the_columns_that_drive_each_arm_explain_it(offers: Settings) -> None:
    """Offer A works where x > 0; Offer B works on group b: their explanations say so."""
    runtime = _runtime(offers)
    columns = {
        "x": np.array([2.5, -2.5]),
        "base": np.array([0.0, 0.0]),
        "group": np.array(["a", "b"], dtype=object),
    }
    offer_a, offer_b = UpliftExplainer(runtime, top=1).explain(columns)
    assert offer_a.target == "Offer A" and offer_a.attributions["x"] > 0
    assert max(offer_a.attributions, key=lambda c: abs(offer_a.attributions[c])) == "x"
    assert offer_b.target == "Offer B" and offer_b.attributions["group"] > 0
    assert offer_a.reasons[0].text.startswith("x=2.5 raised the uplift by")


def test_cli_explains_uplift_rows_and_refuses_bad_input(
    offers: Settings, run_cli: Any, tmp_path: Path
) -> None:
    home = offers.home
    record = json.dumps({"x": 2.0, "base": 0.5, "group": "c"})
    result = run_cli("explain", "offers", "--record", record, "--json", home=home)
    assert result.code == 0, result.err
    (e,) = json.loads(result.out)["explanations"]
    assert e["target"] == "Offer A" and "quantity" in e
    assert sum(e["attributions"].values()) == pytest.approx(e["score"] - e["baseline_score"])
    table = run_cli("explain", "offers", "--record", record, home=home)
    assert table.code == 0 and "uplift of P(visit) with 'Offer A' over 'none'" in table.out
    assert "raised the uplift" in table.out
    missing = run_cli("explain", "offers", "--record", '{"x": 1.0}', home=home)
    assert missing.code != 0 and "missing column(s)" in missing.err
    assert len(missing.err.strip().splitlines()) == 1
    overall = run_cli("explain", "offers", home=home)
    assert overall.code != 0 and "uplift model" in overall.err
    # Targeting on the uplift model gives each contacted customer's reasons for the uplift.
    frame = campaign(120, seed=3).drop(columns=["arm", "visit", "spend"])
    source = write(frame, tmp_path / "customers.csv")
    out = tmp_path / "contacts.csv"
    targeted = run_cli(
        "marketing", "target", "offers", str(source), "--cost-per-contact", "1",
        "--value-per-conversion", "10", "--reasons", "2", "-o", str(out), home=home,
    )  # fmt: skip
    assert targeted.code == 0, targeted.err
    import pandas as pd

    contacted = pd.read_csv(out, keep_default_na=False).query("contacted")
    assert len(contacted) and contacted["reasons"].str.contains("the uplift by").all()


def test_http_explains_the_uplift_and_names_bad_rows(offers: Settings) -> None:
    from modelry.api.app import create_app

    rows = [{"x": 2.0, "base": 0.0, "group": "a"}, {"x": -1.0, "base": 1.0, "group": "b"}]

    async def ask() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        app = create_app(offers)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
                good = await client.post("/v1/models/offers:explain", json={"instances": rows})
                bad = await client.post(
                    "/v1/models/offers:explain", json={"instances": [{"x": 1.0, "group": "a"}]}
                )
                wrong = await client.post(
                    "/v1/models/offers:explain",
                    json={"instances": [{"x": "many", "base": 0.0, "group": "a"}]},
                )
                return good, bad, wrong

    good, bad, wrong = asyncio.run(ask())
    assert good.status_code == 200, good.text
    explained = good.json()["explanations"]
    assert [e["target"] for e in explained] == ["Offer A", "Offer B"]
    for e in explained:
        assert sum(e["attributions"].values()) == pytest.approx(e["score"] - e["baseline_score"])
        assert e["reasons"] and e["quantity"].startswith("uplift of P(visit)")
    assert bad.status_code == 422 and "base" in bad.text
    assert wrong.status_code == 422 and "instances[0].x" in wrong.text
