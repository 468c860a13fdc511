#!/usr/bin/env python3
"""OpenBLAS SGEMM figures on this machine, for side-by-side comparison with `resnet bench gemm`.

Usage: python3 Benchmarks/gemm_peer.py [--threads 1,2] [--shape MxNxK ...] [--seconds S]
Prints one JSON object per line: {"impl": "openblas", "m", "n", "k", "threads", "gflops"}.
C(MxN) = A(MxK) * B(KxN), float32, row-major; best of repeated timings within S seconds per shape.
Needs only numpy (its wheels bundle OpenBLAS).
"""
import argparse, json, os, subprocess, sys, time

SHAPES = [  # square, then im2col shapes of CIFAR ResNet-20 at batch 128, then ResNet-18 224x224 at batch 1
    (256, 256, 256), (512, 512, 512), (1024, 1024, 1024),
    (16, 131072, 27), (16, 131072, 144), (32, 32768, 288), (64, 8192, 576),
    (64, 3136, 147), (64, 3136, 576), (128, 784, 1152), (256, 196, 2304), (512, 49, 4608),
]

def measure(shapes, seconds):
    import numpy as np
    rng = np.random.default_rng(0)
    for m, n, k in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        c = np.empty((m, n), dtype=np.float32)
        np.matmul(a, b, out=c)
        best, start = float("inf"), time.perf_counter()
        while time.perf_counter() - start < seconds:
            t = time.perf_counter(); np.matmul(a, b, out=c); best = min(best, time.perf_counter() - t)
        yield m, n, k, 2.0 * m * n * k / best / 1e9

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--threads", default="1,2")
    p.add_argument("--shape", action="append", default=[])
    p.add_argument("--seconds", type=float, default=0.5)
    p.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args()
    shapes = [tuple(int(x) for x in s.lower().split("x")) for s in a.shape] or SHAPES
    if a.child:
        for m, n, k, g in measure(shapes, a.seconds):
            print(json.dumps({"impl": "openblas", "m": m, "n": n, "k": k, "threads": a.child, "gflops": round(g, 2)}), flush=True)
        sys.exit(0)
    for t in (int(x) for x in a.threads.split(",")):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t))
        args = [sys.executable, __file__, "--child", str(t), "--seconds", str(a.seconds)] + sum((["--shape", s] for s in a.shape), [])
        subprocess.run(args, env=env, check=True)
