#!/usr/bin/env python3
"""Pillow decode figures on this machine, for side-by-side comparison with the project's loader.

Usage: python3 Benchmarks/decode_peer.py [--mode L|RGB] [--size 224] FILE_OR_DIR ...
Decodes every PNG/JPEG given (directories are walked), converts to the mode, and with --size
resizes (bilinear) to size x size, single-threaded; repeats for about 2 s and prints one JSON line:
{"impl": "pillow", "files": N, "images_per_s": R, "megapixels_per_s": P}.
Needs Pillow (pip install pillow) in any Python 3.
"""
import argparse, json, os, time
from PIL import Image

p = argparse.ArgumentParser()
p.add_argument("paths", nargs="+"); p.add_argument("--mode", default="RGB"); p.add_argument("--size", type=int, default=0)
a = p.parse_args()
files = []
for path in a.paths:
    if os.path.isdir(path):
        for root, _, names in os.walk(path):
            files += [os.path.join(root, n) for n in sorted(names) if n.lower().endswith((".png", ".jpg", ".jpeg"))]
    else:
        files.append(path)
blobs = [open(f, "rb").read() for f in files]  # time decoding, not the disk
import io
done, pixels, start = 0, 0, time.perf_counter()
while time.perf_counter() - start < 2.0 or done == 0:
    for b in blobs:
        im = Image.open(io.BytesIO(b)).convert(a.mode)
        if a.size: im = im.resize((a.size, a.size), Image.BILINEAR)
        pixels += im.width * im.height; done += 1
t = time.perf_counter() - start
print(json.dumps({"impl": "pillow", "files": len(files), "images_per_s": round(done / t, 1), "megapixels_per_s": round(pixels / t / 1e6, 2)}))
