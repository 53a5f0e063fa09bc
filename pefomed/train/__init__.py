"""Budgeted training of adapted VLMs, its cost record, the feature cache and the run recipe.

    from pefomed.train import Budget, TrainConfig, train, RunSpec, run_finetune
    result = train(adapted, records, TrainConfig(lr=2e-4), Budget(max_steps=200))
    result.stop_reason, result.cost.device_seconds
"""
from pefomed.train.budget import FAILURE_REASONS, STOP_REASONS, Budget, BudgetTracker
from pefomed.train.cost import Cost, train_flops
from pefomed.train.feature_cache import FeatureCache, cache_unavailable_reason
from pefomed.train.loop import TrainConfig, TrainResult, planned_steps, train
from pefomed.train.config import dump_config, load_config
from pefomed.train.control import RunControl
from pefomed.train.recipe import RunRecord, RunSpec, TrainingInterrupted, run_finetune

__all__ = [
    "FAILURE_REASONS", "STOP_REASONS", "Budget", "BudgetTracker", "Cost", "FeatureCache", "RunRecord",
    "RunControl", "RunSpec", "TrainConfig", "TrainResult", "TrainingInterrupted", "dump_config", "load_config",
    "cache_unavailable_reason", "planned_steps", "run_finetune",
    "train", "train_flops",
]
