#!/usr/bin/env python3
"""Checks ONNX files written by `resnet export` with ONNX's own tools (needs `onnx`, `onnxruntime` and
numpy; Tests/ONNX/requirements.txt):

    check_onnx.py MANIFEST.json

MANIFEST is a JSON list of {"model": PATH.onnx, "input": PATH, "shape": [N, C, H, W], "logits": PATH,
"name": TEXT}; input and logits are raw little-endian float32. For each model: onnx.checker.check_model
with full_check=True (which also runs ONNX's shape inference), then ONNX Runtime's CPU provider on the
input, compared with the expected logits as max |difference| / max |expected| ≤ 1e-4. Prints one line per
model and exits 1 if any fails.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime

TOLERANCE = 1e-4


def main():
    with open(sys.argv[1]) as f:
        manifest = json.load(f)
    failures = 0
    for entry in manifest:
        model = onnx.load(entry["model"])
        onnx.checker.check_model(model, full_check=True)
        x = np.fromfile(entry["input"], dtype="<f4").reshape(entry["shape"])
        expected = np.fromfile(entry["logits"], dtype="<f4").reshape(x.shape[0], -1)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 2
        session = onnxruntime.InferenceSession(entry["model"], options, providers=["CPUExecutionProvider"])
        (logits,) = session.run(["logits"], {"input": x})
        error = float(np.abs(logits - expected).max() / max(np.abs(expected).max(), 1e-6))
        ok = error <= TOLERANCE
        failures += not ok
        print(f"{entry['name']}: ir {model.ir_version}, opset {model.opset_import[0].version}, "
              f"checker ok, onnxruntime {onnxruntime.__version__} relative error {error:.2e} "
              f"{'ok' if ok else 'FAIL'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
