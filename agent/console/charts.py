"""Charts the agent draws itself: inline SVG from figures, no script, no CDN, no build.

``bars`` draws one bar per day (a rate as a share of 100 %, or a count against the
largest), labelled with the day of the month under it and the value in its title (a
phone shows it on a long press); a day with nothing to count draws no bar and a dash.
"""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 640, 180, 12, 22, 34


def bars(days: list[date], values: list[float | None], *, rate: bool, label: str, css: str = "bar") -> Markup:
    """One bar per day; ``rate``: values are 0..1 drawn against 100 %, else counts against the largest."""
    n = max(1, len(days))
    top = 1.0 if rate else max([v for v in values if v is not None] + [1.0])
    inner_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT) / n
    parts = [f'<svg class="chart {escape(css)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}"'
             ' xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{WIDTH}" y2="{TOP}" class="grid"/>',
             f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH}" y2="{HEIGHT - BOTTOM}" class="axis"/>',
             f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end" class="tick">{"100%" if rate else f"{top:g}"}</text>',
             f'<text x="{LEFT - 4}" y="{HEIGHT - BOTTOM}" text-anchor="end" class="tick">0</text>']
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        x = LEFT + i * step + step * 0.15
        w = max(1.0, step * 0.7)
        shown = "-" if value is None else (f"{value * 100:.0f}%" if rate else f"{value:g}")
        if value is not None:
            h = inner_h * (value / top if top else 0)
            parts.append(f'<rect x="{x:.1f}" y="{HEIGHT - BOTTOM - h:.1f}" width="{w:.1f}" height="{h:.1f}"'
                         f' data-day="{day.isoformat()}" data-value="{value:g}"><title>{day} {shown}</title></rect>')
        if n <= 31 and (n <= 16 or i % 2 == 0):
            parts.append(f'<text x="{x + w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" class="tick">{day.day}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
