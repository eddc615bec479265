#!/usr/bin/env python3
"""model.pth (state dict from train_default.py) -> fp16 safetensors with the
same pytorch/examples key names, as embedded by restyle.
  python3 export_fp16.py model.pth starry_night.safetensors"""
import sys
import torch
from safetensors.torch import save_file

sd = torch.load(sys.argv[1])
save_file({k: v.detach().to(torch.float16).contiguous() for k, v in sd.items()}, sys.argv[2],
          metadata={"format": "restyle-fast", "pixel_range": "0..255", "trained_on": "starry_night.jpg"})
print(len(sd), "tensors ->", sys.argv[2])
