"""From a table on disk to a registered model version: the one way modelry trains.

read → pseudonymise → infer schema → clean → split → fit preprocessing
→ train (beside a baseline) → evaluate → export → verify the served runtime reproduces
the network → register. Nothing reaches the registry unless every step succeeded.

The run is a sequence of stages, each a function returning a small frozen record, so
that other kinds of model reuse what fits them (:mod:`modelry.pipeline.stages`,
:mod:`modelry.pipeline.artifact`); :func:`train_model` runs them all for a tabular network:

==================  ========================  =================================================
stage               returns                   what it holds
==================  ========================  =================================================
:func:`prepare`     :class:`Prepared`         schema, feature columns, target, split, warnings
:func:`preprocess`  :class:`Preprocessed`     the fitted preprocessing, the encoded splits
:func:`fit`         :class:`Fitted`           the network, its baseline, ``network.json``
:func:`evaluate`    :class:`Evaluated`        both on valid and test: outputs, metrics, plots
:func:`fairness`    :class:`FairnessResult`   the test audit, group thresholds if asked
:func:`bundle`      :class:`Bundle`           every file of the version, in memory
:func:`register`    ``ModelVersion``          the bundle written, verified and registered
==================  ========================  =================================================

Privacy: ``data.pseudonymise`` columns are replaced by keyed HMAC pseudonyms
(``Settings.pseudonymise_key``) before anything else reads them; they become identifiers
(joins, group splits), never features, so serving never needs the key. Personal columns
are never features (:mod:`modelry.data.infer`), and free-text features are redacted
(e-mails, phone numbers, URLs: :func:`~modelry.data.privacy.redact_text`) by the text
encoder itself, at training and at every prediction; ``network.json`` lists them under
``redacted_text`` for the reader.
"""

from modelry.data.schema import Role
from modelry.pipeline.artifact import Bundle, bundle, default_name, register
from modelry.pipeline.stages import (
    Evaluated,
    FairnessResult,
    Fitted,
    Prepared,
    Preprocessed,
    evaluate,
    fairness,
    fit,
    prepare,
    preprocess,
)
from modelry.pipeline.train import TrainOutcome, train_model

__all__ = [
    "Bundle",
    "Evaluated",
    "FairnessResult",
    "Fitted",
    "Prepared",
    "Preprocessed",
    "Role",
    "TrainOutcome",
    "bundle",
    "default_name",
    "evaluate",
    "fairness",
    "fit",
    "prepare",
    "preprocess",
    "register",
    "train_model",
]
