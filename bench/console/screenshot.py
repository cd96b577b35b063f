"""Screenshots of the console report as a person sees it in a terminal (tmux) → PNG for docs/.

    pip install pillow
    python bench/console/screenshot.py [--widths 80 200] [--out docs/img]

Runs `clearance gate examples/leaky-repo` inside a detached tmux session of each width (so the
report sizes itself from a real terminal, colours on), captures the pane with its escape codes
(`tmux capture-pane -e`), and draws the captured cells with DejaVu Sans Mono into a PNG.
The demo advisories are imported into a throw-away database first; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from rich.color import Color
from rich.terminal_theme import MONOKAI
from rich.text import Text

REPO = Path(__file__).resolve().parents[2]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
BACKGROUND = (24, 26, 33)
FOREGROUND = (220, 223, 228)


def capture(width: int, height: int, command: str, env: dict[str, str]) -> str:
    """Run `command` in a tmux pane of `width` x `height` and return the pane with escape codes."""
    session = f"clearance-shot-{os.getpid()}-{width}"
    done = Path(tempfile.mkdtemp()) / "done"
    script = f"{command}; touch {done}; sleep 600"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), script],
        check=True,
        env=env,
    )
    try:
        for _ in range(600):
            if done.exists():
                break
            time.sleep(0.5)
        out = subprocess.run(
            ["tmux", "capture-pane", "-p", "-e", "-J", "-S", "-", "-t", session],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    lines = out.rstrip("\n").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def render(ansi: str, width: int, path: Path, title: str) -> None:
    """Draw terminal text (with SGR colours) as a PNG `width` cells wide."""
    font = ImageFont.truetype(FONT, 14)
    bold = ImageFont.truetype(FONT_BOLD, 14)
    cell_w = round(font.getlength("M"))
    cell_h = 18
    # one decoder for the whole pane: tmux sends only style changes, so a style set on one line
    # (e.g. bold) can still be in effect at the start of the next
    lines = list(Text.from_ansi(ansi).split("\n"))
    pad = 12
    bar = 26
    image = Image.new("RGB", (pad * 2 + cell_w * width, bar + pad * 2 + cell_h * len(lines)), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width, bar), fill=(44, 47, 56))
    for i, colour in enumerate(((237, 106, 94), (245, 191, 79), (98, 197, 84))):
        draw.ellipse((10 + i * 18, 8, 20 + i * 18, 18), fill=colour)
    draw.text((80, 6), title, font=font, fill=(170, 174, 182))
    for row, text in enumerate(lines):
        y = bar + pad + row * cell_h
        col = 0
        for segment in text.render_segments() if hasattr(text, "render_segments") else _segments(text):
            chunk, style = segment
            fg = _rgb(style.color if style else None, FOREGROUND)
            bg = _rgb(style.bgcolor if style else None, None)
            face = bold if style and style.bold else font
            if style and style.dim:
                fg = tuple(int(c * 0.6) for c in fg)
            for ch in chunk:
                x = pad + col * cell_w
                if bg is not None:
                    draw.rectangle((x, y, x + cell_w, y + cell_h), fill=bg)
                draw.text((x, y + 1), ch, font=face, fill=fg)
                col += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=True)


def _segments(text: Text) -> list[tuple[str, object]]:
    """(characters, style) runs of a Rich `Text`, in order."""
    plain = text.plain
    styles: list[object] = [None] * len(plain)
    for span in text.spans:
        for i in range(span.start, min(span.end, len(plain))):
            styles[i] = span.style
    runs: list[tuple[str, object]] = []
    for ch, style in zip(plain, styles, strict=True):
        if runs and runs[-1][1] is style:
            runs[-1] = (runs[-1][0] + ch, style)
        else:
            runs.append((ch, style))
    return runs


def _rgb(color: Color | None, default: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
    if color is None or color.is_default:
        return default
    triplet = color.get_truecolor(MONOKAI)  # a dark terminal's palette (readable red on dark)
    return (triplet.red, triplet.green, triplet.blue)


def main() -> int:
    """Capture and render one screenshot per width."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[80, 200])
    parser.add_argument("--height", type=int, default=110)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args()
    db = Path(tempfile.mkdtemp()) / "db"
    env = {**os.environ, "CLEARANCE_DB_DIR": str(db), "TERM": "xterm-256color"}
    env.pop("CI", None)
    env.pop("NO_COLOR", None)
    clearance = shutil.which("clearance") or "clearance"
    subprocess.run(
        [clearance, "db", "import", str(REPO / "examples" / "advisories")],
        env=env,
        check=True,
        capture_output=True,
    )
    demo = Path(tempfile.mkdtemp()) / "leaky-repo"
    shutil.copytree(REPO / "examples" / "leaky-repo", demo)
    for width in args.widths:
        command = f"cd {demo} && {clearance} gate . --quiet"
        ansi = capture(width, args.height, command, env)
        (args.out / f"console-{width}.ansi").parent.mkdir(parents=True, exist_ok=True)
        render(ansi, width, args.out / f"console-{width}.png", f"clearance gate . — {width} columns")
        print(f"wrote {args.out / f'console-{width}.png'} ({len(ansi.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
