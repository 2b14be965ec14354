"""How well guidance answers questions it was never tuned on, and how fast.

Run: python bench/guidance_quality.py [--misses tune] [--fresh N [--model FILE.onnx]]

guidance/eval.toml holds manager, HR, small-business and staff questions, split once into a
tuning half and a held-out half (never looked at when changing tags, synonyms or weights), plus
off-topic questions. A first answer is right when it comes from one of the question's expected
building blocks or facts (top-1); top-3 counts any of the first three. Off-topic questions
should get "I don't have guidance on that" (the false-answer rate counts those that do not).
Questions are asked as a line manager of a 200-person organisation with no report yet, routed
as keyq routes them ("what should we do next?" goes to the plan question). --misses tune lists the
tuning half's misses (never the held-out half's). --fresh N scores batch N alone, both halves,
as if it had never joined: the ranker learns no example from it (the sentence model must not
have either: run it before retraining with the batch), which is how a new batch is measured
before its tuning half joins. With --model, the sentence model is that file instead of keyq's
(one fine-tuned with `tools/finetune_model.py --leave-out-batch N`, to compare on batch N).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path

from bot.guide import ranked_as
from guidance import dense
from guidance.content import LAST_BATCH, Audience, guidance, questions
from guidance.ranker import Asker, Ranker


def size_mb(distribution: str) -> float:
    """Installed size of a distribution's files, in MB."""
    files = metadata.distribution(distribution).files or []
    total = sum(
        Path(str(f.locate())).stat().st_size for f in files if Path(str(f.locate())).exists()
    )
    return total / 1e6


OFF_KINDS = {
    3: "short inputs",
    4: "workplace requests",
    5: "more requests (batch 5)",
    6: "requests in other voices (batch 6)",
    **{n: f"requests, batch {n}" for n in range(7, LAST_BATCH + 1)},
}
"""The off-topic questions of each later batch, reported apart (batch 1's are "questions")."""


def fresh(batch: int) -> None:
    """Batch ``batch`` scored with a ranker that learnt nothing from it."""
    asker = Asker(role=Audience.LINE_MANAGERS)
    ranker = Ranker(
        guidance(), examples=tuple(q for q in questions() if q.split == "tune" and q.batch != batch)
    )
    asked = [q for q in questions() if q.batch == batch]
    right = three = false = 0
    for q in asked:
        keys = [h.key for h in ranker.search(ranked_as(q.text, asker, ranker.search), asker)[:3]]
        if not q.expect:
            false += bool(keys)
            continue
        right += bool(keys) and keys[0] in q.expect
        three += bool(set(keys) & set(q.expect))
    on = [q for q in asked if q.expect]
    print(
        f"batch {batch} before joining: {len(on)} questions, top-1 {right / len(on):.1%}, "
        f"top-3 {three / len(on):.1%}; off-topic false answers {false} of {len(asked) - len(on)}"
    )


