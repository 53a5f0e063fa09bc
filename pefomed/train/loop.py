"""The training loop: seeded, budgeted, answer-token loss, AdaLoRA hook, optional feature cache."""
from __future__ import annotations

import math
import re
import time
from dataclasses import asdict, dataclass, field, fields
from collections.abc import Callable
from typing import Any

import torch

from pefomed.data.record import VQARecord
from pefomed.errors import PefomedError
from pefomed.train.budget import FAILURE_REASONS, Budget, BudgetTracker
from pefomed.train.cost import Cost, flop_parts, train_flops
from pefomed.train.divergence import DivergenceWatch
from pefomed.train.feature_cache import FeatureCache, cache_unavailable_reason
from pefomed.train.inputs import check_train_inputs
from pefomed.train.schema import NO_CLI, option
from pefomed.train.step import StepRunner, StepStats, is_quantized, resolve_device, resolve_dtype

SCHEDULERS: tuple[str, ...] = ("linear", "cosine", "constant")
DTYPES: tuple[str, ...] = ("auto", "fp32", "bf16")
_DEVICE = re.compile(r"auto|cpu|mps|xpu|cuda(:\d+)?")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. ``epochs`` is a cap: a :class:`Budget` usually stops the run first.

    ``device="auto"`` lets accelerate pick (CUDA, MPS, XPU, else CPU); ``dtype="auto"`` trains in
    bf16 autocast where the GPU supports it (and on CPUs with native bf16 for models of 10M+
    parameters, see ``step.resolve_dtype``) and fp32 otherwise.
    """

    lr: float = option(2e-4, help="learning rate (CLI default: the adapter's catalogue rate, scaled "
                       "up for registered small models such as medvlm-tiny)")
    batch_size: int = option(8, help="examples per micro-batch")
    grad_accum: int = option(1, help="micro-batches per optimizer step")
    scheduler: str = option("linear", help="linear, cosine or constant")
    warmup_ratio: float = option(0.0, help="share of the planned steps spent warming up")
    weight_decay: float = option(0.0, help="AdamW weight decay (not on biases and norms)")
    max_grad_norm: float | None = option(1.0, help="gradient clipping norm")
    seed: int = option(0, cli=NO_CLI, help="set from the run's seed")
    epochs: int = option(3, help="cap; the budget usually stops first")
    gradient_checkpointing: bool = option(False, help="recompute activations in backward (less memory)")
    device: str = option("auto", help="auto, cpu, cuda, cuda:N, mps")
    dtype: str = option("auto", help="auto, fp32 or bf16")

    def __post_init__(self) -> None:
        errors = []

        def need(ok: bool, rule: str, got: str) -> None:
            if not ok:
                errors.append(f"{rule} must hold, but got {got}")

        need(_num(self.lr) and self.lr > 0, "lr > 0", f"lr={self.lr!r}")
        for name in ("batch_size", "grad_accum", "epochs"):
            value = getattr(self, name)
            need(_int(value) and value >= 1, f"{name} >= 1 (an integer)", f"{name}={value!r}")
        need(_int(self.seed), "seed is an integer", f"seed={self.seed!r}")
        need(self.scheduler in SCHEDULERS, f"scheduler in {SCHEDULERS}", f"scheduler={self.scheduler!r}")
        need(_num(self.warmup_ratio) and 0 <= self.warmup_ratio < 1, "0 <= warmup_ratio < 1",
             f"warmup_ratio={self.warmup_ratio!r}")
        need(_num(self.weight_decay) and self.weight_decay >= 0, "weight_decay >= 0",
             f"weight_decay={self.weight_decay!r}")
        need(self.max_grad_norm is None or (_num(self.max_grad_norm) and self.max_grad_norm > 0),
             "max_grad_norm > 0 (or None to disable clipping)", f"max_grad_norm={self.max_grad_norm!r}")
        need(isinstance(self.device, str) and bool(_DEVICE.fullmatch(self.device)),
             "device is auto, cpu, cuda, cuda:N, mps or xpu", f"device={self.device!r}")
        need(self.dtype in DTYPES, f"dtype in {DTYPES}", f"dtype={self.dtype!r}")
        need(isinstance(self.gradient_checkpointing, bool), "gradient_checkpointing is a bool",
             f"gradient_checkpointing={self.gradient_checkpointing!r}")
        if errors:
            raise PefomedError(f"invalid TrainConfig: {'; '.join(errors)}")

    @property
    def effective_batch(self) -> int:
        return self.batch_size * self.grad_accum

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        return cls(**data)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass
class TrainResult:
    """How a run ended (``stop_reason``), what it did and what it cost."""

    stop_reason: str
    steps: int
    samples: int
    epochs: float
    losses: list[float] = field(default_factory=list)
    cost: Cost = field(default_factory=Cost)
    cache_note: str = ""  # why a given feature cache was not used, if it was not

    @property
    def failed(self) -> bool:
        return self.stop_reason in FAILURE_REASONS

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["cost"] = self.cost.to_dict()
        data["failed"] = self.failed
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainResult":
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["cost"] = Cost.from_dict(data.get("cost", {}))
        return cls(**kwargs)


def planned_steps(n_records: int, config: TrainConfig, budget: Budget, processes: int = 1) -> int:
    """Optimizer steps the schedule (and AdaLoRA) plan for: the epoch cap or a count limit.
    ``processes`` data-parallel processes each take ``effective_batch`` records a step."""
    per_step = config.effective_batch * processes
    per_epoch = math.ceil(n_records / per_step)
    plan = config.epochs * per_epoch
    if budget.max_steps is not None:
        plan = min(plan, budget.max_steps)
    if budget.max_samples is not None:
        plan = min(plan, math.ceil(budget.max_samples / per_step))
    return max(plan, 1)


@dataclass
class StepInfo:
    """What one optimizer step did, for logs and hooks."""

    step: int
    loss: float
    lr: float
    grad_norm: float | None
    samples: int
    epoch: float
    samples_per_second: float
    wall_seconds: float
    device_seconds: float
    memory_mb: float


class TrainHooks:
    """What a run does around the loop (checkpoints, evaluation, logs); these defaults do nothing.

    ``snapshot()`` returns the loop's full state (see :func:`train`), built only when called.
    """

    def after_step(self, info: StepInfo, snapshot: Callable[[], dict[str, Any]]) -> str | None:
        """Called after every optimizer step; a returned string stops the run with that reason."""
        return None

    def at_end(self, stop: str, snapshot: Callable[[], dict[str, Any]]) -> None:
        """Called once when the loop ends, before the model leaves training mode."""


def train(adapted: Any, records: list[VQARecord], config: TrainConfig, budget: Budget, *,
          feature_cache: FeatureCache | None = None, progress: bool = True, hooks: TrainHooks | None = None,
          resume: dict[str, Any] | None = None, log_every: float = 30.0) -> TrainResult:
    """Train ``adapted`` on ``records`` until the first budget limit, the epoch cap, or a NaN.

    Calls ``adapted.prepare_for_training(total_steps)`` first and ``adapted.on_step(step)`` after
    every optimizer step (before gradients are cleared: AdaLoRA scores use them). ``resume`` is a
    snapshot from an earlier run on the same records and config: weights, optimizer, scheduler,
    AdaLoRA allocator, RNG states, data position and the spend so far are restored, so the run
    continues exactly where the snapshot was taken.
    """
    from pefomed.train import checkpoint as ckpt
    from pefomed.train.distributed import DataParallel
    from pefomed.train.progress import Progress

    records = check_train_inputs(adapted, records, config, budget)
    if not records:
        raise PefomedError("train needs at least one record, but got 0; check the dataset/split/limit")
    hooks = hooks or TrainHooks()
    dp = DataParallel(config.device)
    device = resolve_device(config.device)
    if adapted.trainable_parameters() == 0:
        # the zero-shot baseline (`frozen`): nothing to train, so no steps and no spend
        return TrainResult(stop_reason="untrained", steps=0, samples=0, epochs=0.0,
                           cost=_cost(adapted, BudgetTracker(budget, device), 0, None))
    dtype = resolve_dtype(config.dtype, device, adapted.bundle.model)
    model = adapted.bundle.model
    if not is_quantized(model):
        model.to(device)
    if config.gradient_checkpointing:
        _checkpointing(model, True)
    torch.manual_seed(config.seed)
    total_steps = planned_steps(len(records), config, budget, dp.world)
    adapted.prepare_for_training(total_steps)
    dp.broadcast_parameters(model)
    optimizer, scheduler = _optimizer(model, config, total_steps)
    watch = DivergenceWatch([p for g in optimizer.param_groups for p in g["params"]])
    cache_note = ""
    bound = None
    if feature_cache is not None:
        cache_note = cache_unavailable_reason(adapted) or ""
        bound = None if cache_note else feature_cache.bind(adapted, dtype)
    runner = StepRunner(adapted, device, dtype, bound)
    tracker = BudgetTracker(budget, device)
    losses: list[float] = []
    tokens = 0
    shuffle = torch.Generator().manual_seed(config.seed)
    start_epoch, skip = 0, 0
    if resume is not None:
        ckpt.load_trainable(model, resume["trainable"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        ckpt.load_adalora(adapted.model, resume.get("adalora"))
        tracker.restore(steps=resume["step"], samples=resume["samples"],
                        wall_seconds=resume["wall_seconds"], device_seconds=resume["device_seconds"])
        losses, tokens = list(resume["losses"]), resume["tokens"]
        shuffle.set_state(resume["shuffle"])
        start_epoch, skip = resume["epoch"], resume["batch"]
        ckpt.load_rng(resume["rng"])
    position = {"epoch": start_epoch, "batch": skip, "shuffle": shuffle.get_state()}

    def snapshot() -> dict[str, Any]:
        return {"step": tracker.steps, "samples": tracker.samples, "tokens": tokens, "losses": list(losses),
                "wall_seconds": tracker.wall_seconds, "device_seconds": tracker.clock.seconds,
                **position, "trainable": ckpt.trainable_state(model), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "adalora": ckpt.adalora_state(adapted.model),
                "rng": ckpt.rng_state()}

    stop = "completed"
    model.train()
    bar = Progress(total_steps, enabled=progress and dp.main, every=log_every, start_step=tracker.steps)
    per_batch = config.effective_batch * dp.world  # global: every process takes its shard
    try:
        for epoch in range(start_epoch, config.epochs):
            epoch_rng = shuffle.get_state()  # the order is regenerated from it on resume
            order = torch.randperm(len(records), generator=shuffle)
            for index, start in enumerate(range(0, len(records), per_batch)):
                if epoch == start_epoch and index < skip:
                    continue
                group = [records[i] for i in order[start:start + per_batch].tolist()]
                group = group[:tracker.samples_allowed(len(group))]
                t0 = time.perf_counter()
                spent = tracker.clock.seconds
                tracker.clock.start()
                stats = _backward_or_oom(runner, dp.shard(group), config.batch_size)
                stats = dp.combine(stats, model, len(group), device)  # one loss and gradient for all
                if stats is None or not math.isfinite(stats.loss):
                    tracker.clock.stop()
                    optimizer.zero_grad(set_to_none=True)
                    stop = "max_memory_mb" if stats is None else "nan_loss"
                    break
                grad_norm = None
                if config.max_grad_norm is not None:
                    params = [p for g in optimizer.param_groups for p in g["params"]]
                    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm))
                lr = float(optimizer.param_groups[0]["lr"])
                optimizer.step()
                scheduler.step()
                adapted.on_step(tracker.steps)
                optimizer.zero_grad(set_to_none=True)
                tracker.clock.stop()
                tracker.clock.seconds = spent + dp.total(tracker.clock.seconds - spent, device)
                tracker.record_step(stats.samples)
                losses.append(stats.loss)
                tokens += stats.tokens
                position.update(epoch=epoch, batch=index + 1, shuffle=epoch_rng)
                bar.update(tracker.steps, stats.samples, stats.loss, tracker.remaining())
                reason = watch.check(stats.loss) or tracker.check()
                info = StepInfo(step=tracker.steps, loss=stats.loss, lr=lr, grad_norm=grad_norm,
                                samples=tracker.samples, epoch=tracker.samples / len(records),
                                samples_per_second=stats.samples / max(time.perf_counter() - t0, 1e-9),
                                wall_seconds=tracker.wall_seconds, device_seconds=tracker.clock.seconds,
                                memory_mb=tracker.memory.peak_mb)
                hook_reason = hooks.after_step(info, snapshot)
                reason = dp.decide(reason or hook_reason)  # rank 0 decides for every process
                if reason:
                    stop = reason
                    break
            if stop != "completed":
                break
        if stop not in FAILURE_REASONS:
            hooks.at_end(stop, snapshot)
    finally:
        bar.close(stop)
        model.eval()
        if config.gradient_checkpointing:
            _checkpointing(model, False)
    cost = _cost(adapted, tracker, tokens, bound)
    return TrainResult(stop_reason=stop, steps=tracker.steps, samples=tracker.samples,
                       epochs=tracker.samples / len(records), losses=losses, cost=cost, cache_note=cache_note)


def _backward_or_oom(runner: StepRunner, group: list[VQARecord], batch_size: int) -> StepStats | None:
    """The step's stats, or None when the device ran out of memory: the device's own memory is a
    cap too, and a sweep must record that as a failed trial rather than crash."""
    if not group:  # a data-parallel shard of a short last batch: weight 0 in the combined step
        return StepStats(0.0, 0, 0, 0.0)
    try:
        return runner.backward(group, batch_size)
    except torch.cuda.OutOfMemoryError:  # the same class as torch.OutOfMemoryError (torch >= 2.5)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return None


def _checkpointing(model: Any, on: bool) -> None:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if not getattr(base, "supports_gradient_checkpointing", False):
        raise PefomedError(f"{type(base).__name__} does not support gradient checkpointing; "
                           "train with gradient_checkpointing=False")
    # non-reentrant checkpointing works with frozen inputs (no enable_input_require_grads hack)
    if hasattr(base, "activation_checkpointing_enable"):  # the gradient_* names are deprecated in 5.x
        enable, disable = base.activation_checkpointing_enable, base.activation_checkpointing_disable
    else:
        enable, disable = base.gradient_checkpointing_enable, base.gradient_checkpointing_disable
    if on:
        enable({"use_reentrant": False})
    else:
        disable()


def _optimizer(model: torch.nn.Module, config: TrainConfig, total_steps: int) -> tuple[Any, Any]:
    from transformers import get_scheduler

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            # biases and norm scales are not decayed (standard AdamW practice)
            (no_decay if p.ndim < 2 or "norm" in name.lower() else decay).append(p)
    if not decay and not no_decay:
        raise PefomedError("the adapted model has no trainable parameters; check the adapter's "
                           "parts/layers (nothing matched?)")
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
    name = "constant_with_warmup" if config.scheduler == "constant" else config.scheduler
    warmup = round(config.warmup_ratio * total_steps)
    return optimizer, get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps)


def _cost(adapted: Any, tracker: BudgetTracker, tokens: int, bound: Any) -> Cost:
    trainable = adapted.trainable_parameters()
    by_part = adapted.trainable_by_part()
    n_forward, n_backprop = flop_parts(adapted.bundle.model, adapted.bundle.family.anatomy,
                                       vision_trainable=adapted.vision_trainable,
                                       projector_trainable=by_part.get("projector", 0) > 0,
                                       vision_cached=bound is not None)
    return Cost(
        wall_seconds=tracker.wall_seconds, device_seconds=tracker.clock.seconds,
        device_seconds_kind=tracker.clock.kind, peak_memory_mb=tracker.memory.sample(),
        memory_kind=tracker.memory.kind, trainable_params=trainable, total_params=adapted.total_parameters(),
        flops_estimate=train_flops(tokens, n_forward=n_forward, n_backprop=n_backprop, n_trainable=trainable),
        adapter_bytes=adapted.adapter_bytes(), samples=tracker.samples, steps=tracker.steps, tokens=tokens,
        feature_cache=bound is not None, cache_hits=bound.hits if bound else 0,
        cache_misses=bound.misses if bound else 0, cache_seconds_saved=bound.seconds_saved if bound else 0.0,
    )
