"""Goldens for the modern architectures of drgrade's zoo (torchvision 0.16):

  efficient_v2_small/efficient_v2/efficient_v2_large = efficientnet_v2_s/m/l
  convnext_tiny/convnext_small/convnext/convnext_big = convnext_tiny/small/base/large
  convnext_huge                                      = ConvNeXt-XLarge, torchvision's ConvNeXt class
                                                       with channels (256, 512, 1024, 2048), depths
                                                       (3, 3, 27, 3), stochastic depth 0.5
  vision_transformer_small/vision_transformer/vision_transformer_big = vit_b_32/vit_b_16/vit_l_16
  swin_transformer_tiny/swin_transformer_small/swin_transformer      = swin_t/swin_s/swin_b

--keys:            keys_modern.json: per --model name, torchvision's state_dict keys and shapes
                   and the parameter count (committed golden, small).
--forward NAMES:   per name, weights created by torchvision and perturbed by zoo_ref.perturb so
                   that no parameter or buffer is a constant (BatchNorm statistics, LayerNorm
                   affine, zero biases, ViT's zero head and class token, ConvNeXt's 1e-6 layer
                   scale, Swin's small relative position bias) saved with torch.save, an input
                   batch (--batch, default 1) and the eval-mode logits (live only: the weights are too big to commit).
--train_check NAMES: for these names also the train-mode logits computed right after
                   torch.manual_seed(TRAIN_SEED) (so dropout and stochastic depth draw the same
                   masks as drgrade's forward after torchext.ManualSeed(TRAIN_SEED)), and the
                   BatchNorm buffers after that forward.

--shape N,3,H,W:   the input's shape instead of (--batch, 3, 224, 224), for inputs that make
                   Swin pad its windows and merges and shift along one axis only.

Usage: python zoo_modern_gen.py --out DIR (--keys | --forward NAMES [--train_check NAMES]
                                [--batch N | --shape N,3,H,W])
"""
import argparse
import json
import os

import torch
import torchvision

from zoo_ref import convnext_xlarge, perturb, save_npy, save_state_dict

NUM_CLASSES = 5
SEED = 3
TRAIN_SEED = 11


M = torchvision.models
ARCHS = {
    "efficient_v2_small": ("efficientnet_v2_s", M.efficientnet_v2_s),
    "efficient_v2": ("efficientnet_v2_m", M.efficientnet_v2_m),
    "efficient_v2_large": ("efficientnet_v2_l", M.efficientnet_v2_l),
    "convnext_tiny": ("convnext_tiny", M.convnext_tiny),
    "convnext_small": ("convnext_small", M.convnext_small),
    "convnext": ("convnext_base", M.convnext_base),
    "convnext_big": ("convnext_large", M.convnext_large),
    "convnext_huge": ("convnext_xlarge", convnext_xlarge),
    "vision_transformer_small": ("vit_b_32", M.vit_b_32),
    "vision_transformer": ("vit_b_16", M.vit_b_16),
    "vision_transformer_big": ("vit_l_16", M.vit_l_16),
    "swin_transformer_tiny": ("swin_t", M.swin_t),
    "swin_transformer_small": ("swin_s", M.swin_s),
    "swin_transformer": ("swin_b", M.swin_b),
}


def build(name):
    return ARCHS[name][1](num_classes=NUM_CLASSES)


p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
p.add_argument("--keys", action="store_true")
p.add_argument("--forward", default="")
p.add_argument("--train_check", default="")
p.add_argument("--batch", type=int, default=1)
p.add_argument("--shape", default="", help="input shape N,3,H,W (default: --batch,3,224,224)")
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.set_num_threads(max(1, os.cpu_count() or 1))
meta = {"generator": "zoo_modern_gen.py", "seed": SEED, "train_seed": TRAIN_SEED,
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "num_classes": NUM_CLASSES, "batch": args.batch, "shape": args.shape}

if args.keys:
    out = {}
    for name, (arch, _) in ARCHS.items():
        m = build(name)
        out[name] = {"arch": arch,
                     "keys": [[k, list(v.shape)] for k, v in m.state_dict().items()],
                     "params": sum(p.numel() for p in m.parameters())}
        del m
    with open(os.path.join(args.out, "keys_modern.json"), "w") as f:
        json.dump(out, f, indent=0)

train_names = [n for n in args.train_check.split(",") if n]
for name in [n for n in args.forward.split(",") if n]:
    torch.manual_seed(SEED)
    m = build(name)
    perturb(m)
    save_state_dict(m.state_dict(), os.path.join(args.out, f"{name}.pth"))
    shape = [int(d) for d in args.shape.split(",")] if args.shape else [args.batch, 3, 224, 224]
    x = torch.randn(*shape)
    save_npy(os.path.join(args.out, f"{name}_x.npy"), x.numpy())
    m.eval()
    with torch.no_grad():
        save_npy(os.path.join(args.out, f"{name}_eval.npy"), m(x).numpy())
    if name in train_names:
        m.train()
        torch.manual_seed(TRAIN_SEED)
        with torch.no_grad():
            save_npy(os.path.join(args.out, f"{name}_train.npy"), m(x).numpy())
        bufs = {k: v for k, v in m.state_dict().items() if "running_" in k or "num_batches" in k}
        save_state_dict(bufs, os.path.join(args.out, f"{name}_train_buffers.pth"))
    del m

with open(os.path.join(args.out, "meta_modern.json"), "w") as f:
    json.dump(meta, f, indent=1)
