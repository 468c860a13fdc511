#!/usr/bin/env python3
"""This tool against its peers on this machine, in one run: training (`resnet bench train` in f32 and bf16 beside
PyTorch eager float32 and PyTorch with bf16 autocast, `torch_peer.py`: CIFAR ResNet-20 on 3×32×32 and
1×28×28, ResNet-56, batch 128) and inference (`resnet bench infer` in f32 and bf16 beside PyTorch, ONNX
Runtime and OpenVINO f32 and bf16, `infer_peers.py`: torchvision's ResNet-18 and ResNet-50 at 3×224×224,
batch 1 and 32), the same threads, alternating; prints the Markdown tables of medians and ratios (and peak RSS
against PyTorch) and draws them as one SVG chart of images per second.

These machines are shared and noisy: each configuration runs `--rounds` times on each side, one side
after the other, and only the medians are compared. The peers come from the venv given by --python:

  python3 -m venv /tmp/peer && /tmp/peer/bin/pip install -r Benchmarks/requirements.txt

Usage:
  swift build -c release
  python3 Benchmarks/peers.py [--python /tmp/peer/bin/python] [--rounds 3] [--threads 2]
                              [--only train20,train20gray,train56,resnet18:1,resnet50:1,resnet18:32,resnet50:32]
                              [--svg peers.svg]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONFIGURATIONS = ["resnet18:1", "resnet50:1", "resnet18:32", "resnet50:32"]
# name: (resnet bench train arguments, torch_peer --what, description)
TRAINING = {
    "train20": (["--model", "resnet20", "--input", "3x32x32"], "train20", "train resnet20, 3×32×32, batch 128"),
    "train20gray": (["--model", "resnet20", "--input", "1x28x28"], "train20gray",
                    "train resnet20, 1×28×28, batch 128"),
    "train56": (["--model", "resnet56", "--input", "3x32x32"], "train56", "train resnet56, 3×32×32, batch 128"),
}
PEERS = ["torch", "onnxruntime", "openvino f32", "openvino bf16"]
TITLES = {"resnet": "resnet", "resnet bf16": "resnet bf16", "torch": "PyTorch", "torch bf16": "PyTorch bf16 autocast", "onnxruntime": "ONNX Runtime", "openvino f32": "OpenVINO f32",
          "openvino bf16": "OpenVINO bf16"}
COLOURS = {"resnet": "#1f77b4", "resnet bf16": "#aec7e8", "torch": "#7f7f7f", "torch bf16": "#c7c7c7", "onnxruntime": "#2ca02c", "openvino f32": "#d62728",
           "openvino bf16": "#ff9896"}


def run_json_lines(command):
    """Runs a command and returns the JSON objects it printed on stdout, one per line."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"peers: {' '.join(command)} failed ({done.returncode}):\n{done.stderr.strip()[-2000:]}")
    objects = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if not objects:
        sys.exit(f"peers: {' '.join(command)} printed no JSON")
    return objects


def peer_name(impl):
    """'onnxruntime 1.32.0' → 'onnxruntime'; 'openvino 2026.4.1 bf16' → 'openvino bf16'; 'torch 2.15…' → 'torch'."""
    words = impl.split()
    return words[0] + (" " + words[2] if words[0] == "openvino" and len(words) > 2 else "")


