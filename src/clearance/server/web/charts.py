"""Inline SVG charts rendered on the server (no JavaScript, no CDN): horizontal bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

_PALETTE = ("#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#4b5563")


ANSWER_COLORS = {"allow": "#16a34a", "deny": "#dc2626", "needs-approval": "#d97706"}


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    width: int = 420,
    colors: Mapping[str, str] | None = None,
) -> Markup:
    """A horizontal bar chart with one labelled bar per item (values ≥ 0); `colors` by label."""
    bar_h, gap, label_w = 22, 8, 130
    height = max(1, len(items)) * (bar_h + gap) + 30
    top = max((v for _, v in items), default=0.0) or 1.0
    plot_w = width - label_w - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" class="chart"><title>{escape(title)}</title>',
        f'<text x="0" y="14" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    if not items:
        parts.append('<text x="0" y="40" font-size="12" fill="#6b7280">no data</text>')
    for i, (label, value) in enumerate(items):
        y = 24 + i * (bar_h + gap)
        w = 0 if value <= 0 else max(2, round(plot_w * value / top))
        color = (colors or {}).get(label, _PALETTE[i % len(_PALETTE)])
        shown = f"{value:g}{unit}"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="{color}" rx="3">'
            f"<title>{escape(label)}: {escape(shown)}</title></rect>"
            f'<text x="{label_w + w + 6}" y="{y + 15}" font-size="12">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
