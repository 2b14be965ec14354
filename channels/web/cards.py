"""A printable A4 sheet of answer cards: ten a page, each with its own QR code and its code.

The QR codes come from segno; the page is laid out with matplotlib (already a dependency) and
saved as PDF (several pages) or PNG (the first page, for a quick look).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from storage.codes import display

A4 = (8.27, 11.69)  # inches
COLUMNS, ROWS = 2, 5


def sheet(codes: Sequence[str], base_url: str, org: str, *, fmt: str = "pdf") -> bytes:
    """The cards for ``codes``; each QR code opens ``base_url/a/CODE``."""
    import matplotlib

    matplotlib.use("Agg")
    import segno
    from matplotlib import pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    per_page = COLUMNS * ROWS
    pages = [codes[i : i + per_page] for i in range(0, len(codes), per_page)] or [[]]
    host = base_url.split("://", 1)[-1]
    buffer = io.BytesIO()

    def draw(batch: Sequence[str]) -> object:
        figure = plt.figure(figsize=A4)
        width, height = 1 / COLUMNS, 1 / ROWS
        for n, code in enumerate(batch):
            col, row = n % COLUMNS, n // COLUMNS
            left, bottom = col * width, 1 - (row + 1) * height
            border = figure.add_axes((left + 0.01, bottom + 0.005, width - 0.02, height - 0.01))
            border.set_xticks([])
            border.set_yticks([])
            for spine in border.spines.values():
                spine.set_linestyle((0, (4, 4)))
                spine.set_edgecolor("#999999")
            qr = segno.make(f"{base_url}/a/{code}", error="m")
            matrix = [[0 if cell else 1 for cell in line] for line in qr.matrix_iter(border=2)]
            image = figure.add_axes(
                (left + 0.025, bottom + 0.02, height * 0.8 * A4[1] / A4[0] * 0.5, height * 0.8)
            )
            image.imshow(matrix, cmap="gray", interpolation="nearest", vmin=0, vmax=1)
            image.axis("off")
            text_left = left + 0.025 + height * 0.8 * A4[1] / A4[0] * 0.5 + 0.015
            figure.text(text_left, bottom + height * 0.78, org[:28], fontsize=9, weight="bold")
            figure.text(text_left, bottom + height * 0.62, "One anonymous question.", fontsize=8)
            figure.text(text_left, bottom + height * 0.52, "Scan the code, or go to", fontsize=8)
            figure.text(text_left, bottom + height * 0.43, f"{host}/a", fontsize=8, weight="bold")
            figure.text(text_left, bottom + height * 0.34, "and type:", fontsize=8)
            figure.text(
                text_left,
                bottom + height * 0.18,
                display(code),
                fontsize=12,
                family="monospace",
                weight="bold",
            )
            figure.text(text_left, bottom + height * 0.07, "One answer per card.", fontsize=7)
        return figure

    if fmt == "png":
        figure = draw(pages[0])
        figure.savefig(buffer, format="png", dpi=100)  # type: ignore[attr-defined]
        plt.close(figure)  # type: ignore[arg-type]
        return buffer.getvalue()
    with PdfPages(buffer) as pdf:
        for batch in pages:
            figure = draw(batch)
            pdf.savefig(figure)
            plt.close(figure)  # type: ignore[arg-type]
    return buffer.getvalue()
