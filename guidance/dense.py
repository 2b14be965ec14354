"""Sentence similarity from a small transformer that ships inside keyq (all-MiniLM-L6-v2).

The model is sentence-transformers' all-MiniLM-L6-v2 (6 layers, 384 dimensions, Apache 2.0),
fine-tuned on the tuning half of guidance/eval.toml (tools/finetune_model.py), exported to ONNX
and quantized to 8-bit weights (23 MB), with its WordPiece tokenizer, in ``guidance/model/``
(guidance/model/SOURCE.md says where they came from and how they were made).
It runs on onnxruntime with one thread, so nothing is fetched at run time and a server never
reaches out. A sentence's vector is the mean of its tokens' output vectors, scaled to unit
length, as sentence-transformers computes it for this model.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from numpy.typing import NDArray
from tokenizers import Tokenizer

FOLDER = Path(__file__).resolve().parent / "model"
MODEL = FOLDER / "minilm-l6-tuned-int8.onnx"
TOKENIZER = FOLDER / "tokenizer.json"
DIMENSIONS = 384
MAX_TOKENS = 256
"""As the model was trained: longer texts are cut (a tip's text is well under this)."""
REMEMBERED = 4096
"""Sentences whose vectors are kept (the guidance's own texts, ~650 today): 6 MB at most."""

_remembered: dict[str, NDArray[np.float32]] = {}


@cache
def model() -> tuple[Tokenizer, Any]:
    """The tokenizer and the inference session, loaded once per process from keyq's files."""
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # a server's event loop, not a batch job
    options.inter_op_num_threads = 1
    # No memory arena: it keeps the largest run's buffers for good (with batches of 32 it held
    # about 100 MB more in every process, measured); answers are no slower without it.
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3  # errors only: its warnings name graph nodes, nothing ours
    session = onnxruntime.InferenceSession(str(MODEL), options, providers=["CPUExecutionProvider"])
    return tokenizer, session


def embed(texts: list[str], *, remember: bool = False) -> NDArray[np.float32]:
    """Unit-length sentence vectors, one row per text (zero for an empty text).

    With ``remember``, the vectors are kept for the next call (the guidance's own texts, which
    every ranker a process builds embeds again). People's questions are not: nothing they typed
    outlives the turn that asked it.
    """
    vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    for row, text in enumerate(texts):
        if not text.strip():
            continue
        vector = _remembered.get(text)
        if vector is None:
            vector = _run(text)
            if remember:
                if len(_remembered) >= REMEMBERED:
                    _remembered.pop(next(iter(_remembered)))  # the oldest first
                _remembered[text] = vector
        vectors[row] = vector
    return vectors


def _run(text: str) -> NDArray[np.float32]:
    """One text on its own. Never batched: the 8-bit model scales each run's activations by
    the whole batch, so a text's vector would depend on the texts beside it (and on padding)."""
    tokenizer, session = model()
    ids = np.asarray([tokenizer.encode(text).ids], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": 0 * ids}
    mean = session.run(None, feeds)[0][0].mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return np.asarray(mean / norm if norm else mean, dtype=np.float32)


def forget() -> None:
    """Drops the remembered vectors (a benchmark timing questions never seen before)."""
    _remembered.clear()


@cache
def common_words() -> frozenset[str]:
    """Lower-case English words common enough to be one whole piece of the model's tokenizer
    (its 30,000 pieces were learnt from a large body of text): such a word is not a
    misspelling."""
    tokenizer, _ = model()
    return frozenset(
        piece
        for piece in tokenizer.get_vocab()
        if len(piece) > 1 and piece.isascii() and piece.isalpha() and piece.islower()
    )