def chart(rows, threads, path):
    """Horizontal bars of images per second, one group per configuration, each group scaled to its fastest."""
    bar, gap, left, width = 16, 14, 250, 420
    height = 60 + sum(len(r["values"]) * bar + gap + 22 for r in rows) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 140}" height="{height}" '
           'font-family="DejaVu Sans, sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="12" y="24" font-size="15" font-weight="bold">Images per second '
           f'(median, {threads} threads, longer is faster)</text>']
    y = 52
    for r in rows:
        out.append(f'<text x="12" y="{y + 12}" font-weight="bold">{escape(r["title"])}</text>')
        y += 20
        fastest = max(v["images_per_s"] for v in r["values"].values())
        for name, v in r["values"].items():
            length = width * v["images_per_s"] / fastest
            out.append(f'<text x="{left - 8}" y="{y + bar - 4}" text-anchor="end">{escape(TITLES[name])}</text>')
            out.append(f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar - 3}" fill="{COLOURS[name]}"/>')
            out.append(f'<text x="{left + length + 6:.1f}" y="{y + bar - 4}">{v["images_per_s"]:.1f} '
                       f'({v["ms"]:.1f} ms)</text>')
            y += bar
        y += gap
    out.append("</svg>")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(out) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default="/tmp/peer/bin/python",
                        help="a Python with Benchmarks/requirements.txt installed")
    parser.add_argument("--resnet", default=os.path.join(ROOT, ".build", "release", "resnet"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default=",".join(list(TRAINING) + CONFIGURATIONS),
                        help="comma-separated: " + ", ".join(TRAINING) + ", or resnet18:B / resnet50:B")
    parser.add_argument("--svg", default="peers.svg", help="where the chart goes")
    args = parser.parse_args()
    for path, what in [(args.resnet, "resnet (swift build -c release)"), (args.python, "--python")]:
        if not os.path.exists(path):
            sys.exit(f"peers: {path} not found ({what})")
    configurations, trainings = [], []
    for item in args.only.split(","):
        if item in TRAINING:
            trainings.append(item)
            continue
        model, _, batch = item.partition(":")
        if model not in ("resnet18", "resnet50") or not batch.isdigit() or int(batch) < 1:
            sys.exit(f"peers: {item!r} is not one of {', '.join(TRAINING)}, resnet18:B or resnet50:B")
        configurations.append((model, int(batch)))

    training_rows, training_rss = [], {}
    for name in trainings:
        ours_args, what, title = TRAINING[name]
        samples, rss = {}, {}
        for _ in range(args.rounds):
            for ours, precision in [("resnet", "f32"), ("resnet bf16", "bf16")]:
                mine = run_json_lines([args.resnet, "bench", "train", *ours_args, "--batch", "128",
                                       "--precision", precision, "--threads", str(args.threads)])[-1]
                samples.setdefault(ours, []).append(mine["ms_per_step"])
                rss.setdefault(ours, []).append(mine["peak_rss_mb"])
            for peer, extra in [("torch", []), ("torch bf16", ["--autocast", "bf16"])]:
                theirs = run_json_lines([args.python, os.path.join(HERE, "torch_peer.py"), "--what", what,
                                         "--batch", "128", "--threads", str(args.threads), *extra])[-1]
                samples.setdefault(peer, []).append(theirs["ms_per_step"])
                rss.setdefault(peer, []).append(theirs["peak_rss_mb"])
        values = {name: {"ms": statistics.median(ms), "images_per_s": 128 * 1000 / statistics.median(ms)}
                  for name, ms in samples.items()}
        training_rows.append({"title": title, "values": values})
        training_rss[title] = {peer: statistics.median(v) for peer, v in rss.items()}

    rows = []
    for model, batch in configurations:
        steps, runs = ("20", "20") if batch == 1 else ("5", "5")
        samples = {}
        for _ in range(args.rounds):
            for name, precision in [("resnet", "f32"), ("resnet bf16", "bf16")]:
                mine = run_json_lines([args.resnet, "bench", "infer", "--model", model, "--input", "3x224x224",
                                       "--classes", "1000", "--batch", str(batch), "--steps", steps,
                                       "--threads", str(args.threads), "--precision", precision])[-1]
                samples.setdefault(name, []).append(mine["ms_per_step"])
            for peer in run_json_lines([args.python, os.path.join(HERE, "infer_peers.py"), "--models", model,
                                        "--batch", str(batch), "--runs", runs, "--threads", str(args.threads)]):
                samples.setdefault(peer_name(peer["impl"]), []).append(peer["ms_per_batch"])
        values = {name: {"ms": statistics.median(ms), "images_per_s": batch * 1000 / statistics.median(ms)}
                  for name, ms in samples.items()}
        rows.append({"title": f"infer {model}, batch {batch}", "model": model, "batch": batch, "values": values})

    rss = {}
    for model in sorted({m for m, _ in configurations}):
        what = "infer" + model.removeprefix("resnet")
        mine = run_json_lines([args.resnet, "bench", "infer", "--model", model, "--input", "3x224x224",
                               "--classes", "1000", "--batch", "1", "--steps", "5", "--threads", str(args.threads)])
        theirs = run_json_lines([args.python, os.path.join(HERE, "torch_peer.py"), "--what", what, "--batch", "1",
                                 "--steps", "5", "--threads", str(args.threads)])
        rss[model] = (mine[-1]["peak_rss_mb"], theirs[-1]["peak_rss_mb"])

    if training_rows:
        print(f"Training: medians of {args.rounds} alternating rounds, {args.threads} threads; images per second, "
              "and resnet's over each peer's in the same precision (above 1: resnet is faster; PyTorch's bf16 "
              "autocast against resnet bf16); peak RSS.\n")
        print("| benchmark | resnet | resnet bf16 | PyTorch | PyTorch bf16 autocast | peak RSS: resnet, resnet bf16, "
              "PyTorch, autocast |")
        print("|---|---|---|---|---|---|")
        for r in training_rows:
            v, m = r["values"], training_rss[r["title"]]
            ours, ours16 = v["resnet"]["images_per_s"], v["resnet bf16"]["images_per_s"]
            cells = [f'{v[p]["images_per_s"]:.0f} ({(ours16 if "bf16" in p else ours) / v[p]["images_per_s"]:.2f}×)'
                     for p in ("torch", "torch bf16")]
            print(f'| {r["title"]} | {ours:.0f} | {ours16:.0f} | ' + " | ".join(cells)
                  + f' | {m["resnet"]:.0f}, {m["resnet bf16"]:.0f}, {m["torch"]:.0f}, {m["torch bf16"]:.0f} MB |')
        print()
    present = [p for p in PEERS if any(p in r["values"] for r in rows)]
    if rows:
        print(f"Inference: medians of {args.rounds} alternating rounds, {args.threads} threads, 3×224×224; ms per "
              "batch, and each peer's time over resnet's in the same precision (above 1: resnet is faster; bf16 "
              "peers against resnet bf16).\n")
        print("| model, batch | resnet | resnet bf16 | " + " | ".join(TITLES[p] for p in present) + " |")
        print("|---|---|---|" + "---|" * len(present))
    for r in rows:
        ours, ours16 = r["values"]["resnet"]["ms"], r["values"]["resnet bf16"]["ms"]
        cells = [f'{r["values"][p]["ms"]:.1f} ({r["values"][p]["ms"] / (ours16 if "bf16" in p else ours):.2f}×)'
                 if p in r["values"] else "—" for p in present]
        print(f'| {r["model"]}, {r["batch"]} | {ours:.1f} | {ours16:.1f} | ' + " | ".join(cells) + " |")
    if rss:
        print("\n| peak RSS, batch 1 | resnet | PyTorch |\n|---|---|---|")
    for model, (ours, theirs) in rss.items():
        print(f"| {model} | {ours:.0f} MB | {theirs:.0f} MB |")
    chart(training_rows + rows, args.threads, args.svg)
    print(f"\nwrote {args.svg}")


if __name__ == "__main__":
    main()
