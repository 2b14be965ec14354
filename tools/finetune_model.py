"""Fine-tunes keyq's sentence model on the tuning half, then exports it as keyq ships it.

Run by hand, once, where PyTorch is installed (keyq itself never needs it):

    pip install torch==2.13.0 transformers onnx onnxruntime==1.32.0 onnxscript -e .
    python tools/finetune_model.py --base <all-MiniLM-L6-v2 folder> --out guidance/model
    python tools/finetune_model.py --base <all-MiniLM-L6-v2 folder> --cross-validate \
        [--grid gate|weights|none] [--no-guide] [--no-written] [--keep DIR] [--fold 0|1]
    python tools/finetune_model.py --base <folder> --out DIR --leave-out-batch N [M ...]
        (a model that never saw batch N (and M ...), to score it on them as fresh ones)

(KEYQ_TRAIN_THREADS sets PyTorch's threads, 2 by default: 1 each to run two trainings at once.)

The base model is sentence-transformers' all-MiniLM-L6-v2 (guidance/model/SOURCE.md says where
it came from). It is trained with a supervised contrastive loss (Khosla et al., 2020): in each
batch, sentences for the same building block or fact are drawn together and every other sentence
pushed apart. The sentences are the ones the ranker embeds (each tip by its title, tags and text,
each fact by its title and phrases), each tag and phrase of two words or more on its own, and
the tuning half of guidance/eval.toml: its questions by their expected answers, its off-topic
questions as one more label of their own (``OFF_TOGETHER``), and the guide's own sentences by
the block whose section they are in (``USE_GUIDE``), and the questions written for training
only in tools/train_questions.toml (``USE_WRITTEN``). The held-out half is never read, except
to drop a written question that shares most of its words with one of its questions (``fresh``).
``--cross-validate`` fine-tunes on each of the tuning half's two folds in turn
(bench/guidance_tune.py draws them) and scores the ranker on the other, for each setting of a
grid (``GRIDS``): how the settings here and the gate's floors and margin in guidance/ranker.py
were chosen (``none``: the ranker's settings as they are, to judge a change to the training
set). ``--keep`` saves the two folds' models for the next grid.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.guidance_tune import fold_counts, fold_of, halves, learnt_from  # noqa: E402
from guidance.content import facts, guidance, questions  # noqa: E402
from guidance.ranker import item_texts  # noqa: E402

EPOCHS = 8
BATCH = 64
RATE = 5e-5
TEMPERATURE = 0.1
SEED = 14
GUIDE = ROOT / "tests" / "data" / "seeds" / "building-blocks-guide.txt"
GUIDE_SECTIONS = (
    # (the heading a block's section starts at, its block); the data block from its analysis
    # part on: before that it states the key question, the groups, response rates and the
    # threshold, which are facts of their own (guidance/facts.toml), not the data block's tips.
    ("Create a compelling, shared vision", "vision"),
    ("Widen your talent pool", "talent"),
    ("Create a diverse and inclusive culture", "culture"),
    ("Progression - make sure the best can succeed", "progression"),
    ("ANALYSING YOUR DATA", "data"),
)
USE_GUIDE = True
"""The guide's own sentences join the training set, each labelled with the building block its
section is about: the words employers use for each block that no question of ours has used yet
("word of mouth", "work trials", "career conversations"). They are training text only: keyq
never shows them."""
USE_WRITTEN = True
"""Questions written for training only (tools/train_questions.toml) join the training set, in
every fold: more voices than the evaluation set's tuning half alone gives the model."""
WRITTEN = ROOT / "tools" / "train_questions.toml"
LEFT_OUT: frozenset[int] = frozenset()
"""Batches of the evaluation set left out of training (``--leave-out-batch``), so that they can
score the model as batches nobody tuned for (``bench/guidance_quality.py --fresh N --model``)."""
OVERLAP = 0.6
"""A written question sharing this share of its words with an evaluation question is left out,
so neither half's figures are flattered by a near copy."""
OFF_TOGETHER = True
"""Off-topic questions are drawn together (one label for all), so the ranker can tell a new one
by its nearest neighbours (guidance/ranker.py, OFF_MARGIN); --off-apart gives each no partner
instead (only pushed away from everything), as the eighth session's model was trained.
Cross-validated with the neighbour check: 82.5% top-1 and 1 off-topic answer of 80 together,
82.5% and 2 apart (each at its best floors)."""


