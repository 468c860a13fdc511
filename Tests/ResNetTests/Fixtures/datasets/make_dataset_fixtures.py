#!/usr/bin/env python3
"""Writes tiny IDX and CIFAR datasets beside this script, with pixel values given by formulas that
DatasetTests.swift recomputes. Standard library only:

    python3 Tests/ResNetTests/Fixtures/datasets/make_dataset_fixtures.py

idx/: 5 training images (gzip) and 2 test images (raw) of 4×3 pixels; image i, row y, column x holds
(31 i + 7 y + 3 x) mod 256 (test images continue the numbering at i = 5); label i mod 3.
cifar10/: data_batch_1.bin (3 records), data_batch_2.bin (2), test_batch.bin (2), batches.meta.txt.
cifar100/: train.bin (3 records), test.bin (1), fine_label_names.txt.
CIFAR record i (numbered across all files of the dataset, train first), plane c, position p holds
(13 i + 50 c + p) mod 256; CIFAR-10 label i mod 10; CIFAR-100 coarse label i mod 20, fine (7 i) mod 100.
"""

import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(path, data, compress=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(gzip.compress(data, mtime=0) if compress else data)


def idx_images(first, count, rows=3, cols=4):
    data = struct.pack(">BBBBIII", 0, 0, 8, 3, count, rows, cols)
    return data + bytes((31 * i + 7 * y + 3 * x) % 256 for i in range(first, first + count)
                        for y in range(rows) for x in range(cols))


def idx_labels(first, count):
    return struct.pack(">BBBBI", 0, 0, 8, 1, count) + bytes(i % 3 for i in range(first, first + count))


write(f"{HERE}/idx/train-images-idx3-ubyte.gz", idx_images(0, 5), compress=True)
write(f"{HERE}/idx/train-labels-idx1-ubyte.gz", idx_labels(0, 5), compress=True)
write(f"{HERE}/idx/t10k-images-idx3-ubyte", idx_images(5, 2))
write(f"{HERE}/idx/t10k-labels-idx1-ubyte", idx_labels(5, 2))


def cifar_record(i, labels):
    return bytes(labels) + bytes((13 * i + 50 * c + p) % 256 for c in range(3) for p in range(1024))


def cifar10(first, count):
    return b"".join(cifar_record(i, [i % 10]) for i in range(first, first + count))


write(f"{HERE}/cifar10/data_batch_1.bin", cifar10(0, 3))
write(f"{HERE}/cifar10/data_batch_2.bin", cifar10(3, 2))
write(f"{HERE}/cifar10/test_batch.bin", cifar10(5, 2))
write(f"{HERE}/cifar10/batches.meta.txt",
      "\n".join(f"class{k}" for k in range(10)).encode() + b"\n\n")


def cifar100(first, count):
    return b"".join(cifar_record(i, [i % 20, (7 * i) % 100]) for i in range(first, first + count))


write(f"{HERE}/cifar100/train.bin", cifar100(0, 3))
write(f"{HERE}/cifar100/test.bin", cifar100(3, 1))
write(f"{HERE}/cifar100/fine_label_names.txt", "\n".join(f"fine{k}" for k in range(100)).encode())
