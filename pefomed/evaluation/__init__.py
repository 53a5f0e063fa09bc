"""Med-VQA evaluation: normalise answers, score under named protocols with bootstrap CIs.

    from pefomed.evaluation import evaluate, predict, score, rescore
    result = evaluate(model, records, out_dir="runs/x")   # predictions.jsonl + metrics.json
    result.metrics["closed-accuracy"]   # {"value": 0.74, "ci95": [0.69, 0.79], "n": 251}
"""
from pefomed.evaluation.io import (METRICS_FILE, PREDICTIONS_FILE, atomic_write, read_metrics,
                                   read_predictions, rescore, write_metrics, write_predictions)
from pefomed.evaluation.metrics import (bleu1, closed_match, exact_match, reference_in_prediction,
                                        token_f1, token_recall)
from pefomed.evaluation.normalize import answer_tokens, normalize_answer
from pefomed.evaluation.predict import predict
from pefomed.evaluation.prediction import Prediction
from pefomed.evaluation.questions import Question, load_questions
from pefomed.evaluation.protocols import (DEFAULT_PROTOCOLS, PROTOCOLS, Protocol, get_protocol,
                                          list_protocols, register_protocol, resolve_protocols)
from pefomed.evaluation.result import EvalResult
from pefomed.evaluation.run import evaluate
from pefomed.evaluation.scoring import BREAKDOWN_FIELDS, bootstrap_ci, score, score_predictions
from pefomed.evaluation.table import breakdown_table, metrics_table

__all__ = [
    "BREAKDOWN_FIELDS", "DEFAULT_PROTOCOLS", "METRICS_FILE", "PREDICTIONS_FILE", "PROTOCOLS",
    "EvalResult", "Prediction", "Protocol", "Question",
    "answer_tokens", "atomic_write", "bleu1", "bootstrap_ci", "breakdown_table", "closed_match",
    "evaluate", "exact_match", "get_protocol", "list_protocols", "load_questions", "metrics_table", "normalize_answer",
    "predict", "read_metrics", "read_predictions", "reference_in_prediction", "register_protocol",
    "rescore", "resolve_protocols", "score", "score_predictions", "token_f1", "token_recall",
    "write_metrics", "write_predictions",
]
