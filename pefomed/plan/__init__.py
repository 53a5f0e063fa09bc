"""Memory planning: size a fine-tune before spending a GPU-hour (``pefomed plan``).

``plan(PlanRequest(model, method, ...))`` builds the model on the meta device, injects the
method and returns every byte of one training step (formulas in :mod:`pefomed.plan.memory`).
"""
from pefomed.plan.planner import PlanRequest, plan

__all__ = ["PlanRequest", "plan"]
