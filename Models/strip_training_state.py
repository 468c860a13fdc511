"""Writes a training run's last.safetensors as a model file: its tensors without the optimizer's
(`optimizer.*`), its metadata without the training state (`resnet.progress`, `resnet.training`) — what
the trainer's best.safetensors holds, for the last epoch. The weights are copied bit for bit.

    python3 -m venv /tmp/st && /tmp/st/bin/pip install numpy safetensors
    /tmp/st/bin/python Models/strip_training_state.py /tmp/fm-bf16/last.safetensors Models/fashion-mnist-bf16.safetensors
"""
import os
import sys

from safetensors import safe_open
from safetensors.numpy import save_file

TRAINING_STATE = ("resnet.progress", "resnet.training")


def main(source, target):
    with safe_open(source, framework="numpy") as f:
        metadata = {k: v for k, v in (f.metadata() or {}).items() if k not in TRAINING_STATE}
        tensors = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("optimizer.")}
    temporary = target + ".tmp"
    save_file(tensors, temporary, metadata=metadata)
    with open(temporary, "rb") as f:
        os.fsync(f.fileno())
    os.replace(temporary, target)
    print(f"{target}: {len(tensors)} tensors, metadata {sorted(metadata)}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: strip_training_state.py LAST.safetensors MODEL.safetensors")
    main(sys.argv[1], sys.argv[2])
