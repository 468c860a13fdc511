#!/usr/bin/env python3
"""Writes a folder of 224×224 JPEGs (quality 90, 4:2:0, as typical ImageNet files) for
`resnet bench decode`, cut at random positions and scales from the photos given.

Usage: python3 Benchmarks/make_jpeg_folder.py OUT_DIR COUNT PHOTO.jpg [PHOTO.jpg ...]
Needs Pillow.
"""
import os
import random
import sys

from PIL import Image

out, count, photos = sys.argv[1], int(sys.argv[2]), [Image.open(p).convert("RGB") for p in sys.argv[3:]]
os.makedirs(out, exist_ok=True)
rng = random.Random(0)
for i in range(count):
    photo = photos[i % len(photos)]
    side = rng.randint(min(photo.size) // 3, min(photo.size))
    left, top = rng.randint(0, photo.width - side), rng.randint(0, photo.height - side)
    crop = photo.crop((left, top, left + side, top + side)).resize((224, 224), Image.BILINEAR)
    crop.save(os.path.join(out, f"{i:04d}.jpg"), quality=90)
