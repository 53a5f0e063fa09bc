"""Built-in VLM families; importing this package registers them and their tiny variants."""
from pefomed.models.families import (  # noqa: F401
    blip,
    blip2,
    gemma3,
    idefics3,
    llava,
    paligemma,
    qwen2_vl,
    vilt,
)
from pefomed.models import medvlm_tiny  # noqa: F401,E402  (the pretrained demo base, a LLaVA)
