#!/usr/bin/env python3
"""Writes the image decoder and transform fixtures beside this script.

Run once, outside CI, with Pillow installed (python3 -m venv /tmp/torch && /tmp/torch/bin/pip install
pillow) and a C compiler with libjpeg headers (for the YCCK file, which Pillow cannot write):

    /tmp/torch/bin/python Tests/ResNetTests/Fixtures/images/make_image_fixtures.py

PNGs are written by the small encoder below (every colour type, bit depth, tRNS and Adam7, which
Pillow's encoder does not all offer); JPEGs by Pillow (libjpeg-turbo) and make_ycck.c. The expected
pixels are Pillow's: `Image.open(f)` then `ImageOps.exif_transpose`, `convert("RGB")` and
`convert("L")`, except for 16-bit PNGs, whose expected values are the high bytes of the samples this
script wrote (Pillow clips 16-bit gray instead of scaling it). manifest.json lists every file with its
expected size and the raw expected pixel files (row-major, 8-bit).
"""

import io
import json
import os
import random
import struct
import subprocess
import tempfile
import zlib

from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261124)
manifest = {"decode": [], "errors": [], "resize": []}


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_row(samples, bit_depth):
    if bit_depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if bit_depth == 8:
        return bytes(samples)
    out, acc, bits = bytearray(), 0, 0
    for s in samples:
        acc = (acc << bit_depth) | s
        bits += bit_depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(name, width, height, color_type, bit_depth, pixels, palette=None, trns=None,
              interlace=False, exif=None):
    """pixels: rows of pixels, each a tuple of samples."""
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        xs = list(range(x0, width, dx))
        if not xs:
            continue
        for y in range(y0, height, dy):
            samples = [s for x in xs for s in pixels[y][x]]
            raw += b"\x00" + pack_row(samples, bit_depth)
    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0,
                                       1 if interlace else 0))
    if palette is not None:
        data += chunk(b"PLTE", b"".join(bytes(c) for c in palette))
    if trns is not None:
        data += chunk(b"tRNS", trns)
    if exif is not None:
        data += chunk(b"eXIf", exif)
    data += chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    data += chunk(b"IEND", b"")
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def save_expected(name, image):
    """Writes Pillow's RGB and L conversions of `image` (already upright) and records them."""
    base = os.path.splitext(name)[0]
    rgb, gray = image.convert("RGB"), image.convert("L")
    with open(os.path.join(HERE, base + ".rgb"), "wb") as f:
        f.write(rgb.tobytes())
    with open(os.path.join(HERE, base + ".gray"), "wb") as f:
        f.write(gray.tobytes())
    return {"file": name, "width": image.width, "height": image.height, "rgb": base + ".rgb",
            "gray": base + ".gray"}


def expect_pillow(name, native_mode):
    image = ImageOps.exif_transpose(Image.open(os.path.join(HERE, name)))
    entry = save_expected(name, image)
    entry["mode"] = native_mode
    manifest["decode"].append(entry)


def expect_high_bytes(name, width, height, mode, pixels):
    """For 16-bit PNGs: the high byte of each sample, alpha dropped, converted by Pillow."""
    channels = 1 if mode == "L" else 3
    flat = bytes(s >> 8 for row in pixels for p in row for s in p[:channels])
    entry = save_expected(name, Image.frombytes(mode, (width, height), flat))
    entry["mode"] = "gray" if mode == "L" else "rgb"
    manifest["decode"].append(entry)


def random_pixels(width, height, channels, maximum):
    return [[tuple(rng.randint(0, maximum) for _ in range(channels)) for _ in range(width)]
            for _ in range(height)]


# PNG: every colour type and bit depth, tRNS, Adam7.
W, H = 13, 9
for depth in (1, 2, 4, 8):
    px = random_pixels(W, H, 1, (1 << depth) - 1)
    write_png(f"png_gray{depth}.png", W, H, 0, depth, px)
    expect_pillow(f"png_gray{depth}.png", "gray")
