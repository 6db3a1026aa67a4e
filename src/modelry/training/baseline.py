"""A simple model trained beside every network, so its metrics have a yardstick.

``kind="linear"`` (the default) fits scikit-learn's LogisticRegression (multinomial for
several classes) or Ridge on the dense matrix plus a one-hot encoding of the code
columns; ``kind="constant"`` predicts the training class frequencies (``majority``) or
the training mean (``mean``). A network that does not beat the linear baseline is worth
a second look before it is deployed.
"""

from __future__ import annotations

import warnings
from typing import Literal, Protocol

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import OneHotEncoder

from modelry.data.schema import Task
from modelry.errors import DataError
from modelry.nn.modules import TabularNet
from modelry.training.trainer import TrainData

LINEAR_MODEL = {"hidden": [], "activation": "relu", "dropout": 0.0, "batch_norm": False}
"""The network knobs of a linear model (no hidden layer), as ``network.json`` stores them."""

ABSENT_CLASS_LOGIT = -1e4
"""Logit of a class the baseline never saw: its softmax probability is 0 in float32."""

BaselineKind = Literal["linear", "constant"]


class Baseline(Protocol):
    """A fitted baseline: its name and outputs in the format of ``predict_output``."""

    @property
    def name(self) -> str: ...

    def predict_output(self, dense: np.ndarray, codes: np.ndarray) -> np.ndarray: ...


class ConstantBaseline:
    """Predicts the training class frequencies (``majority``) or the training mean (``mean``).

    For a binary task the output is the positive rate, for multiclass the class
    frequencies: the best constant under log loss, and the majority class under argmax.
    """

    def __init__(self, task: Task, y: np.ndarray, n_classes: int | None = None) -> None:
        self.task = task
        self.name = "mean" if task is Task.REGRESSION else "majority"
        if task is Task.MULTICLASS:
            labels = np.asarray(y).astype(np.int64)
            k = max(int(labels.max()) + 1, n_classes or 0)
            self.value_: np.ndarray = np.bincount(labels, minlength=k) / len(labels)
        else:
            self.value_ = np.asarray([float(np.mean(y))])

    def predict_output(self, dense: np.ndarray, codes: np.ndarray) -> np.ndarray:
        n = len(dense)
        if self.task is Task.MULTICLASS:
            return np.tile(self.value_, (n, 1))
        return np.full(n, self.value_[0])


