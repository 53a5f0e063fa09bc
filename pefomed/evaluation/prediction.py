"""The record a model run produces for one question: enough to score it without the dataset."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from pefomed.data.record import ANSWER_TYPES, VQARecord
from pefomed.errors import PefomedError


@dataclass(frozen=True)
class Prediction:
    """One question, its reference answer, the model's answer, and the fields reports group by."""

    id: str
    question: str
    reference: str
    prediction: str
    answer_type: str
    question_type: str = ""
    organ: str = ""
    modality: str = ""
    phrase_type: str = ""   # VQA-RAD's free-form vs rephrased question (MEVF scores free-form only)

    @classmethod
    def for_record(cls, record: VQARecord, prediction: str) -> "Prediction":
        """The prediction ``prediction`` for ``record``, copying its metadata."""
        return cls(id=record.id, question=record.question, reference=record.answer,
                   prediction=prediction, answer_type=record.answer_type,
                   question_type=record.question_type, organ=record.organ, modality=record.modality,
                   phrase_type=str(record.extra.get("phrase_type", "") or ""))

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "prediction") -> "Prediction":
        """Inverse of :meth:`to_dict`; ``where`` names the source in error messages."""
        if not isinstance(data, dict):
            raise PefomedError(f"{where}: expected a JSON object, but got {type(data).__name__}")
        names = [f.name for f in fields(cls)]
        required = names[:5]
        problems = [f"missing {k!r}" for k in required if k not in data]
        problems += [f"unknown key {k!r}" for k in data if k not in names]
        problems += [f"{k!r} must be a string, got {type(v).__name__}"
                     for k, v in data.items() if k in names and not isinstance(v, str)]
        if "answer_type" in data and data["answer_type"] not in ANSWER_TYPES:
            problems.append(f"answer_type must be one of {', '.join(ANSWER_TYPES)}, got {data['answer_type']!r}")
        if problems:
            raise PefomedError(f"{where}: {'; '.join(problems)}; fix the record or regenerate the predictions")
        return cls(**data)
