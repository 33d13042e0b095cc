"""`nnsight logit-lens` renders a visible heatmap: headless Chromium screenshots
the HTML page, and the PNG (decoded here with zlib) must show every grid cell
in its colour, with text drawn inside, and a colour bar.

Run by ctest with /usr/bin/python3 (standard library only). Environment:
NNSIGHT_CLI_PATH (the nnsight executable), NNSIGHT_MODELS_DIR, CHROMIUM
(default /usr/bin/chromium). A missing chromium or model skips the test
locally and fails it under CI=true.
"""

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
import zlib

CLI = os.environ.get("NNSIGHT_CLI_PATH", "")
MODELS = os.environ.get("NNSIGHT_MODELS_DIR", os.path.join(os.path.dirname(__file__), "../../../shared/models"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "") == "true"
SVG_NS = "{http://www.w3.org/2000/svg}"
PROMPT = 'Once upon a time, Lily said "hi & <bye>"'


def require(condition, what):
    """Skips locally, fails under CI=true, when a prerequisite is missing."""
    if condition:
        return
    if IN_CI:
        raise AssertionError("missing " + what + " (required under CI=true)")
    raise unittest.SkipTest("missing " + what)


def decode_png(data):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB or RGBA PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise ValueError("unsupported PNG: depth %d colour type %d interlace %d" % (depth, colour, interlace))
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    previous = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + predictor) & 0xFF
            elif kind != 0:
                raise ValueError("bad PNG filter %d" % kind)
        rows.append([tuple(line[x * bpp : x * bpp + 3]) for x in range(width)])
        previous = line
    return width, height, rows


def hex_colour(text):
    return tuple(int(text[i : i + 2], 16) for i in (1, 3, 5))


def close(a, b, tolerance=3):
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


class LogitLensScreenshot(unittest.TestCase):
    def setUp(self):
        require(CLI and os.path.exists(CLI), "nnsight executable (NNSIGHT_CLI_PATH)")
        require(os.path.isdir(os.path.join(MODELS, "stories260K-hf")), "test model stories260K-hf")
        self.tmp = tempfile.mkdtemp(prefix="nnsight_lens_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def logit_lens(self, out_name):
        out = os.path.join(self.tmp, out_name)
        r = subprocess.run(
            [CLI, "logit-lens", "--model", os.path.join(MODELS, "stories260K-hf"), "--tokenizer",
             os.path.join(MODELS, "stories260K", "tok512.bin"), "--prompt", PROMPT, "--out", out],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            return f.read()

    def cells_of(self, svg_text):
        """The grid cells from an SVG document: (row, column, x, y, w, h, colour)."""
        root = ET.fromstring(svg_text)  # fails on anything that is not well-formed XML
        cells = []
        for g in root.iter(SVG_NS + "g"):
            if g.get("class") != "cell":
                continue
            rect = g.find(SVG_NS + "rect")
            cells.append((int(g.get("data-row")), int(g.get("data-column")), int(rect.get("x")), int(rect.get("y")),
                          int(rect.get("width")), int(rect.get("height")), hex_colour(rect.get("fill"))))
        return root, cells

    def test_svg_is_well_formed_with_one_cell_per_layer_and_token(self):
        root, cells = self.cells_of(self.logit_lens("lens.svg"))
        rows, columns = int(root.get("data-rows")), int(root.get("data-columns"))
        self.assertEqual(rows, 6)  # stories260K: 5 layers and the output
        self.assertGreater(columns, 10)
        self.assertEqual(len(cells), rows * columns)
        self.assertEqual({(c[0], c[1]) for c in cells}, {(r, c) for r in range(rows) for c in range(columns)})
        texts = "".join(root.itertext())
        self.assertIn('"hi & <bye>"', texts)  # the prompt, escaped in the file and intact once parsed

    def test_headless_chromium_shows_the_grid(self):
        require(os.path.exists(CHROMIUM), "chromium (" + CHROMIUM + "; Debian package chromium)")
        html = self.logit_lens("lens.html").decode("utf-8")
        self.assertNotIn("<script", html)
        svg = html[html.index("<svg ") : html.index("</svg>") + len("</svg>")]
        root, cells = self.cells_of(svg)
        svg_w, svg_h = int(root.get("width")), int(root.get("height"))

        page = os.path.join(self.tmp, "lens.html")
        shot = os.path.join(self.tmp, "shot.png")
        window = (svg_w + 60, svg_h + 60)
        r = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--force-device-scale-factor=1", "--user-data-dir=" + os.path.join(self.tmp, "profile"),
             "--screenshot=" + shot, "--window-size=%d,%d" % window, "file://" + page],
            capture_output=True, text=True, timeout=180)
        self.assertTrue(os.path.exists(shot), "chromium made no screenshot: %s\n%s" % (r.returncode, r.stderr))
        with open(shot, "rb") as f:
            width, height, pixels = decode_png(f.read())
        self.assertGreaterEqual((width, height), window)

        # Not blank: a heatmap has many distinct colours.
        colours = {p for row in pixels for p in row}
        self.assertGreater(len(colours), 40, "the screenshot has %d colours" % len(colours))

        # Where the page put the SVG: the first pixel from which the top-left cell's whole rectangle
        # (inset past its border) has that cell's colour.
        _, _, x0, y0, cw, ch, colour0 = min(cells, key=lambda c: (c[0], c[1]))

        def rect_filled(left, top, colour):
            probes = [(left + 3, top + 3), (left + cw - 4, top + 3), (left + 3, top + ch - 4),
                      (left + cw - 4, top + ch - 4), (left + 3, top + ch // 2)]
            return all(0 <= x < width and 0 <= y < height and close(pixels[y][x], colour) for x, y in probes)

        offset = None
        for y in range(height):
            for x in range(width):
                if close(pixels[y][x], colour0) and rect_filled(x, y, colour0):
                    offset = (x - x0, y - y0)
                    break
            if offset:
                break
        self.assertIsNotNone(offset, "the top-left cell's colour %s is nowhere in the screenshot" % (colour0,))

        # Every cell: its colour at its place, and something drawn on it (the token text) in its middle band.
        missing, textless = [], 0
        for row, column, x, y, w, h, colour in cells:
            left, top = x + offset[0], y + offset[1]
            if not rect_filled(left, top, colour):
                missing.append((row, column))
                continue
            band = pixels[top + h // 2 - 4 : top + h // 2 + 5]
            if all(close(p, colour, 40) for line in band for p in line[left + 2 : left + w - 2]):
                textless += 1
        self.assertEqual(missing, [], "cells not shown in their colour")
        self.assertLessEqual(textless, len(cells) // 10, "cells without text")

        # The colour bar: the top of the legend is the colour of p = 1, its bottom that of p = 0.
        legend = next(e for e in root.iter(SVG_NS + "g") if e.get("class") == "legend")
        bar = legend.find(SVG_NS + "rect")
        bx = int(bar.get("x")) + offset[0] + int(bar.get("width")) // 2
        by, bh = int(bar.get("y")) + offset[1], int(bar.get("height"))
        self.assertTrue(close(pixels[by + 2][bx], (253, 231, 37), 25), pixels[by + 2][bx])
        self.assertTrue(close(pixels[by + bh - 3][bx], (68, 1, 84), 25), pixels[by + bh - 3][bx])


if __name__ == "__main__":
    unittest.main(verbosity=2)
