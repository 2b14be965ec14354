"""How well guidance answers realistic questions, and how fast.

Run: python bench/guidance_quality.py

For each question in guidance/questions.toml, the first tip's block should be one of the
question's good blocks (top-1), or one of the first three tips' should be (top-3). Questions
are asked as a line manager of a 200-person organisation, as in most of the set.
"""

from __future__ import annotations

import time

from guidance.content import Audience, guidance, questions
from guidance.ranker import Asker, Ranker


def main() -> None:
    ranker = Ranker(guidance())
    asker = Asker(role=Audience.LINE_MANAGERS)
    top1 = top3 = 0
    misses = []
    start = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        for q in questions():
            ranker.rank(q.text, asker)
    per_answer = (time.perf_counter() - start) / (rounds * len(questions()))
    for q in questions():
        blocks = [r.tip.block for r in ranker.rank(q.text, asker)[:3]]
        if blocks[:1] and blocks[0] in q.blocks:
            top1 += 1
        else:
            misses.append(f"  {q.text!r}: got {blocks[:1]}, want {list(q.blocks)}")
        if set(blocks) & set(q.blocks):
            top3 += 1
    n = len(questions())
    print(f"questions: {n}")
    print(f"top-1 accuracy: {top1 / n:.1%} (target 85%)")
    print(f"top-3 accuracy: {top3 / n:.1%} (target 95%)")
    print(f"time per answer: {per_answer * 1000:.2f} ms (target under 50 ms)")
    if misses:
        print("top-1 misses:")
        print("\n".join(misses))


if __name__ == "__main__":
    main()
