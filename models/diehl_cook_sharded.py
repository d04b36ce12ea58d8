"""The sharded evaluation's former home: it now lives in
:mod:`brainlearn.models.diehl_cook.sharded` (kept for existing imports)."""

from brainlearn.models.diehl_cook.sharded import evaluate_sharded, plan_shards

__all__ = ["evaluate_sharded", "plan_shards"]