class LinearBaseline:
    """Logistic regression or ridge on dense inputs plus one-hot codes.

    Args:
        task: The task.
        seed: Random state for the solver.
        n_classes: Number of classes of a multiclass task (so classes absent from the
            training set still get a probability column, of zero).
    """

    def __init__(self, task: Task, seed: int = 0, n_classes: int | None = None) -> None:
        self.task = task
        self.seed = seed
        self.n_classes = n_classes
        self.name = "ridge" if task is Task.REGRESSION else "logistic_regression"

    def fit(self, data: TrainData) -> LinearBaseline:
        """Fit on a training split; returns ``self``."""
        d, k = data.dense.shape[1], data.codes.shape[1]
        # One matrix in, the codes one-hot encoded by column position; the transformer
        # keeps the result sparse when the one-hot part dominates.
        self.design_ = ColumnTransformer(
            [
                ("dense", "passthrough", list(range(d))),
                ("codes", OneHotEncoder(handle_unknown="ignore"), list(range(d, d + k))),
            ]
        )
        X = self.design_.fit_transform(_stack(data.dense, data.codes))
        if self.task is Task.REGRESSION:
            ridge = Ridge(alpha=1.0)
            self.model_: LogisticRegression | Ridge = ridge.fit(
                X, data.y, sample_weight=data.weight
            )
            return self
        y = np.asarray(data.y).astype(np.int64)
        if len(np.unique(y)) < 2:
            raise DataError("the baseline needs at least two classes in the training set")
        # lbfgs fits the multinomial model for several classes (sklearn's default since
        # 1.5, where the multi_class argument is deprecated).
        model = LogisticRegression(max_iter=1000, random_state=self.seed)
        with warnings.catch_warnings():
            # A baseline that did not fully converge is still a fair yardstick.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_ = model.fit(X, y, sample_weight=data.weight)
        return self

    def predict_output(self, dense: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Positive-class probability ``[n]``, class probabilities ``[n, K]`` or values ``[n]``."""
        X = self.design_.transform(_stack(dense, codes))
        model = self.model_
        if isinstance(model, Ridge):
            return np.asarray(model.predict(X), dtype=np.float64)
        proba = np.asarray(model.predict_proba(X), dtype=np.float64)
        if self.task is Task.BINARY:
            return proba[:, 1]  # fit refused a single class, so classes_ is [0, 1]
        k = max(self.n_classes or 0, int(model.classes_.max()) + 1)
        full = np.zeros((len(proba), k))
        full[:, model.classes_] = proba
        return full

    def as_network(self, cardinalities: list[int]) -> TabularNet:
        """The fitted model as an equivalent :class:`TabularNet` without hidden layers.

        Each code column's one-hot coefficients become an embedding table of the head's
        width (a category the baseline never saw maps to zeros, as its one-hot encoder
        ignores it), the dense coefficients the head's weights, and the identity carries
        each embedding into the head. Served through the same ONNX path and explained
        by the same attributions as a trained network, it predicts what
        :meth:`predict_output` does (to float32 precision).

        Args:
            cardinalities: Each code column's embedding cardinality (the preprocessor's).
        """
        import torch

        from modelry.training.config import ModelConfig

        model = self.model_
        coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
        intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
        width = coef.shape[0]
        if self.task is Task.MULTICLASS:  # rows for absent classes too, at a logit of ~ -inf
            assert isinstance(model, LogisticRegression)
            k = max(self.n_classes or 0, int(model.classes_.max()) + 1)
            full = np.zeros((k, coef.shape[1]))
            bias = np.full(k, ABSENT_CLASS_LOGIT)
            full[model.classes_] = coef
            bias[model.classes_] = intercept
            coef, intercept, width = full, bias, k
        d = coef.shape[1] - sum(len(c) for c in self._categories())
        net = TabularNet(d, [(c, width) for c in cardinalities], ModelConfig(hidden=[]), width)
        with torch.no_grad():
            head = net.head
            head.weight.zero_()
            head.weight[:, :d] = torch.from_numpy(coef[:, :d])
            head.bias[:] = torch.from_numpy(intercept)
            offset = d
            for j, (embedding, categories) in enumerate(
                zip(net.embeddings, self._categories(), strict=True)
            ):
                weight: torch.Tensor = embedding.weight  # type: ignore[assignment]
                weight.zero_()
                for i, code in enumerate(categories):
                    weight[int(code)] = torch.from_numpy(coef[:, offset + i])
                start = d + j * width
                head.weight[:, start : start + width] = torch.eye(width)
                offset += len(categories)
        return net

    def _categories(self) -> list[np.ndarray]:
        """The categories (codes) each code column's one-hot encoder knows, in order."""
        encoder = self.design_.named_transformers_.get("codes")
        if not isinstance(encoder, OneHotEncoder) or not hasattr(encoder, "categories_"):
            return []
        return list(encoder.categories_)


def _stack(dense: np.ndarray, codes: np.ndarray) -> np.ndarray:
    # float64 holds every int64 code below 2**53 exactly: the encoder sees the same values.
    return np.hstack([np.asarray(dense, dtype=np.float64), np.asarray(codes, dtype=np.float64)])


def fit_baseline(
    task: Task,
    train: TrainData,
    seed: int = 0,
    *,
    kind: BaselineKind = "linear",
    n_classes: int | None = None,
) -> Baseline:
    """Fit the baseline of ``kind`` on the training split.

    Example:
        >>> import numpy as np
        >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]], dtype=np.float32)
        >>> data = TrainData(X, np.zeros((4, 0), np.int64), np.array([0, 0, 1, 1], np.float32))
        >>> fit_baseline(Task.BINARY, data).predict_output(X, data.codes).round().tolist()
        [0.0, 0.0, 1.0, 1.0]
    """
    if len(train) == 0:
        raise DataError("cannot fit a baseline on zero rows")
    if kind == "constant":
        return ConstantBaseline(task, train.y, n_classes)
    return LinearBaseline(task, seed, n_classes).fit(train)
