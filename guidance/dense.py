"""Sentence similarity from static word embeddings that ship inside a package (WordLlama).

WordLlama's 256-dimension ``l2_supercat`` table (16 MB, float16) and its tokenizer are part of
the ``wordllama`` wheel, so nothing is fetched at run time. We open both files ourselves rather
than through ``WordLlama.load()``: in 0.4.0 that looks for the tokenizer under a folder name the
wheel does not use and then tries Hugging Face, which a server with no way out must never do.
A sentence's vector is the average of its token vectors (``WordLlamaInference.embed``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import wordllama
from numpy.typing import NDArray
from safetensors import safe_open
from tokenizers import Tokenizer
from wordllama.inference import WordLlamaInference

_ROOT = Path(wordllama.__file__).parent
WEIGHTS = _ROOT / "weights" / "l2_supercat_256.safetensors"
TOKENIZER = _ROOT / "tokenizers" / "l2_supercat_tokenizer_config.json"


@cache
def model() -> WordLlamaInference:
    """The embedding model, loaded once per process from the installed package."""
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    with safe_open(str(WEIGHTS), framework="np") as f:
        table = f.get_tensor("embedding.weight")
    return WordLlamaInference(table, tokenizer)


def embed(texts: list[str]) -> NDArray[np.float32]:
    """Unit-length sentence vectors, one row per text."""
    if not texts:
        return np.zeros((0, 256), dtype=np.float32)
    vectors = model().embed(texts, norm=True)
    return np.asarray(vectors, dtype=np.float32)
