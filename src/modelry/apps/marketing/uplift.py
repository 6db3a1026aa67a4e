"""Uplift models from a randomised campaign: whom the contact actually changes.

``train_uplift`` reads a campaign table with a treatment column (the arm each customer
got, one value of which is the control: no contact) and a binary outcome, and fits per
arm:

- a **T-learner**: one response model on the arm's customers, one on the control's
  (shared by every arm); uplift = P(outcome | arm) − P(outcome | control). This is the
  model registered and served (the ``uplift`` kind, :mod:`modelry.serving.uplift`);
- a **class-transformation** model (Jaszewski & Jaroszewicz 2012): one classifier of
  ``z = y·t + (1 − y)(1 − t)`` on the arm's and the control's customers, reweighted so
  the two groups weigh the same; uplift = 2·P(z = 1) − 1;
- an **X-learner** (Künzel et al. 2019): the effect imputed on each group from the other
  group's response model (``y − μ_control(x)`` on the arm, ``μ_arm(x) − y`` on the
  control), each regressed on the features (ridge), mixed by the share treated. The two
  are measured beside the T-learner on the same split, so the report says which ranks
  best;
- the **response ranking** it must beat: P(outcome | arm) alone, the model a marketer
  without a control group would have ranked on.

Every model is modelry's linear baseline (logistic regression on the fitted
preprocessing): it is fast (Hillstrom's 64,000 rows in seconds on two cores), exact to
export (``LinearBaseline.as_network`` → ONNX), and on campaign data the per-customer
signal is weak, where a network adds variance before it adds lift. The estimators are
written here rather than taken from scikit-uplift or CausalML: both are two-line
compositions of a classifier, and scikit-uplift is unmaintained since 2022 (its metrics
are re-implemented in :mod:`modelry.apps.marketing.uplift_metrics` for the same reason).

The held-out split (stratified by arm × outcome) gives, per arm, the Qini coefficient and
AUUC of each ranking, the observed uplift by decile, and the average treatment effect as
a difference in means with its confidence interval beside the model's estimate (the mean
predicted uplift). Before fitting, the randomisation is checked: the standardised mean
difference of every feature between each arm and the control; above
:data:`IMBALANCE` it is reported as a warning.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from modelry.apps.marketing.uplift_metrics import (
    TreatmentEffect,
    auuc,
    average_treatment_effect,
    qini_coefficient,
    uplift_by_decile,
)
from modelry.data.clean import clean
from modelry.data.infer import infer_schema
from modelry.data.leakage import find_leaks
from modelry.data.schema import ColumnType, Schema, Task
from modelry.data.sources import read_table, to_columns
from modelry.errors import ArtifactError, ConfigError, DataError
from modelry.features.preprocessor import Encoded, Preprocessor, default_features
from modelry.registry.layout import PREPROCESSOR_FILE
from modelry.serving.kinds import check_runtime
from modelry.serving.uplift import (
    CONTROL_FILE,
    LINEAR_FILE,
    SPEC_FILE,
    UPLIFT_KIND,
    UpliftRuntime,
    output_names,
    treated_file,
)
from modelry.training.baseline import LinearBaseline
from modelry.training.export import to_onnx
from modelry.training.sampling import TrainData

if TYPE_CHECKING:
    from modelry.registry.records import ModelVersion
    from modelry.registry.store import Registry

MIN_ARM_ROWS = 100
"""The fewest rows an arm (or the control) may have: below it neither the response models
nor the held-out Qini mean anything."""

IMBALANCE = 0.1
"""Standardised mean difference above which a feature counts as imbalanced between an arm
and the control (the usual rule of thumb for randomised trials)."""

TEST_FRACTION = 0.3
PARITY_TOLERANCE = 1e-4
UPLIFT_METHODS = ("t_learner", "x_learner", "class_transformation")
METHODS = (*UPLIFT_METHODS, "response")


@dataclass(frozen=True)
class Imbalance:
    """A feature (or one level of it) whose mean differs between an arm and the control."""

    arm: str
    feature: str
    smd: float

    @property
    def message(self) -> str:
        return (
            f"treatment may not be randomised: {self.feature} differs between "
            f"{self.arm!r} and the control (standardised mean difference {self.smd:+.3f}, "
            f"above {IMBALANCE})"
        )


@dataclass(frozen=True)
class ArmResult:
    """One arm against the control on the held-out rows."""

    arm: str
    output: str
    qini: dict[str, float]
    auuc: dict[str, float]
    observed: TreatmentEffect
    observed_all: TreatmentEffect
    predicted_ate: float
    deciles: list[dict[str, Any]]
    rows: dict[str, int]

    @property
    def best(self) -> str:
        """The uplift method with the highest Qini on these rows (chosen on the held-out
        rows themselves, so its Qini is optimistic; the served T-learner's is not)."""
        return max(UPLIFT_METHODS, key=lambda m: self.qini[m])

    @property
    def beats_response(self) -> bool:
        """Whether the served T-learner ranks better than the response model."""
        return self.qini["t_learner"] > self.qini["response"]

    @property
    def verdict(self) -> str:
        q = self.qini
        others = (
            f"X-learner {q['x_learner']:.4f}, class transformation {q['class_transformation']:.4f}"
        )
        if self.beats_response:
            return (
                f"{self.arm}: the uplift model (T-learner) ranks better than the response "
                f"model: Qini {q['t_learner']:.4f} vs {q['response']:.4f} ({others})"
            )
        return (
            f"{self.arm}: the uplift model does NOT beat ranking by the response model: "
            f"Qini {q['t_learner']:.4f} for the T-learner vs {q['response']:.4f} ({others}); "
            "on these rows, ranking by P(outcome | contacted) finds the customers the "
            "contact changes at least as well"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "output": self.output,
            "qini": self.qini,
            "auuc": self.auuc,
            "best": self.best,
            "beats_response": self.beats_response,
            "verdict": self.verdict,
            "ate": {
                "observed": self.observed.to_dict(),
                "observed_all_rows": self.observed_all.to_dict(),
                "predicted": self.predicted_ate,
                "predicted_inside_ci": self.observed.low
                <= self.predicted_ate
                <= self.observed.high,
            },
            "deciles": self.deciles,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class UpliftReport:
    """What an uplift run measured (and registered, when it did)."""

    treatment: str
    control: str
    outcome: str
    arms: list[ArmResult]
    recommended: dict[str, int]
    imbalances: list[Imbalance]
    warnings: list[str]
    dropped: list[str]
    seconds: float
    model: str | None = None
    version: int | None = None
    features: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "kind": UPLIFT_KIND,
            "served": "t_learner",
            "treatment": self.treatment,
            "control": self.control,
            "outcome": self.outcome,
            "features": self.features,
            "dropped": self.dropped,
            "arms": [arm.to_dict() for arm in self.arms],
            "qini": {arm.arm: arm.qini for arm in self.arms},
            "auuc": {arm.arm: arm.auuc for arm in self.arms},
            "ate": {arm.arm: arm.to_dict()["ate"] for arm in self.arms},
            "recommended_arm": self.recommended,
            "imbalance": [
                {"arm": i.arm, "feature": i.feature, "smd": i.smd} for i in self.imbalances
            ],
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        }


# -- reading and checking -----------------------------------------------------------------


@dataclass(frozen=True)
class Campaign:
    """A randomised campaign table, checked: arms, control and a 0/1 outcome."""

    frame: pd.DataFrame
    schema: Schema
    arm: np.ndarray  # the treatment value per row, as text
    y: np.ndarray  # float 0/1
    control: str
    arms: list[str]
    treatment: str


def read_campaign(
    path: Path,
    *,
    treatment: str,
    control: str,
    outcome: str,
    drop: Sequence[str] = (),
    table: pd.DataFrame | None = None,
) -> Campaign:
    """Read and check a campaign table.

    Args:
        table: ``path`` as already read (it is left as it is), to spare a second read.

    Raises:
        DataError: The treatment or outcome column is missing, a row has no treatment,
            the outcome is not 0/1, or an arm (or the control) has fewer than
            :data:`MIN_ARM_ROWS` rows.
        ConfigError: ``control`` is not a value of the treatment column, or the table
            has no arm besides the control.
    """
    frame = read_table(path) if table is None else table
    for role, column in (("treatment", treatment), ("outcome", outcome)):
        if column not in frame.columns:
            raise DataError(
                f"{path.name} has no {role} column {column!r}; its columns: "
                f"{', '.join(map(str, frame.columns))}",
                column=column,
            )
    if treatment == outcome:
        raise ConfigError("the treatment and the outcome must be different columns")
    missing = [c for c in drop if c not in frame.columns]
    if missing:
        raise ConfigError(f"--drop names columns {path.name} lacks: {', '.join(missing)}")
    blank = int(frame[treatment].isna().sum())
    if blank:
        raise DataError(
            f"{blank} rows of {path.name} have no {treatment!r} value: every customer needs "
            "the arm they got (the control included)",
            column=treatment,
        )
    arm = frame[treatment].astype(str).to_numpy(dtype=object)
    values, counts = np.unique(arm, return_counts=True)
    if control not in set(values.tolist()):
        raise ConfigError(
            f"control value {control!r} does not occur in {treatment!r}; its values: "
            + ", ".join(repr(v) for v in values.tolist()),
            field="control",
        )
    y = _binary_outcome(frame[outcome], outcome)
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        if count < MIN_ARM_ROWS:
            what = "the control" if value == control else "arm"
            raise DataError(
                f"{what} {value!r} of {treatment!r} has {count} rows; each arm and the "
                f"control need at least {MIN_ARM_ROWS}",
                column=treatment,
            )
    arms = [v for v in values.tolist() if v != control]
    if not arms:
        raise ConfigError(f"{treatment!r} holds only the control {control!r}: no arm to compare")
    schema = infer_schema(frame, target=outcome, task=Task.BINARY, drop=[treatment, *drop])
    frame, _ = clean(frame, schema, drop_missing_rows=False)
    if len(frame) != len(arm):
        raise DataError(f"cleaning {path.name} dropped rows; remove rows without an outcome")
    if not schema.features:
        raise DataError(f"{path.name}: no feature column besides the treatment and outcome")
    return Campaign(frame, schema, arm, y, control, arms, treatment)


def _binary_outcome(series: pd.Series, name: str) -> np.ndarray:
    numbers: np.ndarray = np.asarray(pd.to_numeric(series, errors="coerce"), dtype=np.float64)
    bad = ~np.isin(numbers, (0.0, 1.0))
    if bad.any():
        seen = pd.unique(series[bad].astype(str))[:5]
        raise DataError(
            f"the outcome {name!r} must be binary (0 or 1 on every row); it holds "
            + ", ".join(repr(v) for v in seen.tolist()),
            column=name,
        )
    return numbers


def after_outcome(campaign: Campaign, rows: np.ndarray) -> list[str]:
    """Numeric features that are non-zero only where the outcome is 1, on ``rows``.

    Such a column (Hillstrom's ``conversion`` and ``spend`` beside ``visit``) records
    what happened after the contact: a model given it predicts the outcome from itself.
    """
    y = campaign.y[rows]
    found = []
    for col in campaign.schema.columns:
        if col.name not in campaign.schema.feature_names or col.type not in (
            ColumnType.NUMERIC,
            ColumnType.BOOLEAN,
        ):
            continue
        values = pd.to_numeric(campaign.frame[col.name].iloc[rows], errors="coerce")
        nonzero = (values.fillna(0) != 0).to_numpy()
        if nonzero.sum() >= 10 and not (nonzero & (y == 0)).any():
            found.append(col.name)
    return found


def randomisation_check(campaign: Campaign) -> list[Imbalance]:
    """Standardised mean differences of every feature, each arm against the control.

    Numeric features compare means (pooled standard deviation); other features compare
    the share of each of their (at most 20 most frequent) values.
    """
    found: list[Imbalance] = []
    control = campaign.arm == campaign.control
    for col in campaign.schema.columns:
        if col.name not in campaign.schema.feature_names:
            continue
        series = campaign.frame[col.name]
        if col.type is ColumnType.NUMERIC:
            parts = {col.name: pd.to_numeric(series, errors="coerce").to_numpy(np.float64)}
        else:
            text = series.astype(str)
            levels = text.value_counts().index[:20]
            parts = {f"{col.name}={v}": (text == v).to_numpy(np.float64) for v in levels}
        for arm in campaign.arms:
            treated = campaign.arm == arm
            for label, x in parts.items():
                smd = _smd(x[treated], x[control])
                if abs(smd) > IMBALANCE:
                    found.append(Imbalance(arm, label, smd))
    return found


def _smd(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2:
        return 0.0
    pooled = math.sqrt((float(a.var(ddof=1)) + float(b.var(ddof=1))) / 2)
    diff = float(a.mean() - b.mean())
    return 0.0 if pooled == 0 else diff / pooled


# -- fitting ------------------------------------------------------------------------------


@dataclass
class _Fit:
    preprocessor: Preprocessor
    encoded: Encoded
    control: LinearBaseline
    treated: dict[str, LinearBaseline]
    transformed: dict[str, LinearBaseline]
    x_learner: dict[str, tuple[LinearBaseline, LinearBaseline, float]]


def _rows(
    encoded: Encoded, rows: np.ndarray, y: np.ndarray, w: np.ndarray | None = None
) -> TrainData:
    return TrainData(
        dense=encoded.dense[rows], codes=encoded.codes[rows], y=y.astype(np.float32), weight=w
    )


def _predict(model: LinearBaseline, encoded: Encoded, rows: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict_output(encoded.dense[rows], encoded.codes[rows]))


def _fit(campaign: Campaign, train: np.ndarray, seed: int) -> _Fit:
    schema = campaign.schema
    columns = dict(to_columns(campaign.frame, schema.feature_names))
    preprocessor = Preprocessor(
        features=default_features(schema), missing_values=schema.missing_values
    ).fit({k: v[train] for k, v in columns.items()})
    encoded = preprocessor.transform(columns)
    y, arm = campaign.y, campaign.arm

    def fit(rows: np.ndarray, target: np.ndarray, w: np.ndarray | None = None) -> LinearBaseline:
        return LinearBaseline(Task.BINARY, seed=seed).fit(_rows(encoded, rows, target, w))

    control_rows = train[arm[train] == campaign.control]
    control = fit(control_rows, y[control_rows])
    treated, transformed, x_learner = {}, {}, {}
    for name in campaign.arms:
        arm_rows = train[arm[train] == name]
        treated[name] = fit(arm_rows, y[arm_rows])
        both = np.r_[arm_rows, control_rows]
        t = np.r_[np.ones(arm_rows.size), np.zeros(control_rows.size)]
        z = y[both] * t + (1 - y[both]) * (1 - t)
        # Each group weighs half, so that 2·P(z=1) − 1 is the uplift however unequal they are.
        w = np.where(t == 1, both.size / (2 * arm_rows.size), both.size / (2 * control_rows.size))
        transformed[name] = fit(both, z, w)
        x_learner[name] = _x_learner(encoded, arm_rows, control_rows, y, treated[name], control)
    return _Fit(preprocessor, encoded, control, treated, transformed, x_learner)


def _x_learner(
    encoded: Encoded,
    arm_rows: np.ndarray,
    control_rows: np.ndarray,
    y: np.ndarray,
    treated: LinearBaseline,
    control: LinearBaseline,
) -> tuple[LinearBaseline, LinearBaseline, float]:
    """Künzel et al. (2019): the effect imputed on each group from the other group's
    response model, regressed on the features (ridge); weighed by the share treated."""
    imputed_t = y[arm_rows] - _predict(control, encoded, arm_rows)
    imputed_c = _predict(treated, encoded, control_rows) - y[control_rows]
    on_treated = LinearBaseline(Task.REGRESSION).fit(_rows(encoded, arm_rows, imputed_t))
    on_control = LinearBaseline(Task.REGRESSION).fit(_rows(encoded, control_rows, imputed_c))
    share = arm_rows.size / (arm_rows.size + control_rows.size)
    return on_treated, on_control, share


def split_rows(
    campaign: Campaign, seed: int, test: float = TEST_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row positions, stratified by arm × outcome."""
    from sklearn.model_selection import train_test_split

    strata = np.char.add(campaign.arm.astype(str), campaign.y.astype(int).astype(str))
    rows = np.arange(len(campaign.y))
    train, held = train_test_split(rows, test_size=test, stratify=strata, random_state=seed)
    return np.sort(train), np.sort(held)


# -- measuring ----------------------------------------------------------------------------


def _measure(
    campaign: Campaign, fitted: _Fit, test: np.ndarray, output: str, arm: str
) -> ArmResult:
    rows = test[(campaign.arm[test] == arm) | (campaign.arm[test] == campaign.control)]
    t = (campaign.arm[rows] == arm).astype(np.float64)
    y = campaign.y[rows]
    p_treated = _predict(fitted.treated[arm], fitted.encoded, rows)
    p_control = _predict(fitted.control, fitted.encoded, rows)
    on_treated, on_control, share = fitted.x_learner[arm]
    scores = {
        "t_learner": p_treated - p_control,
        "x_learner": share * _predict(on_control, fitted.encoded, rows)
        + (1 - share) * _predict(on_treated, fitted.encoded, rows),
        "class_transformation": 2 * _predict(fitted.transformed[arm], fitted.encoded, rows) - 1,
        "response": p_treated,
    }
    everyone = (campaign.arm == arm) | (campaign.arm == campaign.control)
    t_all = (campaign.arm[everyone] == arm).astype(np.float64)
    result = ArmResult(
        arm=arm,
        output=output,
        qini={m: qini_coefficient(y, s, t) for m, s in scores.items()},
        auuc={m: auuc(y, s, t) for m, s in scores.items()},
        observed=average_treatment_effect(y, t),
        observed_all=average_treatment_effect(campaign.y[everyone], t_all),
        predicted_ate=float(scores["t_learner"].mean()),
        deciles=[g.to_dict() for g in uplift_by_decile(y, scores["t_learner"], t)],
        rows={"treated": int(t.sum()), "control": int((1 - t).sum())},
    )
    return result


def _recommended(campaign: Campaign, fitted: _Fit, test: np.ndarray) -> dict[str, int]:
    p_control = _predict(fitted.control, fitted.encoded, test)
    uplift = np.stack(
        [_predict(fitted.treated[a], fitted.encoded, test) - p_control for a in campaign.arms], 1
    )
    best = uplift.argmax(axis=1)
    top = uplift[np.arange(test.size), best]
    counts = {a: int(((best == i) & (top > 0)).sum()) for i, a in enumerate(campaign.arms)}
    counts["none"] = int((top <= 0).sum())
    return counts


# -- the run ------------------------------------------------------------------------------


def train_uplift(
    path: Path,
    *,
    treatment: str,
    control: str,
    outcome: str,
    drop: Sequence[str] = (),
    seed: int = 0,
    test_fraction: float = TEST_FRACTION,
    registry: Registry | None = None,
    name: str | None = None,
) -> UpliftReport:
    """Fit, measure and (with a registry) register an uplift model; see the module.

    Columns that leak the outcome (e.g. ``conversion`` or ``spend`` beside ``visit``) are
    found on the training rows and dropped with a warning.

    Raises:
        DataError, ConfigError: As :func:`read_campaign`.
    """
    start = time.perf_counter()
    if not 0 < test_fraction < 1:
        raise ConfigError(f"the test fraction must lie in (0, 1), got {test_fraction}")
    table = read_table(path)
    campaign = read_campaign(
        path, treatment=treatment, control=control, outcome=outcome, drop=drop, table=table
    )
    train, test = split_rows(campaign, seed, test_fraction)
    warnings: list[str] = []
    leaks = find_leaks(campaign.frame, campaign.schema, rows=train)
    dropped = [leak.column for leak in leaks]
    dropped += [c for c in after_outcome(campaign, train) if c not in dropped]
    if dropped:
        warnings.append(
            f"dropped {', '.join(dropped)}: they leak the outcome {outcome!r} (known only "
            "after the campaign)"
        )
        campaign = read_campaign(
            path,
            treatment=treatment,
            control=control,
            outcome=outcome,
            drop=[*drop, *dropped],
            table=table,
        )
    imbalances = randomisation_check(campaign)
    warnings += [i.message for i in imbalances]
    fitted = _fit(campaign, train, seed)
    outputs = output_names(campaign.arms)
    arms = [
        _measure(campaign, fitted, test, out, arm)
        for arm, out in zip(campaign.arms, outputs, strict=True)
    ]
    report = UpliftReport(
        treatment=treatment,
        control=control,
        outcome=outcome,
        arms=arms,
        recommended=_recommended(campaign, fitted, test),
        imbalances=imbalances,
        warnings=warnings,
        dropped=[*drop, *dropped],
        seconds=0.0,
        features=list(campaign.schema.feature_names),
    )
    model, version = None, None
    if registry is not None:
        metrics = {k: v for k, v in report.to_dict().items() if k in ("qini", "auuc", "ate")}
        # The flat figures of the served T-learner, as `modelry models show` lists them.
        metrics["served"] = "T-learner (uplift per arm)"
        metrics["test"] = {
            f"{figure}_{arm.output}": value
            for arm in arms
            for figure, value in (
                ("qini", arm.qini["t_learner"]),
                ("auuc", arm.auuc["t_learner"]),
                ("qini_response", arm.qini["response"]),
                ("ate", arm.predicted_ate),
            )
        }
        registered = _register(
            registry, name or f"{path.stem}-uplift", campaign, fitted, train, test, metrics
        )
        model, version = registered.name, registered.version
    seconds = time.perf_counter() - start
    return replace(report, model=model, version=version, seconds=seconds)


def _export(model: LinearBaseline, preprocessor: Preprocessor, n_dense: int) -> bytes:
    cards = [card for _, card, _ in preprocessor.embeddings_]
    net = model.as_network(cards)
    return to_onnx(net.eval(), Task.BINARY, n_dense, len(cards))


def _coefficients(model: LinearBaseline, preprocessor: Preprocessor) -> dict[str, Any]:
    """The response model's logit as ``uplift/linear.json`` keeps it (for explanations):
    the intercept, the dense coefficients and each code column's coefficient per code."""
    cards = [card for _, card, _ in preprocessor.embeddings_]
    net = model.as_network(cards)  # the exact network the ONNX file serves
    head = net.head.weight.detach().double().numpy()[0]
    n_dense = head.size - len(cards)
    return {
        "bias": float(net.head.bias.detach().double().numpy()[0]),
        "dense": head[:n_dense].tolist(),
        "codes": [
            (_table(embedding)[:, 0] * head[n_dense + j]).tolist()
            for j, embedding in enumerate(net.embeddings)
        ],
    }


def _table(embedding: Any) -> np.ndarray:
    return np.asarray(embedding.weight.detach().double().numpy())


def _linear_document(
    campaign: Campaign, fitted: _Fit, train: np.ndarray, outputs: list[str]
) -> dict[str, Any]:
    """``uplift/linear.json``: every response model's coefficients and the reference row
    (the training rows' mean dense inputs and code frequencies) explanations start from."""
    pre, encoded = fitted.preprocessor, fitted.encoded
    codes = encoded.codes[train]
    frequencies = [
        (np.bincount(codes[:, j], minlength=card) / max(len(train), 1)).tolist()
        for j, (_, card, _) in enumerate(pre.embeddings_)
    ]
    models = {"control": _coefficients(fitted.control, pre)}
    for arm, out in zip(campaign.arms, outputs, strict=True):
        models[out] = _coefficients(fitted.treated[arm], pre)
    return {
        "scale": "logit",
        "reference": {
            "dense": np.asarray(encoded.dense[train], dtype=np.float64).mean(axis=0).tolist(),
            "codes": frequencies,
        },
        "models": models,
    }


def _register(
    registry: Registry,
    name: str,
    campaign: Campaign,
    fitted: _Fit,
    train: np.ndarray,
    test: np.ndarray,
    metrics: dict[str, Any],
) -> ModelVersion:
    pre = fitted.preprocessor
    n_dense = fitted.encoded.dense.shape[1]
    outputs = output_names(campaign.arms)
    spec = {
        "treatment": campaign.treatment,
        "outcome": campaign.schema.target,
        "control": campaign.control,
        "method": "t_learner",
        "model": "logistic_regression",
        "arms": [
            {"arm": arm, "output": out, "model": treated_file(out)}
            for arm, out in zip(campaign.arms, outputs, strict=True)
        ],
    }
    with registry.new_artifact() as writer:
        writer.write_text(PREPROCESSOR_FILE, pre.to_json())
        writer.write_bytes(CONTROL_FILE, _export(fitted.control, pre, n_dense))
        for arm, out in zip(campaign.arms, outputs, strict=True):
            writer.write_bytes(treated_file(out), _export(fitted.treated[arm], pre, n_dense))
        writer.write_json(SPEC_FILE, spec)
        writer.write_json(LINEAR_FILE, _linear_document(campaign, fitted, train, outputs))
        staged = writer.finish({"name": name, "kind": UPLIFT_KIND})
        runtime = UpliftRuntime(staged, name, 0)
        runtime.load()
        check_runtime(runtime)
        # The served path on raw rows must reproduce the fitted models.
        rows = test[:2000]
        columns = to_columns(campaign.frame.iloc[rows], campaign.schema.feature_names)
        served = runtime.predict(dict(columns))
        p_control = _predict(fitted.control, fitted.encoded, rows)
        worst = float(np.abs(served["p_control"] - p_control).max())
        for arm, out in zip(campaign.arms, outputs, strict=True):
            expected = _predict(fitted.treated[arm], fitted.encoded, rows) - p_control
            worst = max(worst, float(np.abs(served[f"uplift_{out}"] - expected).max()))
        if not worst <= PARITY_TOLERANCE:
            raise ArtifactError(f"the exported uplift model differs from the fitted one by {worst}")
        runtime.unload()
        return registry.register(
            name,
            staged,
            task=UPLIFT_KIND,
            metrics={**metrics, "parity": {"max_abs_diff": worst}},
            lineage={"control": campaign.control, "arms": campaign.arms},
            description=f"T-learner uplift of {campaign.schema.target} per arm vs "
            f"{campaign.control!r}",
        )