def guide_sentences() -> list[tuple[str, str]]:
    """(sentence, block) for each sentence of five words or more in the guide's block sections
    (to the next block; the data block to the end of its analysis part), without footnotes,
    mark-up, links or footnote numbers."""
    lines = GUIDE.read_text(encoding="utf-8").splitlines()
    footnote = re.compile(r"^\s*[\d\u00b9\u00b2\u00b3\u2070-\u2079]+\s")
    found = []
    for heading, block in GUIDE_SECTIONS:
        start = next(n for n, line in enumerate(lines) if line.startswith(heading))
        stop = "+ MORE" if block == "data" else "BUILDING BLOCK"
        end = next((n for n in range(start + 1, len(lines)) if lines[n].strip() == stop), None)
        kept = [line for line in lines[start + 1 : end] if not footnote.match(line)]
        text = " ".join(line for line in kept if line.strip() != "+ MORE")
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)|<[^>]*>", r"\1", text)  # links: their words
        text = re.sub(r"[*_]+|[\u00b9\u00b2\u00b3\u2070-\u2079]+|(?<=[a-z.])\d+\b", "", text)
        for sentence in re.split(r"(?<=[.!?:])\s+|\s+- ", text):
            sentence = sentence.strip(" -")
            if len(sentence.split()) >= 5 and not sentence.startswith(("http", "www")):
                found.append((sentence, block))
    return found


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.casefold()))