def main() -> None:
    if "--fresh" in sys.argv:
        if "--model" in sys.argv:
            dense.MODEL = Path(sys.argv[sys.argv.index("--model") + 1])
        fresh(int(sys.argv[sys.argv.index("--fresh") + 1]))
        return
    started = time.perf_counter()
    cold = subprocess.run(
        [
            sys.executable,
            "-c",
            "from guidance.ranker import Ranker; from guidance.content "
            "import guidance; Ranker(guidance())",
        ],
        check=True,
    )
    cold_start = time.perf_counter() - started
    del cold
    ranker = Ranker(guidance())
    asker = Asker(role=Audience.LINE_MANAGERS)
    results: dict[str, list[bool]] = {"tune": [], "held": []}
    by_batch: defaultdict[int, list[tuple[bool, bool]]] = defaultdict(list)
    top3: dict[str, list[bool]] = {"tune": [], "held": []}
    off: dict[str, list[bool]] = {"questions": [], **{kind: [] for kind in OFF_KINDS.values()}}
    misses: dict[str, list[str]] = {"tune": [], "held": []}
    menu_first: list[tuple[bool, bool]] = []  # unanswered held-out: block first, in first two
    timings = []
    for q in questions():
        dense.forget()  # each question is timed as a new one (tuning questions are remembered)
        t0 = time.perf_counter()
        # As keyq routes it: "what next?" without data is ranked as the plan question.
        asked = ranked_as(q.text, asker, ranker.search)
        hits = ranker.search(asked, asker)
        timings.append(time.perf_counter() - t0)
        keys = [h.key for h in hits[:3]]
        if not q.expect:
            off[OFF_KINDS.get(q.batch, "questions")].append(bool(hits))
            continue
        right = bool(keys) and keys[0] in q.expect
        results[q.split].append(right)
        top3[q.split].append(bool(set(keys) & set(q.expect)))
        if q.split == "held":
            by_batch[q.batch].append((right, bool(set(keys) & set(q.expect))))
            if not hits and any(not key.startswith("f_") for key in q.expect):
                order = ranker.likely_blocks(asked)
                menu_first.append((order[0] in q.expect, bool(set(order[:2]) & set(q.expect))))
        if not right:
            misses[q.split].append(f"  {q.text!r}: got {keys[:1]}, want {list(q.expect)}")
    for half, label in (("tune", "tuning half"), ("held", "held-out half")):
        n = len(results[half])
        print(
            f"{label}: {n} questions, top-1 {sum(results[half]) / n:.1%}, "
            f"top-3 {sum(top3[half]) / n:.1%}"
        )
    for batch, label in (
        (1, "written before 2026-11-29"),
        (2, "added on 2026-11-29 (by its developers)"),
        (3, "short inputs with no question mark (added later that day)"),
        (4, "in other voices (added later still)"),
        (5, "a fifth batch, written in one sitting (third session)"),
        (6, "a sixth batch, in other voices (fourth session)"),
        (7, "a seventh batch, public sector and others (sixth session)"),
        (8, "an eighth batch, retail, banks, publishers and others (sixth session)"),
        (9, "a ninth batch, police, GPs, transport, theatres and others (seventh session)"),
        (10, "a tenth batch, building, NHS, hotels, charities and others (eighth session)"),
        (11, "an eleventh batch, warehouses, prisons, start-ups and others (ninth session)"),
        (12, "a twelfth batch, quarries, zoos, broadcasters and others (ninth session)"),
        (13, "a thirteenth batch, chambers, hospices, ferries and others (twelfth session)"),
        (14, "a fourteenth batch, fire crews, breweries and others (thirteenth session)"),
        (15, "a fifteenth batch, hotels, bakeries, rail and others (fourteenth session)"),
        (16, "a sixteenth batch, building sites, theatres, care homes (fifteenth session)"),
        (17, "a seventeenth batch, supermarkets, solicitors, vets and others (sixteenth session)"),
        (18, "an eighteenth batch, utilities, labs, dealerships and others (seventeenth session)"),
        (19, "a nineteenth batch, opticians, airports, nurseries and others (twentieth session)"),
        (20, "a twentieth batch, water, pharmacies, depots and others (twenty-first session)"),
        (21, "a twenty-first batch, housing, buses, vets and others (twenty-second session)"),
        (22, "a twenty-second batch, studios, ports, farms and others (twenty-second session)"),
        (23, "a twenty-third batch, estates, crews, salons and others (twenty-second session)"),
        (24, "a twenty-fourth batch, shipyards, laundries and others (twenty-third session)"),
        (25, "a twenty-fifth batch, aerospace, theme parks and others (twenty-third session)"),
        (26, "a twenty-sixth batch, cruises, mines, studios and others (twenty-fourth session)"),
        (27, "a twenty-seventh batch, scaffolders, couriers and others (twenty-fifth session)"),
        (28, "a twenty-eighth batch, florists, care homes, short inputs (twenty-fifth session)"),
        (29, "a twenty-ninth batch, cinemas, gyms, prisons and others (twenty-fifth session)"),
        (30, "a thirtieth batch, vets, buses, theatres and others (twenty-sixth session)"),
        (31, "a thirty-first batch, undertakers, museums, pubs and others (twenty-sixth session)"),
        (32, "a thirty-second batch, architects, hauliers and others (twenty-sixth session)"),
    ):
        rows = by_batch[batch]
        print(
            f"  held-out, {label}: {len(rows)}, top-1 {sum(r for r, _ in rows) / len(rows):.1%}, "
            f"top-3 {sum(t for _, t in rows) / len(rows):.1%}"
        )
    unanswered = len(menu_first) or 1
    print(
        f"held-out questions for a block that got no answer: {len(menu_first)}; the blocks menu "
        f"offered puts theirs first for {sum(f for f, _ in menu_first) / unanswered:.0%}, "
        f"in the first two for {sum(t for _, t in menu_first) / unanswered:.0%} "
        f"(in a fixed order, 1 in 6 would be first)"
    )
    for kind, answered in off.items():
        print(
            f"off-topic {kind}: {len(answered)}, false answers "
            f"{sum(answered) / len(answered):.1%} (target <= 10%)"
        )
    timings.sort()
    p95 = timings[int(len(timings) * 0.95)] * 1000
    print(f"time per answer: median {statistics.median(timings) * 1000:.2f} ms, p95 {p95:.2f} ms")
    print(f"cold start (new process, import and index): {cold_start:.2f} s")
    # onnxruntime's own dependencies that nothing else of keyq's brings: flatbuffers, protobuf
    parts = ("rank-bm25", "snowballstemmer", "onnxruntime", "flatbuffers", "protobuf", "tokenizers")
    sizes = {name: size_mb(name) for name in parts}
    model_bytes = sum(f.stat().st_size for f in dense.FOLDER.iterdir())
    sizes["the model (guidance/model)"] = model_bytes / 1e6
    print(
        f"install size added by the ranker: {sum(sizes.values()):.1f} MB ("
        + ", ".join(f"{name} {mb:.1f}" for name, mb in sizes.items())
        + "; numpy is already a dependency)"
    )
    if "--misses" in sys.argv and "tune" in sys.argv:
        print("tuning-half misses:")
        print("\n".join(misses["tune"]))


if __name__ == "__main__":
    main()