px = random_pixels(W, H, 1, 255)
write_png("png_gray8_trns.png", W, H, 0, 8, px, trns=struct.pack(">H", px[0][0][0]))
expect_pillow("png_gray8_trns.png", "gray")
px = random_pixels(W, H, 2, 255)
write_png("png_graya8.png", W, H, 4, 8, px)
expect_pillow("png_graya8.png", "gray")
px = random_pixels(W, H, 3, 255)
write_png("png_rgb8.png", W, H, 2, 8, px)
expect_pillow("png_rgb8.png", "rgb")
px = random_pixels(W, H, 3, 255)
write_png("png_rgb8_trns.png", W, H, 2, 8, px, trns=struct.pack(">HHH", *px[1][2]))
expect_pillow("png_rgb8_trns.png", "rgb")
px = random_pixels(W, H, 4, 255)
write_png("png_rgba8.png", W, H, 6, 8, px)
expect_pillow("png_rgba8.png", "rgb")
for name, ctype, channels, mode in (("gray16", 0, 1, "L"), ("graya16", 4, 2, "L"),
                                    ("rgb16", 2, 3, "RGB"), ("rgba16", 6, 4, "RGB")):
    px = random_pixels(W, H, channels, 65535)
    write_png(f"png_{name}.png", W, H, ctype, 16, px)
    expect_high_bytes(f"png_{name}.png", W, H, mode, px)
