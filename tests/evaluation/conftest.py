"""Small in-memory Med-VQA records for the evaluation tests."""
from __future__ import annotations

import pytest
from PIL import Image

from pefomed.data.record import VQARecord


def make_record(id: str, answer: str, answer_type: str = "closed", question: str = "is there a mass?",
                **meta: str) -> VQARecord:
    shade = sum(map(ord, id)) % 256
    return VQARecord(id=id, question=question, answer=answer, answer_type=answer_type,
                     image=Image.new("RGB", (40, 30), (shade, 64, 255 - shade)), **meta)


@pytest.fixture
def rec():
    """Factory: ``rec("q1", "yes", "closed", organ="chest")`` -> a VQARecord with a PIL image."""
    return make_record
