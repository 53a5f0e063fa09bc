"""Med-VQA evaluation: normalise answers, score under named protocols with bootstrap CIs.

    from pefomed.evaluation import evaluate, predict, score, rescore
    result = evaluate(model, records, out_dir="runs/x")   # predictions.jsonl + metrics.json
    result.metrics["closed-lenient"]   # {"value": 0.74, "ci95": [0.69, 0.79], "n": 251, ...}

Peer-exact families (``llava-med``, ``pefomed-paper``, ``vqa``, ``mevf``) reproduce published
scorers: ``score(records, answers, protocols=["llava-med", "pefomed-paper"])``.
"""
from pefomed.evaluation.io import (METRICS_FILE, PREDICTIONS_FILE, atomic_write, read_metrics,
                                   read_predictions, rescore, write_metrics, write_predictions)
from pefomed.evaluation.metrics import bleu1, closed_match, exact_match, token_f1, token_recall
from pefomed.evaluation.normalize import answer_tokens, normalize_answer
from pefomed.evaluation.predict import predict
from pefomed.evaluation.prediction import Prediction
from pefomed.evaluation.protocols import (DEFAULT_PROTOCOLS, FAMILIES, PROTOCOLS, Family, Protocol,
                                          get_protocol, list_protocols, register_family,
                                          register_protocol, resolve_protocols)
from pefomed.evaluation.questions import Question, load_questions
from pefomed.evaluation.result import EvalResult
from pefomed.evaluation.run import evaluate
from pefomed.evaluation.scoring import (BREAKDOWN_FIELDS, bootstrap_ci, majority_baseline, score,
                                       score_predictions)
from pefomed.evaluation.table import breakdown_table, family_table, metrics_table

__all__ = [
    "BREAKDOWN_FIELDS", "DEFAULT_PROTOCOLS", "FAMILIES", "METRICS_FILE", "PREDICTIONS_FILE", "PROTOCOLS",
    "EvalResult", "Family", "Prediction", "Protocol", "Question",
    "answer_tokens", "atomic_write", "bleu1", "bootstrap_ci", "breakdown_table", "closed_match",
    "evaluate", "exact_match", "family_table", "get_protocol", "list_protocols", "load_questions",
    "majority_baseline", "metrics_table", "normalize_answer", "predict", "read_metrics", "read_predictions",
    "register_family", "register_protocol", "rescore", "resolve_protocols", "score",
    "score_predictions", "token_f1", "token_recall", "write_metrics", "write_predictions",
]
