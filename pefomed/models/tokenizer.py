"""Offline tokenizers for tiny models: no hub, deterministic, saved and loaded like real ones."""
from __future__ import annotations

import copy
from functools import lru_cache

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>", "<image>")

# Words of the Med-VQA domain, so tiny tokenizers give readable whole-word tokens for the
# synthetic data; anything else falls back to single characters (byte-like coverage).
_DOMAIN_WORDS = """
yes no the a an is are there of in on at to what which where how many this image organ
modality plane lesion lesions mass masses nodule abnormal normal abnormality present absent
left right upper lower middle central bilateral size small medium large count one two three four
five six zero bright dark hyperdense hypodense hyperintense hypointense intensity shape round
oval irregular x-ray xray ct mri ultrasound chest brain abdomen head lung lungs liver kidney
kidneys heart spleen axial coronal sagittal pa ap view scan shows show showing image question
answer finding findings report seen visible located location side contrast with without and or
fracture pneumonia effusion edema tumor cyst hemorrhage infarct
""".split()


def build_tiny_tokenizer(vocab_size: int = 384, extra_words: tuple[str, ...] = (),
                         extra_special: tuple[str, ...] = (),
                         named_special: dict[str, str] | None = None) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained locally on Med-VQA words: covers any text, decodes exactly.

    Deterministic for a given ``vocab_size``. Keep ``vocab_size`` different from every layer
    width of the model: peft's prompt tuning finds the word embedding by vocabulary size.
    ``extra_special`` adds special tokens a processor needs (``<|image_pad|>``, ...); they are
    reserved inside ``vocab_size``, so ``len(tokenizer) == vocab_size`` still holds.
    ``named_special`` also names special tokens (``{"image_token": "<image_soft_token>"}`` gives
    ``tokenizer.image_token`` / ``.image_token_id``, saved in the tokenizer config), as some
    processors expect. Each call returns a fresh copy: processors mutate their tokenizer.
    """
    named = dict(named_special or {})
    extra = tuple(dict.fromkeys(tuple(extra_special) + tuple(named.values())))
    tok = copy.deepcopy(_trained(vocab_size, tuple(extra_words), extra))
    if named:
        tok._set_model_specific_special_tokens(named)  # the public route (from_pretrained kwargs) needs files
    return tok


@lru_cache(maxsize=16)
def _trained(vocab_size: int, extra_words: tuple[str, ...], extra_special: tuple[str, ...]) -> PreTrainedTokenizerFast:
    specials = list(dict.fromkeys(SPECIAL_TOKENS + extra_special))
    floor = 256 + len(specials)
    if vocab_size < floor:
        raise ValueError(f"vocab_size >= {floor} must hold, but got vocab_size={vocab_size}")
    words = sorted(set(_DOMAIN_WORDS) | set(extra_words))
    corpus = [" ".join(words)] * 4 + [f" {w}" for w in words for _ in range(3)]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    # pad the vocabulary to exactly vocab_size so model configs can rely on it
    missing = vocab_size - tok.get_vocab_size()
    if missing > 0:
        tok.add_tokens([f"<extra_{i}>" for i in range(missing)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>",
    )
    fast.add_special_tokens({"additional_special_tokens": specials[4:]})  # <image> and the extras
    return fast
