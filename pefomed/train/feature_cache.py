"""Compute frozen image features once per image and reuse them across steps, epochs and trials.

When nothing trainable sits in or before the vision tower (``adapted.vision_trainable`` is False)
the tower's output for an image never changes during training, so running it every step is
wasted work. Families that support it (``family.supports_feature_cache``) expose
``image_features(bundle, inputs, projected=...)`` and ``forward_with_features(model, inputs,
features, projector_live=...)``; the cached path gives the same logits as the pixel path. With a
frozen projector the cache holds projected features; when the projector trains, it holds the
tower's output and the projector runs live.

Entries are keyed by (model identity, image, preprocessing, dtype + projected). Model identity is a hash of
the weights of the vision tower and projector *before* training, so one cache can serve every
trial of a sweep on the same base model, and a different checkpoint or seed never hits.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import torch

from pefomed.data.record import VQARecord
from pefomed.models.base import stack_features


def cache_unavailable_reason(adapted: Any) -> str | None:
    """Why features of this adapted model cannot be cached, or None when they can."""
    family = adapted.bundle.family
    if not getattr(family, "supports_feature_cache", False):
        return f"family {family.name!r} does not support cached image features"
    if adapted.vision_trainable:
        return "something trainable sits in or before the vision tower"
    return None


class FeatureCache:
    """Image features by key; create one per base model (or per sweep) and pass it to ``train``.

    ``storage`` is where features are kept between steps ("cpu" keeps accelerator memory free).
    Counters are cache-wide; :class:`BoundFeatureCache` reports per-run deltas.
    """

    def __init__(self, storage: str | torch.device = "cpu") -> None:
        self.storage = torch.device(storage)
        self._store: dict[tuple[str, str, str, str], torch.Tensor] = {}
        self.hits = 0
        self.misses = 0
        self.compute_seconds = 0.0

    def __len__(self) -> int:
        return len(self._store)

    @property
    def seconds_per_image(self) -> float:
        """Mean time to compute one image's features (0 before any was computed)."""
        return self.compute_seconds / self.misses if self.misses else 0.0

    def bind(self, adapted: Any, dtype: torch.dtype | None = None) -> "BoundFeatureCache":
        """This cache as seen by one adapted model (hashes its frozen vision weights now)."""
        return BoundFeatureCache(self, adapted, dtype)

    def _get(self, key: tuple[str, str, str, str]) -> torch.Tensor | None:
        return self._store.get(key)

    def _put(self, key: tuple[str, str, str, str], value: torch.Tensor) -> None:
        self._store[key] = value.detach().to(self.storage)


