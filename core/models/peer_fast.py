#!/usr/bin/env python3
"""Peer for `restyle bench fast`: PyTorch (CPU, 2 threads) running the same
embedded network (fp16 safetensors → f32) on the same square image; prints
one JSON line per size like ../shared/tools/peer_bench.py.
  python3 peer_fast.py starry_night.safetensors IMAGE --sizes 256,512,1024"""
import argparse, json, os, sys, time
import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_default import TransformerNet  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("image")
ap.add_argument("--sizes", default="256,512,1024"); ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--warmup", type=int, default=1); ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
sd = {k: v.float() for k, v in load_file(a.model).items()}
n_res = len({k.split(".")[0] for k in sd if k.startswith("res")})
net = TransformerNet(sd["conv1.conv2d.weight"].shape[0], sd["conv2.conv2d.weight"].shape[0], sd["conv3.conv2d.weight"].shape[0], n_res)
net.load_state_dict(sd); net.eval()
for size in (int(s) for s in a.sizes.split(",")):
    x = torch.from_numpy(np.asarray(Image.open(a.image).convert("RGB").resize((size, size), Image.BICUBIC), np.float32).copy())
    x = x.permute(2, 0, 1)[None]
    ts = []
    with torch.inference_mode():
        for i in range(a.warmup + a.reps):
            t = time.perf_counter(); net(x).clamp(0, 255); dt = time.perf_counter() - t
            if i >= a.warmup:
                ts.append(dt)
    print(json.dumps({"peer": f"pytorch {torch.__version__}", "work": "fast", "size": size, "threads": a.threads,
                      "median_s": sorted(ts)[len(ts) // 2]}), flush=True)
