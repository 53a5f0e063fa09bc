"""Med-VQA data: one record type, named datasets, and a generic loader for files and HF datasets.

    from pefomed.data import load_dataset
    split = load_dataset("vqa-rad", "test")        # Split: .records, .fingerprint, .skipped
"""
from pefomed.data.context import LoadContext, Where
from pefomed.data.images import open_image
from pefomed.data.record import ANSWER_TYPES, VQARecord
from pefomed.data.registry import (
    DatasetEntry, get_dataset, list_datasets, load_dataset, register_dataset,
)
from pefomed.data.split import Split, fingerprint

__all__ = [
    "ANSWER_TYPES", "DatasetEntry", "LoadContext", "Split", "VQARecord", "Where", "fingerprint",
    "get_dataset", "list_datasets", "load_dataset", "open_image", "register_dataset",
]