class BoundFeatureCache:
    """A :class:`FeatureCache` tied to one model: looks up a batch's features, computing new images only."""

    def __init__(self, cache: FeatureCache, adapted: Any, dtype: torch.dtype | None) -> None:
        self.cache = cache
        self.bundle = adapted.bundle
        self.family = adapted.bundle.family
        self.model_key = model_identity(adapted.bundle)
        self.prep_key = preprocessing_identity(adapted.bundle.processor)
        self.projected = adapted.trainable_by_part().get("projector", 0) == 0
        self.variant_key = f"{dtype}|projected={self.projected}"
        self.hits = 0
        self.misses = 0

    @property
    def seconds_saved(self) -> float:
        """Hits this run × the cache's mean per-image compute time."""
        return self.hits * self.cache.seconds_per_image

    def features(self, records: list[VQARecord], inputs: dict[str, torch.Tensor],
                 rows: list[dict] | None = None) -> torch.Tensor:
        """Features for the batch, in order; only images not cached yet are computed.

        ``rows`` are the records' own encoded inputs (:class:`~pefomed.train.encoded.EncodedRecords`):
        with them the missing images are run through the tower alone; without them the whole
        batch in ``inputs`` is (and only the new images are stored).
        """
        keys = [(self.model_key, image_key(r), self.prep_key, self.variant_key) for r in records]
        found = [self.cache._get(k) for k in keys]
        first_missing: dict[tuple, int] = {}
        for i, (key, value) in enumerate(zip(keys, found)):
            if value is None:
                first_missing.setdefault(key, i)
        if first_missing:
            todo = list(first_missing.values())
            start = time.perf_counter()
            with torch.no_grad():
                if rows is not None:
                    batch = self.family.collate(self.bundle, [rows[i] for i in todo])
                    batch = {k: v.to(_input_device(inputs)) if isinstance(v, torch.Tensor) else v
                             for k, v in batch.items()}
                    computed = self._per_image(self.family.image_features(self.bundle, batch, projected=self.projected),
                                               len(todo))
                else:
                    every = self._per_image(self.family.image_features(self.bundle, inputs, projected=self.projected),
                                            len(keys))
                    computed = [every[i] for i in todo]
            self.cache.compute_seconds += time.perf_counter() - start
            for i, row in zip(todo, computed):
                self.cache._put(keys[i], row)
            found = [self.cache._get(k) for k in keys]
        misses = len(first_missing)
        self.misses += misses
        self.cache.misses += misses
        self.hits += len(keys) - misses
        self.cache.hits += len(keys) - misses
        device = _input_device(inputs)
        return stack_features([f.to(device) for f in found])

    def _per_image(self, computed: Any, expected: int) -> list[torch.Tensor]:
        rows = list(computed) if isinstance(computed, (list, tuple)) else list(computed.unbind(0))
        if len(rows) != expected:
            raise RuntimeError(f"family {self.family.name!r} returned features for {len(rows)} images "
                               f"but the batch has {expected}: it cannot be cached per image")
        return [r.detach() for r in rows]

    def forward(self, inputs: dict[str, torch.Tensor], features: torch.Tensor) -> Any:
        return self.family.forward_with_features(self.bundle, inputs, features,
                                                 projector_live=not self.projected)


def _input_device(inputs: dict[str, torch.Tensor]) -> torch.device:
    for value in inputs.values():
        if isinstance(value, torch.Tensor):
            return value.device
    return torch.device("cpu")


def image_key(record: VQARecord) -> str:
    """``record.image_id`` if set, else the image file path, else a hash of the pixels."""
    if record.image_id:
        return f"id:{record.image_id}"
    if isinstance(record.image, (str, Path)):
        return f"path:{Path(record.image).resolve()}"
    img = record.image
    digest = hashlib.sha256(f"{img.mode}{img.size}".encode() + img.tobytes()).hexdigest()
    return f"pixels:{digest[:32]}"


def preprocessing_identity(processor: Any) -> str:
    """A hash of the image processor's settings (resize, crop, normalisation)."""
    image_processor = getattr(processor, "image_processor", None)
    if image_processor is not None and hasattr(image_processor, "to_dict"):
        spec = json.dumps(image_processor.to_dict(), sort_keys=True, default=str)
    else:
        spec = type(processor).__name__
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def model_identity(bundle: Any) -> str:
    """A hash of the vision tower and projector weights (the inputs of cached features)."""
    anatomy = bundle.family.anatomy
    digest = hashlib.sha256(bundle.family.name.encode())
    state = bundle.model.state_dict()
    for name in sorted(state):
        clean = _original_name(name)
        if anatomy.part_of(clean) not in ("vision", "projector") or _is_adapter_tensor(name):
            continue
        tensor = state[name].detach().to("cpu").contiguous().reshape(-1)
        digest.update(clean.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:24]


def _original_name(name: str) -> str:
    if name.startswith("base_model.model."):
        name = name[len("base_model.model."):]
    return name.replace(".base_layer.", ".").replace(".original_module.", ".")


def _is_adapter_tensor(name: str) -> bool:
    # trainable copies and adapter weights change during training; the frozen base weights
    # identify the model, so trials with and without a projector adapter share entries
    return any(marker in name for marker in (".lora_", ".modules_to_save."))
