#!/usr/bin/env python3
"""Load benchmark of resnet-serve: 64 concurrent clients for 30 s on 127.0.0.1, with and without dynamic
batching, on the shipped Fashion-MNIST model and on ResNet-18 at 224×224. Reports requests/s, p50 and p99
latency and errors (which must be 0) as a Markdown table. Not a test: it measures.

    apt-get install wrk                                   # the load generator (Debian's)
    (cd Serve && swift build -c release)
    python3 Benchmarks/serve_load.py [--clients 64] [--seconds 30] [--models fashion-mnist,resnet18]

Each request posts one of the first 16 test images of Data/fashion-mnist-mini (28×28 PNGs; ResNet-18's
preprocessing turns them into 224×224 RGB). "batching" is the server's default (--max-batch 16
--max-delay-ms 5); "no batching" is --max-batch 1 --max-delay-ms 0. ResNet-18 is torchvision's architecture
with random weights, written with torch and safetensors (Benchmarks/requirements.txt) — its speed does not
depend on the weights. wrk and the server share the machine's cores, as clients on one host would.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "Serve", ".build", "release", "resnet-serve")

WRK_SCRIPT = r"""
local bodies = {}
for path in string.gmatch(os.getenv("RESNET_LOAD_IMAGES"), "[^:]+") do
  local f = assert(io.open(path, "rb"))
  bodies[#bodies + 1] = f:read("*all")
  f:close()
end
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", os.getenv("RESNET_LOAD_PATH"), {["Content-Type"] = "image/png"}, bodies[(n % #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.3f %.3f %d %d\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def resnet18_checkpoint(folder):
    import torch
    import torchvision
    from safetensors.torch import save_file

    torch.manual_seed(0)
    path = os.path.join(folder, "resnet18.safetensors")
    save_file({k: v.contiguous() for k, v in torchvision.models.resnet18().state_dict().items()}, path)
    return path


def start_server(model, extra):
    process = subprocess.Popen([SERVER, "--model", model, "--port", "0"] + extra, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    match = re.search(r"127\.0\.0\.1:(\d+) \(models: ([^)]+)\)", line)
    if not match:
        process.kill()
        sys.exit(f"serve_load: resnet-serve did not start: {line!r}")
    return process, int(match.group(1)), match.group(2)


def run(model, batching, args, images, script):
    extra = [] if batching else ["--max-batch", "1", "--max-delay-ms", "0"]
    process, port, name = start_server(model, extra)
    env = dict(os.environ, RESNET_LOAD_IMAGES=":".join(images), RESNET_LOAD_PATH=f"/v1/models/{name}/classify")
    url = f"http://127.0.0.1:{port}"
    try:
        # Warm-up, then the measured run.
        subprocess.run(["wrk", "-t2", f"-c{args.clients}", "-d3s", "--timeout", "60s", "-s", script, url], env=env,
                       capture_output=True, check=True)
        out = subprocess.run(["wrk", "-t2", f"-c{args.clients}", f"-d{args.seconds}s", "--timeout", "60s", "-s",
                              script, url], env=env, capture_output=True, text=True, check=True).stdout
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    requests, micros, p50, p99, status_errors, socket_errors = re.search(
        r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+) (\d+)", out).groups()
    return {"rps": int(requests) / (int(micros) / 1e6), "p50": float(p50), "p99": float(p99),
            "errors": int(status_errors) + int(socket_errors)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--models", default="fashion-mnist,resnet18")
    args = parser.parse_args()
    if not os.access(SERVER, os.X_OK):
        sys.exit("serve_load: build the server first: (cd Serve && swift build -c release)")
    test = os.path.join(ROOT, "Data", "fashion-mnist-mini", "test")
    images = sorted(os.path.join(root, f) for root, _, files in os.walk(test) for f in files if f.endswith(".png"))[:16]
    with tempfile.TemporaryDirectory() as folder:
        script = os.path.join(folder, "post.lua")
        with open(script, "w") as f:
            f.write(WRK_SCRIPT)
        models = {"fashion-mnist": os.path.join(ROOT, "Models", "fashion-mnist.safetensors")}
        if "resnet18" in args.models:
            models["resnet18"] = resnet18_checkpoint(folder)
        rows = []
        for name in args.models.split(","):
            for batching in (True, False):
                r = run(models[name], batching, args, images, script)
                label = "resnet18 (224×224)" if name == "resnet18" else "fashion-mnist (resnet20, 28×28)"
                rows.append(f"| {label} | {'batching' if batching else 'no batching'} | {r['rps']:,.0f} | "
                            f"{r['p50']:,.1f} | {r['p99']:,.1f} | {r['errors']} |")
                print(rows[-1], file=sys.stderr)
    print(f"{args.clients} clients, {args.seconds} s each, wrk on 127.0.0.1 ({time.strftime('%Y-%m-%d')})\n")
    print("| model | server | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
