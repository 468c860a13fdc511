#!/usr/bin/env python3
"""Runs `resnet bench train|infer` and PyTorch's peer (`Benchmarks/torch_peer.py`) side by side,
alternating, and prints the ratio table of their medians (the [speed] issue's table).

These machines are shared and noisy, so each benchmark runs `--rounds` times on each side, one side
after the other, and the medians are compared. Standard library only; PyTorch must be in the venv given
by --python (e.g. `python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch torchvision`).

Usage:
  swift build -c release
  python3 Benchmarks/compare.py [--python /tmp/torch/bin/python] [--rounds 3] [--threads 2]
                                [--only train20,infer18,...] [--json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# name: (resnet bench arguments, torch_peer arguments, what is compared, target ratio, description)
BENCHMARKS = {
    "train20": (["train", "--model", "resnet20", "--input", "3x32x32", "--batch", "128"],
                ["--what", "train20", "--batch", "128"], "images_per_s", 1.5,
                "train resnet20, 3×32×32, batch 128"),
    "train20gray": (["train", "--model", "resnet20", "--input", "1x28x28", "--batch", "128"],
                    ["--what", "train20gray", "--batch", "128"], "images_per_s", 1.5,
                    "train resnet20, 1×28×28, batch 128"),
    "train56": (["train", "--model", "resnet56", "--input", "3x32x32", "--batch", "128"],
                ["--what", "train56", "--batch", "128"], "images_per_s", 1.5,
                "train resnet56, 3×32×32, batch 128"),
    "infer18": (["infer", "--model", "resnet18", "--input", "3x224x224", "--batch", "1", "--steps", "30"],
                ["--what", "infer18", "--batch", "1", "--steps", "30"], "ms_per_step", 1.0,
                "infer resnet18, 3×224×224, batch 1"),
    "infer50": (["infer", "--model", "resnet50", "--input", "3x224x224", "--batch", "1", "--steps", "20"],
                ["--what", "infer50", "--batch", "1", "--steps", "20"], "ms_per_step", 1.0,
                "infer resnet50, 3×224×224, batch 1"),
}


def run_json(command):
    """Runs a benchmark command and returns the last JSON object it printed on stdout."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"compare: {' '.join(command)} failed ({done.returncode}):\n{done.stderr.strip()}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        sys.exit(f"compare: {' '.join(command)} printed no JSON")
    return json.loads(lines[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default="/tmp/torch/bin/python", help="a Python with torch and torchvision")
    parser.add_argument("--resnet", default=os.path.join(ROOT, ".build", "release", "resnet"))
    parser.add_argument("--peer", default=os.path.join(HERE, "torch_peer.py"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated: " + ", ".join(BENCHMARKS))
    parser.add_argument("--json", action="store_true", help="also print every run's JSON object to stderr")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.exit(f"compare: unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    for path, what in [(args.resnet, "resnet (swift build -c release)"), (args.peer, "torch_peer.py"),
                       (args.python, "--python")]:
        if not os.path.exists(path):
            sys.exit(f"compare: {path} not found ({what})")

    rows = []
    for name in names:
        ours_args, peer_args, key, target, description = BENCHMARKS[name]
        ours, theirs = [], []
        for _ in range(args.rounds):
            mine = run_json([args.resnet, "bench", *ours_args, "--threads", str(args.threads)])
            peer = run_json([args.python, args.peer, *peer_args, "--threads", str(args.threads)])
            if args.json:
                print(json.dumps(mine), file=sys.stderr)
                print(json.dumps(peer), file=sys.stderr)
            ours.append(mine)
            theirs.append(peer)
        value = lambda runs, k: statistics.median(r[k] for r in runs)
        a, b = value(ours, key), value(theirs, key)
        # Throughput: higher is better (ratio ours/theirs); latency: lower is better (ratio ours/theirs,
        # target at most 1).
        ratio = a / b
        met = ratio >= target if key == "images_per_s" else ratio <= target
        unit = "img/s" if key == "images_per_s" else "ms"
        rows.append((description, f"{a:.1f} {unit}", f"{b:.1f} {unit}", f"{ratio:.2f}×",
                     ("≥ " if key == "images_per_s" else "≤ ") + f"{target}×", "yes" if met else "no"))
        if name.startswith("train"):
            # The issue's memory target is for resnet20; deeper nets' figures are shown without one.
            ra, rb = value(ours, "peak_rss_mb"), value(theirs, "peak_rss_mb")
            targeted = name.startswith("train20")
            rows.append((f"peak RSS, {description}", f"{ra:.0f} MB", f"{rb:.0f} MB", f"{ra / rb:.2f}×",
                         "≤ 0.5×" if targeted else "—", ("yes" if ra / rb <= 0.5 else "no") if targeted else "—"))

    print(f"medians of {args.rounds} alternating runs, {args.threads} threads")
    print("| benchmark | resnet | PyTorch | ratio | target | met |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