def fresh(written: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(question, label) for each written question that shares less than ``OVERLAP`` of its
    words with every question of the evaluation set (either half)."""
    asked = [words(q.text) for q in questions()]
    kept = []
    for label, texts in written.items():
        for text in texts:
            own = words(text)
            if all(len(own & other) < OVERLAP * len(own) for other in asked):
                kept.append((text, label))
    return kept


def written_questions() -> list[tuple[str, str]]:
    """The training-only questions, near copies of evaluation questions left out."""
    with WRITTEN.open("rb") as f:
        written = tomllib.load(f)["written"]
    kept = fresh(written)
    total = sum(len(texts) for texts in written.values())
    print(f"written questions: {len(kept)} of {total} kept ({total - len(kept)} near copies)")
    return kept


def training_set(fold: int | None) -> list[tuple[str, frozenset[str]]]:
    """(sentence, labels) pairs; off-topic questions share the label "off" (with
    ``OFF_TOGETHER`` false, each has its own text alone: no partner, only ever a negative)."""
    content = guidance()
    rows = [(text, frozenset({label})) for text, label in item_texts(content.tips, facts())]
    # Each tag and phrase of two words or more on its own too: "is this compulsory" is what the
    # fact on whether you have to answer was written for, whatever the questions say.
    rows += [(tag, frozenset({t.block})) for t in content.tips for tag in t.tags if " " in tag]
    rows += [(phrase, frozenset({f.id})) for f in facts() for phrase in f.phrases if " " in phrase]
    if USE_GUIDE:
        rows += [(sentence, frozenset({block})) for sentence, block in guide_sentences()]
    if USE_WRITTEN:
        for text, label in written_questions():
            off = label == "off" and not OFF_TOGETHER
            rows.append((text, frozenset({f"off:{text}" if off else label})))
    for q in questions():
        if q.split != "tune" or (fold is not None and fold_of(q) != fold):
            continue
        if q.batch in LEFT_OUT:  # fresh batches, to be scored by a model that never saw them
            continue
        off_label = "off" if OFF_TOGETHER else f"off:{q.text}"
        rows.append((q.text, frozenset(q.expect) if q.expect else frozenset({off_label})))
    return rows


def embed(model: Any, tokenizer: Any, texts: list[str]) -> torch.Tensor:
    """Mean-pooled, unit-length sentence vectors (as guidance/dense.py computes them)."""
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(mean, dim=-1)


def supervised_contrastive(vectors: torch.Tensor, labels: list[frozenset[str]]) -> torch.Tensor:
    """Each sentence against the rest of the batch: the log-probability of its partners (the
    sentences sharing a label with it), averaged; sentences with no partner only serve as
    negatives."""
    n = len(labels)
    logits = vectors @ vectors.T / TEMPERATURE
    eye = torch.eye(n, dtype=torch.bool)
    logits = logits.masked_fill(eye, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    partners = torch.tensor(
        [[i != j and bool(labels[i] & labels[j]) for j in range(n)] for i in range(n)]
    )
    counts = partners.sum(1)
    anchors = counts > 0
    if not anchors.any():
        return vectors.sum() * 0.0
    per_anchor = (log_prob.masked_fill(~partners, 0.0)).sum(1)[anchors] / counts[anchors]
    return -per_anchor.mean()


def train(base: Path, fold: int | None, epochs: int = EPOCHS) -> tuple[Any, Any]:
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(int(os.environ.get("KEYQ_TRAIN_THREADS", "2")))
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModel.from_pretrained(base)
    rows = training_set(fold)
    optimiser = torch.optim.AdamW(model.parameters(), lr=RATE)
    steps = epochs * ((len(rows) + BATCH - 1) // BATCH)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / (0.1 * steps)) * (1 - step / steps)
    )
    model.train()
    for epoch in range(epochs):
        random.shuffle(rows)
        total = 0.0
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            loss = supervised_contrastive(
                embed(model, tokenizer, [t for t, _ in chunk]), [labels for _, labels in chunk]
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(chunk)
        print(f"epoch {epoch + 1}/{epochs}: loss {total / len(rows):.3f}", file=sys.stderr)
    model.eval()
    return model, tokenizer


class Hidden(torch.nn.Module):
    """The encoder's last hidden state: pooling is done by keyq (guidance/dense.py)."""

    def __init__(self, bert: Any) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
        return self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state


def export(model: Any, out: Path) -> None:
    """ONNX, then 8-bit weights per channel, as SOURCE.md describes."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    full = out / "minilm-l6-tuned.fp32.onnx"
    ids = torch.ones(1, 8, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]
    torch.onnx.export(
        Hidden(model),
        (ids, torch.ones_like(ids), torch.zeros_like(ids)),
        str(full),
        input_names=names[:3],
        output_names=names[3:],
        dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names},
        opset_version=17,
        dynamo=False,
    )
    quantize_dynamic(
        str(full),
        str(out / "minilm-l6-tuned-int8.onnx"),
        weight_type=QuantType.QInt8,
        per_channel=True,
    )
    full.unlink()


def fold_model(base: Path, fold: int, epochs: int, keep: Path | None) -> tuple[Any, Any]:
    """The model fine-tuned on one fold; with ``keep``, saved there once and loaded after."""
    folder = keep / f"fold{fold}" if keep is not None else None
    if folder is not None and (folder / "config.json").exists():
        model = AutoModel.from_pretrained(folder)
        model.eval()
        return model, AutoTokenizer.from_pretrained(folder)
    model, tokenizer = train(base, fold, epochs)
    if folder is not None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return model, tokenizer


GRIDS: dict[str, list[dict[str, float | None]]] = {
    # The ranker's settings as they are: how a change to the training set is judged.
    "none": [{}],
    # The gate: one guidance word needs a meaning near a tip or fact (ONE_WORD_FLOOR) or a
    # question asked before (ASKED_FLOOR); nearer an off-topic question than either by more
    # than OFF_MARGIN is off-topic (inf: that check off).
    "gate": [
        {"ONE_WORD_FLOOR": a, "ASKED_FLOOR": b, "OFF_MARGIN": m}
        for a in (0.35, 0.4, 0.45)
        for b in (0.45, 0.5, 0.55)
        for m in (float("inf"), -0.05, 0.0, 0.05, 0.1)
    ],
    # A question with none of the guidance's words: answered by its meaning above this floor
    # (None: never), if it has at least so many words.
    "meaning": [
        {"NO_WORD_FLOOR": f, "MEANING_WORDS": w}
        for f in (None, 0.5, 0.55, 0.6, 0.65, 0.7)
        for w in (2, 3, 4)
    ],
    # How much sentence similarity and the classifier count against the words.
    "weights": [
        {"DENSE_WEIGHT": d, "CLASSIFIER_WEIGHT": c}
        for d in (2.0, 3.0, 4.0, 5.0, 6.0)
        for c in (0.0, 0.25, 0.5, 1.0)
    ],
}


def cross_validate(
    base: Path, epochs: int, grid: str, keep: Path | None, only: int | None = None
) -> None:
    """For each fold of the tuning half: a model fine-tuned on the other fold, and the ranker
    (learning its examples, off-topic ones included, from that fold too) scored on this one,
    for each setting of the grid; off-topic questions are split by the same hash.
    bench/guidance_tune.py cannot do this with the shipped model, which learnt from both
    folds. ``only``: score that fold alone (half the training time, to compare base models)."""
    import guidance.ranker as ranker_module
    from guidance import dense
    from guidance.ranker import Ranker

    folds, off = halves()
    settings = GRIDS[grid]
    tally = [[0, 0, 0, 0, 0] for _ in settings]  # right, top 3, asked, false, off-topic
    for k in (0, 1) if only is None else (only,):
        model, tokenizer = fold_model(base, 1 - k, epochs, keep)

        @functools.cache  # each question once, however many settings score it
        def run(text: str, model: Any = model, tokenizer: Any = tokenizer) -> Any:
            with torch.no_grad():
                return embed(model, tokenizer, [text])[0].numpy().astype(np.float32)

        dense._run = run  # the fold's model, unquantized
        dense.DIMENSIONS = model.config.hidden_size  # 768 for a base-sized model such as mpnet
        dense.forget()
        ranker = Ranker(guidance(), examples=learnt_from(folds, off, k))
        for setting, counts in zip(settings, tally, strict=True):
            for name, value in setting.items():
                setattr(ranker_module, name, value)
            for i, n in enumerate(fold_counts(ranker, folds, off, k)):
                counts[i] += n
    for setting, (right, three, asked, false, offs) in zip(settings, tally, strict=True):
        print(
            f"{setting}: cross-validated top-1 {right / asked:.1%}, "
            f"top-3 {three / asked:.1%}, off-topic false {false}/{offs}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--cross-validate", action="store_true")
    parser.add_argument(
        "--off-apart", action="store_true", help="off-topic questions as partnerless negatives"
    )
    parser.add_argument(
        "--no-guide", action="store_true", help="without the guide's sentences (as before)"
    )
    parser.add_argument(
        "--no-written", action="store_true", help="without tools/train_questions.toml"
    )
    parser.add_argument(
        "--leave-out-batch",
        type=int,
        nargs="+",
        default=[],
        help="train without these batches of the evaluation set",
    )
    parser.add_argument("--grid", choices=sorted(GRIDS), default="gate")
    parser.add_argument("--keep", type=Path, help="where the folds' models are kept between runs")
    parser.add_argument(
        "--fold", type=int, choices=(0, 1), help="cross-validate: score this fold only"
    )
    args = parser.parse_args()
    global OFF_TOGETHER, USE_GUIDE, USE_WRITTEN, LEFT_OUT
    OFF_TOGETHER = OFF_TOGETHER and not args.off_apart
    USE_GUIDE = USE_GUIDE and not args.no_guide
    USE_WRITTEN = USE_WRITTEN and not args.no_written
    LEFT_OUT = frozenset(args.leave_out_batch)
    if args.cross_validate:
        cross_validate(args.base, args.epochs, args.grid, args.keep, args.fold)
        return
    if args.out is None:
        parser.error("--out is needed to export a model")
    model, _ = train(args.base, None, args.epochs)
    args.out.mkdir(parents=True, exist_ok=True)
    export(model, args.out)


if __name__ == "__main__":
    main()
