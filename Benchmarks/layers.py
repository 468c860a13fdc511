#!/usr/bin/env python3
"""Layer by layer beside ONNX Runtime: torchvision's ResNet-18/50 through `resnet bench infer --layers` and
through an ONNX Runtime session with its profiler on (the same model exported to ONNX here, same threads and
batch), in alternating rounds, as one Markdown table of per-layer medians and one of their sums by kind.

ONNX Runtime fuses each convolution with its BatchNorm, ReLU and residual add and reports one node per
convolution; the two sides' layers are matched by geometry (kernel, channels in and out, planes in and out,
residual), identical layers in the order they run. Its layout reorders (NCHW to its blocked layout and back)
have no counterpart and are listed on their own.

Needs the peers' venv (python3 -m venv /tmp/peer && /tmp/peer/bin/pip install -r Benchmarks/requirements.txt).
Usage: /tmp/peer/bin/python Benchmarks/layers.py --resnet .build/release/resnet [--model resnet50] [--batch 1]
       [--threads 2] [--rounds 3] [--runs 30]
"""
import argparse, collections, json, os, re, statistics, subprocess, tempfile
import torch, torchvision, onnxruntime as ort

p = argparse.ArgumentParser()
p.add_argument("--resnet", required=True, help="the resnet binary (swift build -c release)")
p.add_argument("--model", default="resnet50", choices=["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
p.add_argument("--batch", type=int, default=1); p.add_argument("--threads", type=int, default=2)
p.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median of their medians counts")
p.add_argument("--runs", type=int, default=30, help="timed passes per round and side, after 3 warm-up passes")
a = p.parse_args()
tmp = tempfile.mkdtemp()

OURS = re.compile(r"conv (\d+)×(\d+)/(\d+) (\d+)→(\d+) (\d+)×(\d+)→(\d+)×(\d+) (\S+)( \+residual)?")


def ours_round():
    """[(name, operation, key, ms)] from one `resnet bench infer --layers` process."""
    out = subprocess.run([a.resnet, "bench", "infer", "--model", a.model, "--input", "3x224x224", "--batch",
                          str(a.batch), "--threads", str(a.threads), "--steps", str(a.runs), "--layers"],
                         capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not cells[0].isdigit():
            continue
        name, operation, ms = cells[1], cells[2], float(cells[3])
        m = OURS.match(operation)
        if m:
            k, _, _, c, o, h, w, ho, wo = map(int, m.groups()[:9])
            key = ("conv", k, c, o, h, w, ho, wo, m.group(11) is not None)
        else:
            key = (name if name == "avgpool+fc" else operation.split()[0],)  # the head, maxpool, affine
        rows.append((name, operation, key, ms))
    return rows


def ort_round(path):
    """[(key, ms)] in the order ONNX Runtime ran its nodes: each node's median over the round's passes."""
    so = ort.SessionOptions(); so.intra_op_num_threads = a.threads; so.inter_op_num_threads = 1
    so.enable_profiling = True; so.profile_file_prefix = os.path.join(tmp, "ort")
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feed = {s.get_inputs()[0].name: torch.randn(a.batch, 3, 224, 224).numpy()}
    for _ in range(3 + a.runs):
        s.run(None, feed)
    events = json.load(open(s.end_profiling()))
    times, order = collections.defaultdict(list), {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            node = e["name"][: -len("_kernel_time")]
            times[node].append(e["dur"] / 1000)
            if node not in order:
                order[node] = (len(order), e["args"])
    rows = []
    for node, (_, args) in sorted(order.items(), key=lambda kv: kv[1][0]):
        ms = statistics.median(times[node][3:] or times[node])
        op, inputs = args.get("op_name", ""), [next(iter(t.values())) for t in args.get("input_type_shape", [])]
        output = next(iter(args.get("output_type_shape", [{}])[0].values()), [])
        if op in ("Conv", "FusedConv") and len(inputs) >= 2 and len(inputs[1]) == 4 and len(output) == 4:
            (_, c, h, w), (o, _, k, _), (_, _, ho, wo) = inputs[0], inputs[1], output
            rows.append((("conv", k, c, o, h, w, ho, wo, len(inputs) >= 4), ms))
        elif op == "MaxPool":
            rows.append((("maxpool",), ms))
        elif op in ("GlobalAveragePool", "Flatten", "Gemm", "Reshape"):
            rows.append((("avgpool+fc",), ms))
        else:
            rows.append((("other", op), ms))
    return rows


model = getattr(torchvision.models, a.model)().eval()
path = os.path.join(tmp, a.model + ".onnx")
torch.onnx.export(model, torch.randn(a.batch, 3, 224, 224), path, opset_version=17, dynamo=False)

ours_rounds, ort_rounds = [], []
for _ in range(a.rounds):
    ours_rounds.append(ours_round())
    ort_rounds.append(ort_round(path))

layers = ours_rounds[0]
ours_ms = [statistics.median(r[i][3] for r in ours_rounds) for i in range(len(layers))]
# ONNX Runtime's nodes per key, in order, each the median over the rounds; the head's nodes added up.
peer = collections.defaultdict(list)
other = collections.defaultdict(list)  # per op: each round's sum over its nodes
for rnd in ort_rounds:
    seen, head, extra = collections.Counter(), 0.0, collections.Counter()
    for key, ms in rnd:
        if key[0] == "other":
            extra[key[1]] += ms
        elif key == ("avgpool+fc",):
            head += ms
        else:
            peer[(key, seen[key])].append(ms)
            seen[key] += 1
    peer[(("avgpool+fc",), 0)].append(head)
    for op, ms in extra.items():
        other[op].append(ms)

print(f"{a.model}, batch {a.batch}, {a.threads} threads: medians of {a.rounds} alternating rounds of {a.runs} passes (ms)\n")
print("| # | layer | operation | resnet | ONNX Runtime | ONNX Runtime / resnet |")
print("|---|---|---|---|---|---|")
seen, kinds = collections.Counter(), collections.defaultdict(lambda: [0.0, 0.0])


def kind(key):
    if key[0] != "conv":
        return key[0]
    k, c, h, ho = key[1], key[2], key[4], key[6]
    if c <= 4:
        return "stem"
    return f"{k}×{k} stride {round(h / ho)}"


for index, ((name, operation, key, _), ms) in enumerate(zip(layers, ours_ms)):
    times = peer.get((key, seen[key]))
    seen[key] += 1
    kinds[kind(key)][0] += ms
    if times:
        theirs = statistics.median(times)
        kinds[kind(key)][1] += theirs
        print(f"| {index} | {name} | {operation} | {ms:.3f} | {theirs:.3f} | {theirs / ms:.2f} |")
    else:
        print(f"| {index} | {name} | {operation} | {ms:.3f} | — | — |")
for op, times in other.items():
    theirs = statistics.median(times)
    kinds["ONNX Runtime only: " + op][1] += theirs
    print(f"| | | ONNX Runtime's {op} nodes, all of them | — | {theirs:.3f} | — |")

print("\n| kind | resnet | ONNX Runtime | ONNX Runtime / resnet |")
print("|---|---|---|---|")
total = [0.0, 0.0]
for k, (mine, theirs) in kinds.items():
    total[0] += mine; total[1] += theirs
    print(f"| {k} | {mine:.3f} | {theirs:.3f} | " + (f"{theirs / mine:.2f} |" if mine > 0 else "— |"))
print(f"| total | {total[0]:.3f} | {total[1]:.3f} | {total[1] / total[0]:.2f} |")
