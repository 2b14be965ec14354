"""Fine-tunes keyq's sentence model on the tuning half, then exports it as keyq ships it.

Run by hand, once, where PyTorch is installed (keyq itself never needs it):

    pip install torch==2.13.0 transformers onnx onnxruntime==1.32.0 onnxscript
    python tools/finetune_model.py --base <all-MiniLM-L6-v2 folder> --out guidance/model
    python tools/finetune_model.py --base <all-MiniLM-L6-v2 folder> --cross-validate

The base model is sentence-transformers' all-MiniLM-L6-v2 (guidance/model/SOURCE.md says where
it came from). It is trained with a supervised contrastive loss (Khosla et al., 2020): in each
batch, sentences for the same building block or fact are drawn together and every other sentence
pushed apart. The sentences are the ones the ranker embeds (each tip by its title, tags and text,
each fact by its title and phrases), each tag and phrase of two words or more on its own, and
the tuning half of guidance/eval.toml: its questions by their expected answers, its off-topic
questions as sentences with no partner (pushed away from everything). The held-out half is
never read. ``--cross-validate`` fine-tunes on each of the tuning half's two folds in turn
(bench/guidance_tune.py draws them) and scores the ranker on the other: how the settings here
and the gate's floors in guidance/ranker.py were chosen.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.guidance_tune import fold_of, halves  # noqa: E402
from guidance.content import facts, guidance, questions  # noqa: E402
from guidance.ranker import item_texts  # noqa: E402

EPOCHS = 8
BATCH = 64
RATE = 5e-5
TEMPERATURE = 0.1
SEED = 14


def training_set(fold: int | None) -> list[tuple[str, frozenset[str]]]:
    """(sentence, labels) pairs; an off-topic question's labels are its own text alone, so it
    has no partner and is only ever a negative."""
    content = guidance()
    rows = [(text, frozenset({label})) for text, label in item_texts(content.tips, facts())]
    # Each tag and phrase of two words or more on its own too: "is this compulsory" is what the
    # fact on whether you have to answer was written for, whatever the questions say.
    rows += [(tag, frozenset({t.block})) for t in content.tips for tag in t.tags if " " in tag]
    rows += [(phrase, frozenset({f.id})) for f in facts() for phrase in f.phrases if " " in phrase]
    for q in questions():
        if q.split != "tune" or (fold is not None and fold_of(q) != fold):
            continue
        rows.append((q.text, frozenset(q.expect) if q.expect else frozenset({f"off:{q.text}"})))
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
    torch.set_num_threads(2)
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


def cross_validate(base: Path, epochs: int) -> None:
    """For each fold of the tuning half: a model fine-tuned on the other fold, and the ranker
    (learning its examples from that fold too) scored on this one, for each pair of the gate's
    floors; off-topic questions are split by the same hash. bench/guidance_tune.py cannot do
    this with the shipped model, which learnt from both folds."""
    import guidance.ranker as ranker_module
    from bot.guide import NEXT_QUERY, is_next
    from guidance import dense
    from guidance.content import Audience
    from guidance.ranker import Asker, Ranker

    folds, _ = halves()
    off = [q for q in questions() if q.split == "tune" and not q.expect]
    asker = Asker(role=Audience.LINE_MANAGERS)
    floors = [(a, b) for a in (0.25, 0.3, 0.35, 0.4, 0.45) for b in (0.45, 0.5, 0.55, 0.6)]
    tally = {pair: [0, 0, 0, 0, 0] for pair in floors}  # right, top 3, asked, false, off-topic
    for k in (0, 1):
        model, tokenizer = train(base, 1 - k, epochs)

        def run(text: str, model: Any = model, tokenizer: Any = tokenizer) -> Any:
            with torch.no_grad():
                return embed(model, tokenizer, [text])[0].numpy().astype(np.float32)

        dense._run = run  # the fold's model, unquantized
        dense.forget()
        ranker = Ranker(guidance(), examples=tuple(folds[1 - k]))
        for pair in floors:
            ranker_module.ONE_WORD_FLOOR, ranker_module.ASKED_FLOOR = pair
            counts = tally[pair]
            for q in folds[k]:
                asked = NEXT_QUERY if is_next(q.text, asker, with_data=False) else q.text
                hits = ranker.search(asked, asker)
                counts[0] += bool(hits) and hits[0].key in q.expect
                counts[1] += any(h.key in q.expect for h in hits[:3])
                counts[2] += 1
            for q in off:
                if fold_of(q) == k:
                    counts[3] += bool(ranker.search(q.text, asker))
                    counts[4] += 1
    for pair, (right, three, asked, false, offs) in tally.items():
        print(
            f"floors {pair}: cross-validated top-1 {right / asked:.1%}, top-3 {three / asked:.1%},"
            f" off-topic false {false}/{offs}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--cross-validate", action="store_true")
    args = parser.parse_args()
    if args.cross_validate:
        cross_validate(args.base, args.epochs)
        return
    if args.out is None:
        parser.error("--out is needed to export a model")
    model, _ = train(args.base, None, args.epochs)
    args.out.mkdir(parents=True, exist_ok=True)
    export(model, args.out)


if __name__ == "__main__":
    main()
