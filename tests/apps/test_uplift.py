"""Uplift models on a synthetic campaign whose true uplift is known, the uplift kind they
are served as, and the guard rails on campaign tables."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest

from modelry.apps.marketing.targeting import choose, effect_output
from modelry.apps.marketing.uplift import (
    IMBALANCE,
    MIN_ARM_ROWS,
    UpliftReport,
    read_campaign,
    train_uplift,
)
from modelry.errors import ConfigError, DataError, NotFittedError
from modelry.registry.store import Registry
from modelry.serving.kinds import open_runtime
from modelry.serving.uplift import NO_ARM, output_names, sanitise
from modelry.settings import Settings

ARMS = ("Offer A", "Offer B", "none")


def campaign(n: int = 3000, seed: int = 0, *, assign: str = "random") -> pd.DataFrame:
    """Customers with a known effect: ``Offer A`` adds 0.3 to P(visit) where x > 0 and
    takes 0.1 elsewhere; ``Offer B`` adds 0.25 to group ``b`` and takes 0.05 from the
    others. ``base`` raises the visit rate with or without contact, so that ranking by
    the response confuses those who visit anyway with those the offer moves."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    base = rng.normal(size=n)
    group = rng.choice(["a", "b", "c"], size=n)
    if assign == "random":
        arm = rng.choice(ARMS, size=n)
    else:  # not randomised: Offer A sent to those with high x
        arm = np.where(x > 0.3, "Offer A", rng.choice(["Offer B", "none"], size=n))
    p = 0.1 + 0.3 * (base > 0)
    p = p + np.where(arm == "Offer A", np.where(x > 0, 0.3, -0.1), 0.0)
    p = p + np.where(arm == "Offer B", np.where(group == "b", 0.25, -0.05), 0.0)
    visit = (rng.uniform(size=n) < np.clip(p, 0, 1)).astype(int)
    spend = np.where(visit == 1, np.round(rng.uniform(5, 50, n), 2), 0.0)
    return pd.DataFrame(
        {"x": x, "base": base, "group": group, "arm": arm, "visit": visit, "spend": spend}
    )


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[UpliftReport, Settings]:
    root = tmp_path_factory.mktemp("uplift")
    settings = Settings(home=root / "home")
    report = train_uplift(
        write(campaign(), root / "campaign.csv"),
        treatment="arm",
        control="none",
        outcome="visit",
        registry=Registry(settings),
        name="offers",
    )
    return report, settings


def test_each_arm_finds_the_customers_it_changes(trained: tuple[UpliftReport, Any]) -> None:
    report, _ = trained
    arms = {arm.arm: arm for arm in report.arms}
    assert sorted(arms) == ["Offer A", "Offer B"]
    assert report.dropped == ["spend"]  # recorded after the visit: it would leak it
    for arm in arms.values():
        assert arm.qini["t_learner"] > 0.1
        # the response ranking also finds those who visit anyway: the uplift model wins
        assert arm.qini["t_learner"] > arm.qini["response"]
        assert arm.beats_response and "T-learner) ranks better" in arm.verdict
        e = arm.observed
        assert e.low <= arm.predicted_ate <= e.high
        assert len(arm.deciles) == 10
    # true ATE: A = 0.5·0.3 − 0.5·0.1 = 0.1; B = 0.25/3 − 0.05·2/3 = 0.05
    assert arms["Offer A"].observed_all.low < 0.1 < arms["Offer A"].observed_all.high
    assert arms["Offer B"].observed_all.low < 0.05 < arms["Offer B"].observed_all.high
    doc = report.to_dict()
    assert {"qini", "auuc", "ate"} <= doc.keys()
    assert report.imbalances == []


def test_the_served_kind_recommends_the_arm_that_helps(trained: tuple[UpliftReport, Any]) -> None:
    report, settings = trained
    version = Registry(settings).get("offers", report.version or 0)
    runtime = open_runtime(version.path, "offers", version.version)
    assert runtime.kind == "uplift"
    rows = {"x": [2.0, -2.0, -2.0, 2.0], "base": [0.0] * 4, "group": ["a", "b", "a", "b"]}
    out = runtime.predict(rows)
    assert [s.name for s in runtime.outputs] == [
        "uplift", "recommended_arm", "p_control", "uplift_offer_a", "uplift_offer_b",
        "p_treated_offer_a", "p_treated_offer_b",
    ]  # fmt: skip
    assert out["recommended_arm"].tolist() == ["Offer A", "Offer B", NO_ARM, "Offer A"]
    np.testing.assert_allclose(
        out["uplift_offer_a"], out["p_treated_offer_a"] - out["p_control"], atol=1e-6
    )
    assert out["uplift"][2] <= 0 < out["uplift"][0]
    # targeting ranks on the best arm's uplift: the profit is incremental
    assert effect_output(runtime) == "uplift"
    selection = choose(out["uplift"], cost=1.0, value=10.0)
    assert selection.contacted.tolist() == [True, True, False, True]
    # Unloading releases the sessions; loading again serves the same numbers.
    runtime.unload()
    with pytest.raises(NotFittedError):
        runtime.predict(rows)
    runtime.load()
    np.testing.assert_array_equal(runtime.predict(rows)["uplift"], out["uplift"])


