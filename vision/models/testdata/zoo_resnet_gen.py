"""Goldens for the ResNet family of drgrade's zoo (resnet_small, resnet, resnet_big, resnext,
resnext_big = torchvision resnet34, resnet50, resnet101, resnext50_32x4d, resnext101_32x8d).

--keys:            keys_resnet.json: per --model name, torchvision's state_dict keys and shapes
                   and the parameter count (committed golden, small).
--forward NAMES:   per name, weights created by torchvision and perturbed by zoo_ref.perturb (no
                   parameter or buffer left constant: BatchNorm statistics and affine; checked
                   before saving) saved with torch.save, an input batch, eval-mode
                   logits, and for --train_check names the train-mode logits and the BatchNorm
                   buffers after that forward (live only: the weights are too big to commit).

Usage: python zoo_resnet_gen.py --out DIR (--keys | --forward resnet,resnet_small)
"""
import argparse
import json
import os

import torch
import torchvision

from zoo_ref import perturb, save_npy, save_state_dict

ARCHS = {
    "resnet_small": "resnet34",
    "resnet": "resnet50",
    "resnet_big": "resnet101",
    "resnext": "resnext50_32x4d",
    "resnext_big": "resnext101_32x8d",
}
NUM_CLASSES = 5
SEED = 3


def build(name):
    return getattr(torchvision.models, ARCHS[name])(num_classes=NUM_CLASSES)


p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
p.add_argument("--keys", action="store_true")
p.add_argument("--forward", default="")
p.add_argument("--train_check", default="resnet")
p.add_argument("--batch", type=int, default=2)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.set_num_threads(max(1, os.cpu_count() or 1))
meta = {"generator": "zoo_resnet_gen.py", "seed": SEED, "torch": torch.__version__,
        "torchvision": torchvision.__version__, "num_classes": NUM_CLASSES}

if args.keys:
    out = {}
    for name, arch in ARCHS.items():
        m = build(name)
        out[name] = {"arch": arch,
                     "keys": [[k, list(v.shape)] for k, v in m.state_dict().items()],
                     "params": sum(p.numel() for p in m.parameters())}
    with open(os.path.join(args.out, "keys_resnet.json"), "w") as f:
        json.dump(out, f, indent=0)

for name in [n for n in args.forward.split(",") if n]:
    torch.manual_seed(SEED)
    m = build(name)
    perturb(m)
    save_state_dict(m.state_dict(), os.path.join(args.out, f"{name}.pth"))
    x = torch.randn(args.batch, 3, 224, 224)
    save_npy(os.path.join(args.out, f"{name}_x.npy"), x.numpy())
    m.eval()
    with torch.no_grad():
        save_npy(os.path.join(args.out, f"{name}_eval.npy"), m(x).numpy())
    if name in args.train_check.split(","):
        m.train()
        with torch.no_grad():
            save_npy(os.path.join(args.out, f"{name}_train.npy"), m(x).numpy())
        bufs = {k: v for k, v in m.state_dict().items() if "running_" in k or "num_batches" in k}
        save_state_dict(bufs, os.path.join(args.out, f"{name}_train_buffers.pth"))

with open(os.path.join(args.out, "meta_resnet.json"), "w") as f:
    json.dump(meta, f, indent=1)