for depth in (1, 2, 4, 8):
    colors = 1 << depth
    palette = [tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(colors)]
    px = random_pixels(W, H, 1, colors - 1)
    trns = bytes(rng.randint(0, 255) for _ in range(colors // 2 + 1)) if depth >= 2 else None
    write_png(f"png_palette{depth}.png", W, H, 3, depth, px, palette=palette, trns=trns)
    expect_pillow(f"png_palette{depth}.png", "rgb")
# Adam7 at sizes where some passes are empty or a single column.
for name, w, h, ctype, depth, channels in (("rgb8_adam7", 19, 11, 2, 8, 3),
                                           ("gray4_adam7", 5, 3, 0, 4, 1),
                                           ("graya8_adam7", 1, 1, 4, 8, 2)):
    px = random_pixels(w, h, channels, (1 << depth) - 1)
    write_png(f"png_{name}.png", w, h, ctype, depth, px, interlace=True)
    expect_pillow(f"png_{name}.png", "rgb" if ctype & 2 else "gray")
px = random_pixels(W, H, 4, 65535)
write_png("png_rgba16_adam7.png", W, H, 6, 16, px, interlace=True)
expect_high_bytes("png_rgba16_adam7.png", W, H, "RGB", px)


# JPEG: a smooth picture (so chroma subsampling matters) in every variant Pillow writes.
def picture(width, height):
    image = Image.new("RGB", (width, height))
    image.putdata([((x * 255) // width, (y * 255) // height, ((x + y) * 97) % 256)
                   for y in range(height) for x in range(width)])
    return image


photo = picture(37, 21)
variants = {
    "jpeg_baseline.jpg": dict(image=photo, quality=90),
    "jpeg_444.jpg": dict(image=photo, quality=95, subsampling=0),
    "jpeg_progressive.jpg": dict(image=photo, quality=85, progressive=True),
    "jpeg_gray.jpg": dict(image=photo.convert("L"), quality=90),
    "jpeg_cmyk.jpg": dict(image=photo.convert("CMYK"), quality=95),
}
for name, options in variants.items():
    image = options.pop("image")
    image.save(os.path.join(HERE, name), "JPEG", **options)
    expect_pillow(name, "gray" if image.mode == "L" else "rgb")

with tempfile.TemporaryDirectory() as tmp:
    tool = os.path.join(tmp, "make_ycck")
    subprocess.run(["cc", "-O1", "-o", tool, os.path.join(HERE, "make_ycck.c"), "-ljpeg"], check=True)
    cmyk = photo.convert("CMYK")
    inverted = bytes(255 - b for b in cmyk.tobytes())  # Adobe convention, as Photoshop writes it
    subprocess.run([tool, os.path.join(HERE, "jpeg_ycck.jpg"), str(cmyk.width), str(cmyk.height)],
                   input=inverted, check=True)
    expect_pillow("jpeg_ycck.jpg", "rgb")

# EXIF orientation 1…8 on a non-square picture, in JPEG and (one) in PNG's eXIf chunk.
small = picture(7, 4)
for orientation in range(1, 9):
    exif = Image.Exif()
    exif[0x0112] = orientation
    name = f"jpeg_orientation{orientation}.jpg"
    small.save(os.path.join(HERE, name), "JPEG", quality=95, exif=exif.tobytes())
    expect_pillow(name, "rgb")
exif = Image.Exif()
exif[0x0112] = 6
px = random_pixels(5, 3, 3, 255)
tiff = exif.tobytes()
write_png("png_rgb8_exif6.png", 5, 3, 2, 8, px, exif=tiff[6:] if tiff.startswith(b"Exif") else tiff)
expect_pillow("png_rgb8_exif6.png", "rgb")


# Files each decoder must refuse, with the error kind expected.
def refuse(name, data, kind):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    manifest["errors"].append({"file": name, "kind": kind})


png_bytes = open(os.path.join(HERE, "png_rgb8.png"), "rb").read()
jpeg_bytes = open(os.path.join(HERE, "jpeg_baseline.jpg"), "rb").read()
progressive_bytes = open(os.path.join(HERE, "jpeg_progressive.jpg"), "rb").read()
refuse("bad_empty.png", b"", "notAnImage")
refuse("bad_text.png", b"this is not an image at all\n", "notAnImage")
refuse("bad_truncated.png", png_bytes[: len(png_bytes) // 2], "truncated")
refuse("bad_signature_only.png", png_bytes[:8], "truncated")
idat = png_bytes.index(b"IDAT")
corrupt = bytearray(png_bytes)
corrupt[idat + 4 : idat + 12] = b"\xff" * 8  # zlib stream header and data destroyed, CRC now wrong
refuse("bad_idat.png", bytes(corrupt), "corrupt")
ihdr = bytearray(png_bytes)
ihdr[24] = 7  # bit depth 7 does not exist (CRC fixed up so the IHDR check is what fails)
ihdr[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr[12:29])))
refuse("bad_bit_depth.png", bytes(ihdr), "corrupt")
huge = bytearray(png_bytes)
huge[16:24] = struct.pack(">II", 200000, 200000)
huge[29:33] = struct.pack(">I", zlib.crc32(bytes(huge[12:29])))
refuse("bad_huge.png", bytes(huge), "tooLarge")
refuse("bad_truncated.jpg", jpeg_bytes[: len(jpeg_bytes) // 2], "truncated")
refuse("bad_truncated_progressive.jpg", progressive_bytes[: len(progressive_bytes) * 2 // 3], "truncated")
refuse("bad_header_only.jpg", jpeg_bytes[:4], "truncated")
sof = jpeg_bytes.index(b"\xff\xc0")
big = bytearray(jpeg_bytes)
big[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
refuse("bad_huge.jpg", bytes(big), "tooLarge")
twelve = bytearray(jpeg_bytes)
twelve[sof + 4] = 12
refuse("bad_precision12.jpg", bytes(twelve), "unsupported")
lossless = bytearray(jpeg_bytes)
lossless[sof + 1] = 0xC3
refuse("bad_lossless.jpg", bytes(lossless), "unsupported")
garbage = bytearray(jpeg_bytes)
dht = jpeg_bytes.index(b"\xff\xc4")
garbage[dht + 4] = 0x55  # a Huffman table class/index that does not exist
refuse("bad_tables.jpg", bytes(garbage), "corrupt")


# Resize: Pillow's bilinear (antialiased when shrinking), as torchvision's Resize uses it.
source = Image.new("RGB", (37, 23))
source.putdata([tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(37 * 23)])
source.save(os.path.join(HERE, "resize_source.png"))
for w, h in ((16, 10), (37, 23), (50, 31), (9, 40), (1, 1), (5, 23), (37, 7)):
    for mode in ("RGB", "L"):
        out = source.convert(mode).resize((w, h), Image.BILINEAR)
        name = f"resize_{mode}_{w}x{h}.raw"
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(out.tobytes())
        manifest["resize"].append({"mode": "rgb" if mode == "RGB" else "gray", "width": w,
                                   "height": h, "expected": name})

with open(os.path.join(HERE, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
print(f"{len(manifest['decode'])} decode, {len(manifest['errors'])} error, "
      f"{len(manifest['resize'])} resize fixtures")
