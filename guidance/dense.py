"""Sentence similarity from static word embeddings that ship inside a package (WordLlama).

WordLlama's 256-dimension ``l2_supercat`` table (16 MB, float16) and its tokenizer are part of
the ``wordllama`` wheel, so nothing is fetched at run time. We read both files ourselves, with
``safetensors`` and ``tokenizers`` (what wordllama itself uses), and never import wordllama:
importing it configures the root logger at INFO; ``WordLlama.load()`` in 0.4.0 looks for the
tokenizer under a folder name the wheel does not use and then tries Hugging Face, which a
server with no way out must never do; and its inference class keeps a float32 copy of the
table (32 MB more in every process). A sentence's vector is the mean of its tokens' vectors,
as WordLlama computes it, scaled to unit length.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from safetensors import safe_open
from tokenizers import Tokenizer


def _package_folder() -> Path:
    # Found, not imported: importing wordllama calls logging.basicConfig(level=INFO), which
    # would take over the root logger before keyq configures it.
    spec = find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the wordllama package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


_ROOT = _package_folder()
WEIGHTS = _ROOT / "weights" / "l2_supercat_256.safetensors"
TOKENIZER = _ROOT / "tokenizers" / "l2_supercat_tokenizer_config.json"


@cache
def model() -> tuple[Tokenizer, NDArray[np.float16]]:
    """The tokenizer and the token table, loaded once per process from the installed package."""
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    with safe_open(str(WEIGHTS), framework="np") as f:
        table = f.get_tensor("embedding.weight")
    return tokenizer, table


def embed(texts: list[str]) -> NDArray[np.float32]:
    """Unit-length sentence vectors, one row per text (zero for a text with no tokens)."""
    tokenizer, table = model()
    vectors = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
    for row, encoding in enumerate(tokenizer.encode_batch(texts, add_special_tokens=False)):
        ids = np.clip(np.asarray(encoding.ids, dtype=np.int64), 0, table.shape[0] - 1)
        if ids.size:
            mean = table[ids].astype(np.float32).mean(axis=0)
            norm = float(np.linalg.norm(mean))
            vectors[row] = mean / norm if norm else mean
    return vectors


@cache
def common_words() -> frozenset[str]:
    """Lower-case English words common enough to be one token of the tokenizer's own (its
    32,000 pieces were learnt from a large body of text): a word here is not a misspelling."""
    tokenizer, _ = model()
    return frozenset(
        piece[1:]
        for piece in tokenizer.get_vocab()
        if piece.startswith("\u2581")
        and piece[1:].isascii()
        and piece[1:].isalpha()
        and piece[1:].islower()
    )
