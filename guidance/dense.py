"""Sentence similarity from a small transformer that ships inside keyq (all-MiniLM-L6-v2).

The model is sentence-transformers' all-MiniLM-L6-v2 (6 layers, 384 dimensions, Apache 2.0),
exported to ONNX and quantized to 8-bit weights (23 MB), with its WordPiece tokenizer, in
``guidance/model/`` (guidance/model/SOURCE.md says where they came from and how they were made).
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
MODEL = FOLDER / "minilm-l6-int8.onnx"
TOKENIZER = FOLDER / "tokenizer.json"
DIMENSIONS = 384
MAX_TOKENS = 256
"""As the model was trained: longer texts are cut (a tip's text is well under this)."""
BATCH = 32
REMEMBERED = 4096
"""Sentences whose vectors are kept (the index's items and recent questions): 6 MB at most."""

_remembered: dict[str, NDArray[np.float32]] = {}


@cache
def model() -> tuple[Tokenizer, Any]:
    """The tokenizer and the inference session, loaded once per process from keyq's files."""
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding()  # to the longest text of each batch
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # a server's event loop, not a batch job
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings name graph nodes, nothing ours
    session = onnxruntime.InferenceSession(str(MODEL), options, providers=["CPUExecutionProvider"])
    return tokenizer, session


def embed(texts: list[str]) -> NDArray[np.float32]:
    """Unit-length sentence vectors, one row per text (zero for an empty text)."""
    missing = [t for t in dict.fromkeys(texts) if t.strip() and t not in _remembered]
    missing.sort(key=len)  # similar lengths together: less padding per batch
    for start in range(0, len(missing), BATCH):
        chunk = missing[start : start + BATCH]
        for text, vector in zip(chunk, _run(chunk), strict=True):
            if len(_remembered) >= REMEMBERED:
                _remembered.pop(next(iter(_remembered)))  # the oldest first
            _remembered[text] = vector
    vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    for row, text in enumerate(texts):
        if text in _remembered:
            vectors[row] = _remembered[text]
    return vectors


def _run(texts: list[str]) -> NDArray[np.float32]:
    tokenizer, session = model()
    encodings = tokenizer.encode_batch(texts)
    ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
    mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    hidden = session.run(None, feeds)[0]
    weights = mask[..., None].astype(np.float32)
    mean = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
    norms = np.linalg.norm(mean, axis=1, keepdims=True)
    return np.asarray(mean / np.where(norms > 0, norms, 1.0), dtype=np.float32)


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
