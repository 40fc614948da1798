"""Goldens for models.NewHead's output heads on torchvision's shufflenet_v2_x0_5, its body the
perturbed weights of forward/shufflenet_small.pth (zoo_cnn_gen.py's golden):

- regression: shufflenet_v2_x0_5(num_classes=1), the APTOS 2019 recipe's one-output head;
- ordinal: model.fc = coral_pytorch.layers.CoralLayer(1024, 5) (coral_pytorch 1.4.0, Cao et al.
  2020): a bias-free Linear(1024, 1) named coral_weights plus coral_bias [4].

Each head perturbed (zoo_ref.perturb, seeded), saved alone as <head>.pth; heads.json holds each
model's state_dict keys in order and its eval-mode outputs on forward/shufflenet_small_x.npy.

Usage: python heads_gen.py --out DIR
"""
import argparse
import json
import os

import numpy as np
import torch
import torchvision.models as tv
from coral_pytorch.layers import CoralLayer

from zoo_ref import check_informative, perturb

SEED = 7
HERE = os.path.dirname(os.path.abspath(__file__))

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.set_num_threads(1)

body = torch.load(os.path.join(HERE, "forward", "shufflenet_small.pth"))
body = {k: v for k, v in body.items() if not k.startswith("fc.")}
x = torch.from_numpy(np.load(os.path.join(HERE, "forward", "shufflenet_small_x.npy")))
out = {}
for head in ["regression", "ordinal"]:
    torch.manual_seed(SEED)
    model = tv.shufflenet_v2_x0_5(num_classes=1 if head == "regression" else 5)
    if head == "ordinal":
        model.fc = CoralLayer(model.fc.in_features, 5)
    missing, unexpected = model.load_state_dict(body, strict=False)
    assert not unexpected and all(k.startswith("fc.") for k in missing), (missing, unexpected)
    perturb(model.fc)
    fc = {"fc." + k: v for k, v in model.fc.state_dict().items()}
    check_informative(fc, head)
    torch.save(fc, os.path.join(args.out, head + ".pth"))
    model.eval()
    with torch.no_grad():
        y = model(x)
    out[head] = {"keys": list(model.state_dict().keys()), "shape": list(y.shape),
                 "outputs": [float("%.9g" % v) for v in y.reshape(-1).tolist()]}
with open(os.path.join(args.out, "heads.json"), "w") as f:
    json.dump(out, f)
