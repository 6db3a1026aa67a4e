"""The founding document's network in Keras, as the document wrote it, on a given train/test split.

Self-contained: runs in a Keras/TensorFlow venv (not modelry's), called by bench/seed_network.py:

    /tmp/venv-tf/bin/python bench/seed_keras.py --train TRAIN.csv --test TEST.csv [--seed 42]

Preprocessing as the seed (and shared/anchors/seed_train.py) did it, fitted on the train rows only:
dropna; drop ``duration``; ``np.log1p`` on numeric columns whose train minimum is > -1 (log1p of
emp.var.rate and cons.conf.idx would be NaN); one-hot (``pd.get_dummies``; test columns aligned
to train's); StandardScaler. Network: Dense 64 relu → Dense 32 relu → Dense 1 sigmoid, Adam 1e-3,
binary cross-entropy, ``model.fit(epochs=10, batch_size=32)``.

Prints one JSON line: {auc, fit_seconds, total_seconds, import_seconds, preprocess_seconds, ...}.
``total_seconds`` runs from reading the CSVs to the test AUC (TF import excluded, reported apart).
"""

import argparse
import json
import os
import sys
import time

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--train", required=True)
p.add_argument("--test", required=True)
p.add_argument("--sep", default=";")
p.add_argument("--seed", type=int, default=42)
args = p.parse_args()

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
t0 = time.perf_counter()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

t_import = time.perf_counter() - t0

t_total = time.perf_counter()
train = pd.read_csv(args.train, sep=args.sep).dropna().drop(columns=["duration"])
test = pd.read_csv(args.test, sep=args.sep).dropna().drop(columns=["duration"])
y_train = (train.pop("y") == "yes").astype("float32").to_numpy()
y_test = (test.pop("y") == "yes").astype("float32").to_numpy()
num_cols = train.select_dtypes(include="number").columns.tolist()
cat_cols = [c for c in train.columns if c not in num_cols]
log_cols = [c for c in num_cols if train[c].min() > -1]
train[log_cols] = np.log1p(train[log_cols])
test[log_cols] = np.log1p(test[log_cols])
X_train = pd.get_dummies(train, columns=cat_cols, dtype="float32")
X_test = pd.get_dummies(test, columns=cat_cols, dtype="float32").reindex(
    columns=X_train.columns, fill_value=0.0
)
scaler = StandardScaler().fit(X_train.to_numpy(dtype="float32"))
X_train = scaler.transform(X_train.to_numpy(dtype="float32")).astype("float32")
X_test = scaler.transform(X_test.to_numpy(dtype="float32")).astype("float32")
t_prep = time.perf_counter() - t_total

keras.utils.set_random_seed(args.seed)
model = keras.Sequential(
    [
        keras.Input(shape=(X_train.shape[1],)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
)
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=0.001),
    loss="binary_crossentropy",
    metrics=["accuracy"],
)
t0 = time.perf_counter()
hist = model.fit(X_train, y_train, epochs=10, batch_size=32, verbose=0)
t_fit = time.perf_counter() - t0

t0 = time.perf_counter()
proba = model.predict(X_test, verbose=0).ravel()
t_pred = time.perf_counter() - t0
auc = float(roc_auc_score(y_test, proba))
t_total = time.perf_counter() - t_total

print(
    json.dumps(
        {
            "auc": auc,
            "fit_seconds": t_fit,
            "total_seconds": t_total,
            "import_seconds": t_import,
            "preprocess_seconds": t_prep,
            "predict_seconds": t_pred,
            "process_seconds": time.perf_counter() - T_START,
            "final_train_loss": float(hist.history["loss"][-1]),
            "n_train": len(y_train),
            "n_test": len(y_test),
            "n_features": int(X_train.shape[1]),
            "log1p_columns": log_cols,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "threads": {
                "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            },
            "cpu_affinity": sorted(os.sched_getaffinity(0)),
        }
    )
)
sys.stdout.flush()