def test_v1_and_v2_serve_the_uplift_kind(trained: tuple[UpliftReport, Any]) -> None:
    from modelry.api.app import create_app

    _, settings = trained

    async def ask() -> tuple[httpx.Response, httpx.Response]:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
                v1 = await client.post(
                    "/v1/models/offers:predict",
                    json={"instances": [{"x": 2.0, "base": 0.0, "group": "a"}]},
                )
                v2 = await client.post(
                    "/v2/models/offers/infer",
                    json={
                        "inputs": [
                            {"name": "x", "datatype": "FP64", "shape": [1], "data": [-2.0]},
                            {"name": "base", "datatype": "FP64", "shape": [1], "data": [0.0]},
                            {"name": "group", "datatype": "BYTES", "shape": [1], "data": ["b"]},
                        ]
                    },
                )
                return v1, v2

    v1, v2 = asyncio.run(ask())
    assert v1.status_code == 200, v1.text
    record = v1.json()["predictions"][0]
    assert record["recommended_arm"] == "Offer A" and record["uplift_offer_a"] > 0.1
    assert v2.status_code == 200, v2.text
    outputs = {o["name"]: o["data"] for o in v2.json()["outputs"]}
    assert outputs["recommended_arm"] == ["Offer B"]
    assert {"p_control", "p_treated_offer_a", "uplift_offer_b"} <= outputs.keys()


def test_arm_names_become_output_names() -> None:
    assert sanitise("Mens E-Mail") == "mens_e_mail"
    assert output_names(["A b", "a-b", "€"]) == ["a_b", "a_b_2", "arm"]


# -- guard rails --------------------------------------------------------------------------


def test_bad_campaign_tables_are_refused_by_name(tmp_path: Path) -> None:
    path = write(campaign(600), tmp_path / "c.csv")

    def read(**kw: Any) -> Any:
        args = {"treatment": "arm", "control": "none", "outcome": "visit", **kw}
        return read_campaign(path, **args)

    with pytest.raises(DataError, match=r"no treatment column 'segment'.*columns: x, base"):
        read(treatment="segment")
    with pytest.raises(DataError, match="no outcome column 'bought'"):
        read(outcome="bought")
    with pytest.raises(ConfigError, match=r"'No E-Mail' does not occur.*'Offer A', 'Offer B'"):
        read(control="No E-Mail")
    with pytest.raises(DataError, match="outcome 'x' must be binary"):
        read(outcome="x")
    blank = campaign(600)
    blank.loc[blank.index[:3], "arm"] = None
    blank_path = write(blank, tmp_path / "blank.csv")
    with pytest.raises(DataError, match=r"3 rows of blank\.csv have no 'arm' value"):
        read_campaign(blank_path, treatment="arm", control="none", outcome="visit")
    small = campaign(600)
    small.loc[small.index[:550], "arm"] = "none"
    few = write(small, tmp_path / "few.csv")
    with pytest.raises(DataError, match=f"at least {MIN_ARM_ROWS}"):
        read_campaign(few, treatment="arm", control="none", outcome="visit")


def test_an_arm_that_was_not_randomised_is_reported(tmp_path: Path) -> None:
    path = write(campaign(1500, assign="targeted"), tmp_path / "targeted.csv")
    report = train_uplift(path, treatment="arm", control="none", outcome="visit")
    found = {(i.arm, i.feature) for i in report.imbalances}
    assert ("Offer A", "x") in found
    assert all(abs(i.smd) > IMBALANCE for i in report.imbalances)
    assert any("may not be randomised: x differs between 'Offer A'" in w for w in report.warnings)
    assert report.model is None  # measured only: nothing registered without a registry


@pytest.mark.realdata
def test_hillstrom_ate_matches_the_difference_in_means(shared_data: Path) -> None:
    path = shared_data / "hillstrom_email" / "hillstrom.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    report = train_uplift(path, treatment="segment", control="No E-Mail", outcome="visit")
    arms = {arm.arm: arm for arm in report.arms}
    assert set(report.dropped) == {"conversion", "spend"}
    for name, ate in (("Mens E-Mail", 0.077), ("Womens E-Mail", 0.045)):
        arm = arms[name]
        assert abs(arm.observed_all.estimate - ate) < 0.002
        assert arm.observed.low <= arm.predicted_ate <= arm.observed.high
        assert max(arm.qini["t_learner"], arm.qini["class_transformation"]) > 0
        assert ("does NOT beat" in arm.verdict) == (not arm.beats_response)
    assert report.imbalances == []  # Hillstrom was randomised
