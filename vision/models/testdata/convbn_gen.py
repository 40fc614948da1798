"""Golden outputs for drgrade's first parity tests (issue 2).

A conv2d + batchnorm block built by PyTorch, its state_dict saved in the zip format, the legacy
pickle format (_use_new_zipfile_serialization=False) and DataParallel's `module.`-prefixed form,
every tensor also as .npy (for bit-for-bit checks), one input batch, and the outputs in eval mode
and in train mode (with the running statistics after the train-mode step).

Usage: python convbn_gen.py --out DIR
"""
import argparse
import json
import os

import numpy as np
import torch
from torch import nn

SEED = 20261130

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.manual_seed(SEED)
torch.set_num_threads(1)


class ConvBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x):
        return self.bn(self.conv(x))


m = ConvBN()
with torch.no_grad():  # non-trivial statistics and affine parameters
    m.bn.weight.uniform_(0.5, 1.5)
    m.bn.bias.uniform_(-0.5, 0.5)
    m.bn.running_mean.uniform_(-0.2, 0.2)
    m.bn.running_var.uniform_(0.5, 2.0)
    m.bn.num_batches_tracked.fill_(7)
sd = m.state_dict()

torch.save(sd, os.path.join(args.out, "convbn_zip.pth"))
torch.save(sd, os.path.join(args.out, "convbn_legacy.pth"), _use_new_zipfile_serialization=False)
torch.save({"module." + k: v for k, v in sd.items()}, os.path.join(args.out, "convbn_module.pth"))
for k, v in sd.items():
    np.save(os.path.join(args.out, "param_" + k + ".npy"), v.numpy())

x = torch.randn(2, 3, 17, 19)
np.save(os.path.join(args.out, "x.npy"), x.numpy())
m.eval()
with torch.no_grad():
    np.save(os.path.join(args.out, "y_eval.npy"), m(x).numpy())
m.train()
with torch.no_grad():
    np.save(os.path.join(args.out, "y_train.npy"), m(x).numpy())
for k in ("running_mean", "running_var", "num_batches_tracked"):
    np.save(os.path.join(args.out, "after_train_bn." + k + ".npy"), getattr(m.bn, k).numpy())

with open(os.path.join(args.out, "meta.json"), "w") as f:
    json.dump({"generator": "convbn_gen.py", "seed": SEED, "torch": torch.__version__,
               "numpy": np.__version__, "keys": list(sd.keys())}, f, indent=1)
