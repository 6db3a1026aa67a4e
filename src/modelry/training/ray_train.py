"""The network's fit, data-parallel on Ray Train: ``modelry train --engine ray --workers N``.

:func:`train_on_ray` is :func:`modelry.training.trainer.train` run by a
:class:`ray.train.torch.TorchTrainer`: N workers, each a DDP rank (``prepare_model``; gloo on
CPU), fit the same network with the same loss, optimiser, penalty, schedule and early stopping.
Only the fit moves: preparing, evaluating, choosing and registering stay in the calling process.

How a local run and a Ray run line up, step for step:

* every worker draws the same epoch order from a generator seeded with ``config.seed`` (the
  local loop's shuffle or class-balanced draw, bit for bit), and each global batch of
  ``config.batch_for(n)`` rows is split into N nearly equal parts, one per worker. Each
  worker's loss is scaled by ``N·b_rank/B``, so the gradient DDP averages is the gradient
  of the global batch's mean loss: the same steps per epoch, the same learning rate;
* dropout and input noise draw from ``seed + rank`` (rank 0 draws what a local run draws);
* rank 0 validates after each epoch with :class:`modelry.training.monitor.Monitor`, keeps
  the best weights, and broadcasts its decision (stop or not, and the monitored value, which a
  ``plateau`` schedule steps on) so every rank stops together;
* rank 0's final weights (best epoch restored, a regression target's scale folded in) and
  history come back as a Ray Train checkpoint, which the driver loads into the caller's net.

What differs, within noise: dropout masks, the float summation order of the all-reduce, and
batch normalisation, which normalises each worker's part of a batch (DDP does not sync it).

Data: the training and validation arrays go into Ray's object store once (``ray.put``); each
worker maps them without a copy and gathers only its own rows of each epoch. Tables larger
than memory would stream through Ray Data instead (see ``docs/ray.md``); that path is not
built yet.

Where things are written: Ray Train's run directory (checkpoints) is under ``storage``
(``MODELRY_HOME/ray`` from :func:`modelry.pipeline.train.train_model`), so on a cluster the
home must be a directory every node mounts at the same path. Each worker checks that it can
read a token the driver wrote there before training, and fails with that advice when not.

Ray is imported inside functions only: ``import modelry.training.ray_train`` does not load
it, and the embedded path never imports this module (an import-linter contract).
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import shutil
import socket
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from modelry.data.schema import Task
from modelry.errors import ConfigError, DataError, MissingExtraError, ModelryError
from modelry.nn.losses import Loss, make_loss
from modelry.nn.modules import TabularNet
from modelry.nn.optim import make_optimizer, make_scheduler
from modelry.training.config import EngineConfig, OptimConfig
from modelry.training.monitor import EpochLog, Monitor
from modelry.training.sampling import SplitTensors, TrainData
from modelry.training.trainer import (
    TrainResult,
    _num_threads,
    _threads_for,
    as_tensors,
    batch_loss,
    check_inputs,
    epoch_order,
    finish,
    min_batch_rows,
)

WEIGHTS = "weights.pt"
RESULT = "result.json"

SHARED_HOME = (
    "on a Ray cluster MODELRY_HOME must be a directory every node mounts at the same path "
    "(NFS or similar) and the registry PostgreSQL (MODELRY_REGISTRY_URL); see docs/ray.md"
)

# Flags rank 0 broadcasts after each epoch.
_GO, _STOP, _FAILED = 0.0, 1.0, 2.0


@dataclass(frozen=True)
class _Job:
    """What every worker needs besides the data (pickled into the train loop's config)."""

    net: TabularNet
    task: Task
    config: OptimConfig
    home_check: str
    token: str


def _ray() -> Any:
    try:
        import ray
        import ray.train
        import ray.train.torch
    except ImportError as exc:
        raise MissingExtraError("ray", "ray") from exc
    return ray


def train_on_ray(
    net: TabularNet,
    task: Task,
    train: TrainData,
    valid: TrainData,
    config: OptimConfig,
    *,
    engine: EngineConfig,
    storage: Path | None = None,
    on_epoch: Callable[[EpochLog], None] | None = None,
) -> TrainResult:
    """Fit ``net`` in place on ``engine.workers`` Ray Train workers and return the history.

    The same contract as :func:`modelry.training.trainer.train`; ``on_epoch`` is called for
    every epoch once training is over (the epochs run in other processes).
    ``result.seconds`` is the whole call's wall time, Ray's start-up included.

    Args:
        net: A fresh network; its initial weights are every rank's initial weights.
        task: The task.
        train: The training split.
        valid: The validation split (rank 0 validates on all of it).
        config: Loss, optimiser, regularisation, early stopping, seed.
        engine: Workers, CPUs per worker, and the cluster's address (None: a local Ray).
        storage: Where Ray Train writes its run directory; a temporary directory when None.
            On a cluster it must be readable by every node.
        on_epoch: Called with each epoch's log after training.

    Raises:
        MissingExtraError: Ray is not installed.
        ConfigError: a worker cannot read ``storage`` (an unshared home), training
            diverged, or Ray failed (its message kept).
        DataError: fewer training rows than workers, or what :func:`train` refuses.
    """
    started = time.perf_counter()
    check_inputs(net, task, train, valid, config)
    if len(train) < engine.workers * min_batch_rows(net):
        raise DataError(f"{len(train)} training rows cannot be shared by {engine.workers} workers")
    ray = _ray()
    own: tempfile.TemporaryDirectory[str] | None = None
    if storage is None:
        own = tempfile.TemporaryDirectory(prefix="modelry-ray-")
        storage = Path(own.name)
    root = storage.resolve()
    run = f"train-{uuid.uuid4().hex[:12]}"
    token = secrets.token_hex(8)
    home_check = root / f"{run}.home-check"
    try:
        root.mkdir(parents=True, exist_ok=True)
        home_check.write_text(token)
        with connected(ray, engine):
            job = _Job(net, task, config, str(home_check), token)
            refs = {"train": ray.put(train), "valid": ray.put(valid)}
            result = _fit(ray, job, refs, engine, root, run)
            state, doc = _read_checkpoint(result.checkpoint, root)
    finally:
        home_check.unlink(missing_ok=True)
        shutil.rmtree(root / run, ignore_errors=True)
        if own is not None:
            own.cleanup()
    net.load_state_dict(state)
    net.eval()
    history = [EpochLog(**e) for e in doc.pop("history")]
    doc.update(seconds=time.perf_counter() - started, engine="ray", workers=engine.workers)
    outcome = TrainResult(history=history, **doc)
    for log in history:
        if on_epoch is not None:
            on_epoch(log)
    return outcome


@contextmanager
def connected(ray: Any, engine: EngineConfig) -> Iterator[None]:
    """Ray as the engine asks: joined, started here (and stopped after), or already up."""
    if ray.is_initialized():
        yield
        return
    if engine.address is not None:
        ray.init(address=engine.address, log_to_driver=False)
    else:
        cpus = math.ceil(engine.workers * engine.cpus_per_worker)
        ray.init(
            num_cpus=cpus,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    try:
        yield
    finally:
        ray.shutdown()


def _fit(
    ray: Any, job: _Job, refs: dict[str, Any], engine: EngineConfig, root: Path, run: str
) -> Any:
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    trainer = TorchTrainer(
        _worker,
        train_loop_config={"job": job, **refs},
        scaling_config=ScalingConfig(
            num_workers=engine.workers,
            use_gpu=False,
            resources_per_worker={"CPU": engine.cpus_per_worker},
        ),
        run_config=RunConfig(
            name=run,
            storage_path=str(root),
            failure_config=FailureConfig(max_failures=0),
        ),
    )
    try:
        return trainer.fit()
    except ray.train.TrainingFailedError as exc:
        raise worker_error(exc) from exc


def worker_error(exc: BaseException) -> ModelryError:
    """The error a failed run raises: a worker's own :class:`ModelryError` (lowest rank
    first) when there is one, else a :class:`ConfigError` carrying Ray's message."""
    failures: dict[int, BaseException] = getattr(exc, "worker_failures", None) or {}
    for _, failure in sorted(failures.items()):
        if isinstance(failure, ModelryError):
            return failure
    first = next(iter(failures.values()), exc)
    last_line = (str(first).strip().splitlines() or [type(first).__name__])[-1].strip()
    return ConfigError(f"training on Ray failed: {last_line}")


def _read_checkpoint(checkpoint: Any, root: Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    if checkpoint is None:
        raise ConfigError(f"Ray Train returned no checkpoint under {root}; {SHARED_HOME}")
    try:
        with checkpoint.as_directory() as where:
            state = torch.load(Path(where) / WEIGHTS, weights_only=True)
            doc = json.loads((Path(where) / RESULT).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read rank 0's checkpoint ({exc}); {SHARED_HOME}") from exc
    return state, doc


def check_home(path: Path, token: str) -> None:
    """Raise :class:`ConfigError` unless this process reads ``token`` at ``path``, which the
    driver wrote under the home (a worker on a node that does not share it cannot)."""
    try:
        found = path.read_text()
    except OSError:
        found = None
    if found != token:
        raise ConfigError(
            f"a Ray worker on {socket.gethostname()} cannot read {path}, which the driver "
            f"wrote: {SHARED_HOME}"
        )


@dataclass(frozen=True)
class Shard:
    """One worker's rows of one epoch: every global batch's part, in step order.

    Attributes:
        rows: Row indices, the steps' parts concatenated.
        sizes: Rows per step.
        scales: Per step, ``world·b_rank/B``: the factor that makes the average of the
            workers' mean losses the global batch's mean loss.
    """

    rows: Tensor
    sizes: list[int]
    scales: list[float]


def shard(order: Tensor, batch: int, rank: int, world: int, min_rows: int = 1) -> Shard:
    """This worker's part of each global batch of ``order``.

    A global batch of ``B`` rows gives worker ``r`` the ``r``-th of ``world`` nearly equal
    slices (``torch.tensor_split``). A trailing batch too small for every worker to get
    ``min_rows`` is skipped by all of them (each DDP step needs every rank).
    """
    parts: list[Tensor] = []
    sizes: list[int] = []
    scales: list[float] = []
    for start in range(0, len(order), batch):
        block = order[start : start + batch]
        if len(block) < world * min_rows:
            continue
        mine = torch.tensor_split(block, world)[rank]
        parts.append(mine)
        sizes.append(len(mine))
        scales.append(world * len(mine) / len(block))
    rows = torch.cat(parts) if parts else order[:0]
    return Shard(rows, sizes, scales)


def _worker(cfg: dict[str, Any]) -> None:
    """One DDP rank's training loop (run by Ray Train in each worker process)."""
    import ray
    import ray.train
    import torch.distributed as dist
    from ray.train import Checkpoint
    from ray.train.torch import prepare_model

    job: _Job = cfg["job"]
    check_home(Path(job.home_check), job.token)
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    with warnings.catch_warnings():
        # The object store's arrays are read-only views; nothing here writes to them.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        train: TrainData = ray.get(cfg["train"])
        valid: TrainData = ray.get(cfg["valid"])
        tr, va, y_scale, weight = as_tensors(job.task, train, valid, job.config)
    net, config = job.net, job.config
    batch = config.batch_for(len(train))
    threads = _threads_for(batch // world)
    collective = world > 1 and dist.is_initialized()
    with _num_threads(threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed + rank)
        model = prepare_model(net)
        loss_fn = make_loss(config.loss, job.task)
        # Only rank 0 validates, keeps the best weights and decides when to stop.
        monitor = (
            Monitor(net, job.task, loss_fn, va, valid.y, y_scale, config, None)
            if rank == 0
            else None
        )
        started = time.perf_counter()
        loop = _Loop(model, net, loss_fn, config, collective)
        if loop.epochs(tr, weight, train.y, batch, rank, world, monitor):
            return  # rank 0 failed; its error is the run's
        if monitor is not None:
            result = finish(net, job.task, monitor, y_scale, started, threads)
            with tempfile.TemporaryDirectory() as out:
                torch.save(net.state_dict(), Path(out) / WEIGHTS)
                doc = asdict(result)
                for key in ("seconds", "engine", "workers"):
                    doc.pop(key)
                (Path(out) / RESULT).write_text(json.dumps(doc))
                metrics = {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run}
                ray.train.report(metrics, checkpoint=Checkpoint.from_directory(out))
        else:
            ray.train.report({})


class _Loop:
    """The epochs of one rank: its shard's steps, then rank 0's verdict for everyone."""

    def __init__(
        self,
        model: nn.Module,
        net: TabularNet,
        loss_fn: Loss,
        config: OptimConfig,
        collective: bool,
    ) -> None:
        self.model, self.net, self.loss_fn, self.config = model, net, loss_fn, config
        self.collective = collective
        self.min_rows = min_batch_rows(net)

    def epochs(
        self,
        tr: SplitTensors,
        weight: Tensor | None,
        y: np.ndarray,
        batch: int,
        rank: int,
        world: int,
        monitor: Monitor | None,
    ) -> bool:
        """Run the epochs; True when rank 0 failed (its error travels on its own)."""
        config = self.config
        optimizer = make_optimizer(self.model.parameters(), config)
        higher = monitor.higher if monitor is not None else False
        scheduler = make_scheduler(
            optimizer, config, config.epochs, mode="max" if higher else "min"
        )
        # Every rank draws the same orders: the local loop's generator, seeded alike.
        gen = torch.Generator().manual_seed(config.seed)
        n = len(tr.y)
        for epoch in range(1, config.epochs + 1):
            t0 = time.perf_counter()
            order = epoch_order(config, y, batch, gen)
            if order is None:
                order = torch.arange(n)
            part = shard(order, batch, rank, world, self.min_rows)
            train_loss = self._run(tr, weight, part, optimizer)
            verdict = torch.tensor([_GO, math.nan], dtype=torch.float64)
            error: ModelryError | None = None
            if monitor is not None:
                try:
                    stop = monitor.end_epoch(epoch, train_loss, t0, scheduler)
                    verdict[:] = torch.tensor(
                        [_STOP if stop else _GO, monitor.history[-1].valid_metric]
                    )
                except ModelryError as exc:
                    error, verdict[0] = exc, _FAILED
            if self.collective:
                import torch.distributed as dist

                dist.broadcast(verdict, src=0)
            if error is not None:
                raise error
            if verdict[0] == _FAILED:
                return True
            if monitor is None:
                scheduler.step(float(verdict[1]))
            if verdict[0] == _STOP:
                break
        return False

    def _run(
        self,
        data: SplitTensors,
        weight: Tensor | None,
        part: Shard,
        optimizer: torch.optim.Optimizer,
    ) -> float:
        """One epoch of this rank's steps; the mean objective over every rank's rows."""
        model, cfg = self.model, self.config
        model.train()
        idx = part.rows
        dense, codes, y = data.dense[idx], data.codes[idx], data.y[idx]
        w = None if weight is None else weight[idx]
        total = torch.zeros(2, dtype=torch.float64)
        start = 0
        for size, scale in zip(part.sizes, part.scales, strict=True):
            stop = start + size
            loss = batch_loss(
                model,
                self.net,
                self.loss_fn,
                cfg,
                dense[start:stop],
                codes[start:stop],
                y[start:stop],
                None if w is None else w[start:stop],
            )
            optimizer.zero_grad(set_to_none=False)
            # DDP averages gradients over ranks; scaled, the average is the global batch's.
            (loss * scale).backward()
            if cfg.clip_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            optimizer.step()
            total[0] += float(loss.detach()) * size
            total[1] += size
            start = stop
        if self.collective:
            import torch.distributed as dist

            dist.all_reduce(total)
        return float(total[0] / total[1]) if total[1] else math.nan
