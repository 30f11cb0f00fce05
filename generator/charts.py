"""Small charts drawn at build time as inline SVG: no chart library in the browser."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 560, 160, 24


def year_chart(counts: dict[int, int], label: str) -> Markup:
    """Bars of papers per year (every year in the range shown, empty ones too)."""
    if not counts:
        return Markup("")
    years = list(range(min(counts), max(counts) + 1))
    top = max(counts.values())
    slot = (WIDTH - 2 * PAD) / len(years)
    bar = max(4.0, slot * 0.7)
    spoken = ", ".join(  # the figures, for those who cannot see the bars
        f"{year}: {counts[year]} {'paper' if counts[year] == 1 else 'papers'}"
        if counts.get(year)
        else f"{year}: none"
        for year in years
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title"'
        ' aria-describedby="chart-desc">',
        f'<title id="chart-title">{escape(label)}</title>',
        f'<desc id="chart-desc">{spoken}.</desc>',
    ]
    for i, year in enumerate(years):
        n = counts.get(year, 0)
        h = (HEIGHT - 2 * PAD - 14) * n / top
        x = PAD + i * slot + (slot - bar) / 2
        y = HEIGHT - PAD - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
            f"<title>{year}: {n} {'paper' if n == 1 else 'papers'}</title></rect>"
        )
        if n:
            parts.append(f'<text class="value" x="{x + bar / 2:.1f}" y="{y - 3:.1f}">{n}</text>')
        if len(years) <= 12 or i % max(1, len(years) // 8) == 0:
            parts.append(f'<text class="year" x="{x + bar / 2:.1f}" y="{HEIGHT - 6}">{year}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
