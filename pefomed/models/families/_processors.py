"""Processors built without their video part.

Qwen2-VL, Qwen2.5-VL and SmolVLM processors insist on a video processor, which needs torchvision
(not installable beside a CPU torch here). Medical VQA has no video, so these subclasses drop it.
They keep the original class name, so the folders they write name the original processor and
still load with ``AutoProcessor`` wherever torchvision exists.
"""
from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=None)
def image_only(base: type) -> type:
    """A subclass of processor class ``base`` whose sub-processors are the image processor and tokenizer.

    transformers reads the sub-processors and the saved settings off ``__init__``'s code object, so
    ``__init__`` is spelled out per signature (SmolVLM adds ``image_seq_len``).
    """
    if "image_seq_len" in inspect.signature(base.__init__).parameters:
        def __init__(self: Any, image_processor: Any = None, tokenizer: Any = None, image_seq_len: int = 169,
                     chat_template: str | None = None, **kwargs: Any) -> None:
            kwargs.pop("video_processor", None)
            base.__init__(self, image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                          image_seq_len=image_seq_len, chat_template=chat_template, **kwargs)
    else:
        def __init__(self: Any, image_processor: Any = None, tokenizer: Any = None,  # type: ignore[misc]
                     chat_template: str | None = None, **kwargs: Any) -> None:
            kwargs.pop("video_processor", None)
            base.__init__(self, image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                          chat_template=chat_template, **kwargs)
    cls = type(base.__name__, (base,), {"__init__": __init__, "__module__": __name__})
    cls.__qualname__ = f"{base.__name__}ImageOnly"
    return cls
