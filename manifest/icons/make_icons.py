#!/usr/bin/env python3
"""Regenerate the Teams app icons from their SVG sources.

    manifest/icons/color.svg   -> manifest/color.png    192x192, opaque RGB (full-bleed tile)
    manifest/icons/outline.svg -> manifest/outline.png  32x32, RGBA, white (#FFFFFF) + alpha only

Needs `rsvg-convert` (Debian package librsvg2-bin) and Pillow (PyPI `pillow`):

    apt-get install -y librsvg2-bin && pip install pillow
    python3 manifest/icons/make_icons.py            # writes both PNGs
    python3 manifest/icons/make_icons.py --check    # only checks the PNGs already there

The outline is rasterised with anti-aliasing, then every pixel's colour is set to pure white
while its alpha is kept: Teams recolours the outline icon and rejects any other colour.
The colour icon is flattened to RGB: it is a full-bleed square with no transparency.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
MANIFEST_DIR = HERE.parent

ICONS = {
    # name: (svg source, png target, size)
    "color": (HERE / "color.svg", MANIFEST_DIR / "color.png", 192),
    "outline": (HERE / "outline.svg", MANIFEST_DIR / "outline.png", 32),
}


def rasterise(svg: Path, size: int) -> Image.Image:
    exe = shutil.which("rsvg-convert")
    if exe is None:
        sys.exit("make_icons: rsvg-convert not found (apt-get install librsvg2-bin)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.png"
        subprocess.run(
            [exe, "--width", str(size), "--height", str(size), "--format", "png",
             "--output", str(out), str(svg)],
            check=True,
        )
        with Image.open(out) as im:
            return im.convert("RGBA").copy()


def make_color(svg: Path, size: int) -> Image.Image:
    im = rasterise(svg, size)
    alpha = im.getchannel("A")
    if alpha.getextrema() != (255, 255):
        sys.exit(f"make_icons: {svg.name} must cover the whole square (found transparent pixels)")
    return im.convert("RGB")


def make_outline(svg: Path, size: int) -> Image.Image:
    im = rasterise(svg, size)
    alpha = im.getchannel("A")
    white = Image.new("RGBA", im.size, (255, 255, 255, 0))
    white.putalpha(alpha)
    return white


def check(name: str, png: Path, size: int) -> list[str]:
    problems: list[str] = []
    if not png.exists():
        return [f"{png.name}: missing"]
    with Image.open(png) as im:
        if im.format != "PNG":
            problems.append(f"{png.name}: not a PNG ({im.format})")
        if im.size != (size, size):
            problems.append(f"{png.name}: {im.size[0]}x{im.size[1]}, expected {size}x{size}")
        rgba = im.convert("RGBA")
    raw = rgba.tobytes()
    pixels = [tuple(raw[i:i + 4]) for i in range(0, len(raw), 4)]
    if name == "outline":
        bad = sum(1 for r, g, b, a in pixels if a > 0 and (r, g, b) != (255, 255, 255))
        if bad:
            problems.append(f"{png.name}: {bad} visible pixel(s) are not pure white")
        transparent = sum(1 for p in pixels if p[3] == 0)
        if transparent < len(pixels) // 4:
            problems.append(f"{png.name}: background is not transparent")
        if not any(p[3] == 255 for p in pixels):
            problems.append(f"{png.name}: has no opaque pixel")
    else:
        if any(p[3] != 255 for p in pixels):
            problems.append(f"{png.name}: colour icon should be opaque")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the existing PNGs")
    args = parser.parse_args()

    if not args.check:
        for name, (svg, png, size) in ICONS.items():
            im = make_color(svg, size) if name == "color" else make_outline(svg, size)
            im.save(png, format="PNG", optimize=True)
            print(f"wrote {png.relative_to(MANIFEST_DIR.parent)} ({size}x{size}, {im.mode})")

    problems = [p for name, (_, png, size) in ICONS.items() for p in check(name, png, size)]
    for p in problems:
        print(f"make_icons: {p}", file=sys.stderr)
    if not problems:
        print("icons ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
