"""Goldens for the classic CNNs of drgrade's zoo (issue "Model zoo, part 1"):
alexnet, zfnet, vgg_tiny/vgg_small/vgg/vgg_big (vgg11/13/16/19), googlenet, xception (timm
legacy_xception), densenet_tiny/densenet_small/densenet/densenet_big (densenet121/161/169/201),
mobilenet_v3/mobilenet_v3_large (small/large), shufflenet_small/shufflenet (v2 x0.5/x1.0).

--keys:            keys_cnn.json: per --model name, the reference state_dict keys and shapes
                   and the parameter count (committed golden, small).
--forward NAMES:   per name, weights created by the reference model and perturbed by
                   zoo_ref.perturb (no parameter or buffer left constant: BatchNorm statistics
                   and affine, the zero biases of VGG/AlexNet/GoogLeNet/DenseNet/MobileNetV3
                   classifiers and convolutions, squeeze-excitation included; checked before
                   saving) saved with torch.save, an input batch, eval-mode logits, and for
                   --train_check names the train-mode logits and the BatchNorm buffers after
                   that forward (live only for the zoo's models: their weights are too big to
                   commit).
--size S:          the input's height and width (default: 299 for xception, 224 otherwise).

VARIANTS are forward-only models outside the zoo, small enough that their weights are committed
(testdata/forward/, TestParityForwardGolden): mobilenet_v3_w035 is torchvision's
mobilenet_v3_small at width_mult 0.35 (0.8 MB of weights; width 1.0 is 6 MB), the same
MobileNetV3 code path as the zoo's mobilenet_v3 with channels _make_divisible(c * 0.35, 8).

Dropout in a train-check forward draws from libtorch's global generator. The Go test seeds it
with DROPOUT_SEED right before building the first --forward model, so for that model (and only
that one) this script puts the generator in the same state: seed DROPOUT_SEED, then replay
the draws of drgrade's constructor, which are those of torchvision's final init loop (drgrade
skips the throw-away default initialisation nn.Conv2d/nn.Linear do at construction). Any
other train-check model must have no active dropout.

The reference for zfnet is the researcher's classic_models/zfnet.py (GitHub
Arwin-Yu/Deep-Learning-Image-Classification-Models-Based-CNN-or-Attention), rewritten in zoo_ref.py
with the same module names; the others are torchvision 0.16 and timm 0.9.12 themselves.

Usage: python zoo_cnn_gen.py --out DIR (--keys | --forward mobilenet_v3,densenet_tiny
       --train_check mobilenet_v3,densenet_tiny [--size S] [--batch N])
"""
import argparse
import json
import os
import warnings

import timm
import torch
import torch.nn as nn
import torchvision

from zoo_ref import ZFNet, perturb, save_npy, save_state_dict

NUM_CLASSES = 5
SEED = 3
DROPOUT_SEED = 11  # the Go test's torchext.ManualSeed argument (zoo_cnn_test.go)


tv = torchvision.models
MODELS = {  # --model name: (architecture, builder)
    "alexnet": ("alexnet", lambda: tv.alexnet(num_classes=NUM_CLASSES)),
    "zfnet": ("zfnet", lambda: ZFNet(num_classes=NUM_CLASSES)),
    "vgg_tiny": ("vgg11", lambda: tv.vgg11(num_classes=NUM_CLASSES)),
    "vgg_small": ("vgg13", lambda: tv.vgg13(num_classes=NUM_CLASSES)),
    "vgg": ("vgg16", lambda: tv.vgg16(num_classes=NUM_CLASSES)),
    "vgg_big": ("vgg19", lambda: tv.vgg19(num_classes=NUM_CLASSES)),
    "googlenet": ("googlenet", lambda: tv.googlenet(num_classes=NUM_CLASSES, aux_logits=False,
                                                    transform_input=False, init_weights=True)),
    "xception": ("legacy_xception", lambda: timm.create_model("legacy_xception", num_classes=NUM_CLASSES)),
    "densenet_tiny": ("densenet121", lambda: tv.densenet121(num_classes=NUM_CLASSES)),
    "densenet_small": ("densenet161", lambda: tv.densenet161(num_classes=NUM_CLASSES)),
    "densenet": ("densenet169", lambda: tv.densenet169(num_classes=NUM_CLASSES)),
    "densenet_big": ("densenet201", lambda: tv.densenet201(num_classes=NUM_CLASSES)),
    "mobilenet_v3": ("mobilenet_v3_small", lambda: tv.mobilenet_v3_small(num_classes=NUM_CLASSES)),
    "mobilenet_v3_large": ("mobilenet_v3_large", lambda: tv.mobilenet_v3_large(num_classes=NUM_CLASSES)),
    "shufflenet_small": ("shufflenet_v2_x0_5", lambda: tv.shufflenet_v2_x0_5(num_classes=NUM_CLASSES)),
    "shufflenet": ("shufflenet_v2_x1_0", lambda: tv.shufflenet_v2_x1_0(num_classes=NUM_CLASSES)),
}
VARIANTS = {  # forward-only models (not --keys): name: (architecture, builder)
    "mobilenet_v3_w035": ("mobilenet_v3_small", lambda: tv.mobilenet_v3_small(num_classes=NUM_CLASSES, width_mult=0.35)),
}
INPUT_SIZE = {"xception": 299}  # timm's legacy_xception config; 224 for the rest


def replay_mobilenet_v3_init(model):
    """The global-generator draws of drgrade's MobileNetV3 constructor: torchvision's
    MobileNetV3 init loop, in module order (BatchNorm and zero fills draw nothing)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


REPLAY_INIT = {"mobilenet_v3": replay_mobilenet_v3_init, "mobilenet_v3_large": replay_mobilenet_v3_init,
               "mobilenet_v3_w035": replay_mobilenet_v3_init}


def has_active_dropout(model):
    return any(isinstance(m, nn.Dropout) and m.p > 0 for m in model.modules())


p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
p.add_argument("--keys", action="store_true")
p.add_argument("--forward", default="")
p.add_argument("--train_check", default="")
p.add_argument("--batch", type=int, default=2)
p.add_argument("--size", type=int, default=0)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.set_num_threads(max(1, os.cpu_count() or 1))
warnings.filterwarnings("ignore", category=FutureWarning)
meta = {"generator": "zoo_cnn_gen.py", "seed": SEED, "dropout_seed": DROPOUT_SEED,
        "torch": torch.__version__, "torchvision": torchvision.__version__, "timm": timm.__version__,
        "num_classes": NUM_CLASSES}
if args.forward:
    meta.update(batch=args.batch, size=args.size)

if args.keys:
    out = {}
    for name, (arch, build) in MODELS.items():
        m = build()
        out[name] = {"arch": arch,
                     "keys": [[k, list(v.shape)] for k, v in m.state_dict().items()],
                     "params": sum(q.numel() for q in m.parameters())}
        del m
    with open(os.path.join(args.out, "keys_cnn.json"), "w") as f:
        json.dump(out, f, indent=0)

forward = [n for n in args.forward.split(",") if n]
train_check = set(n for n in args.train_check.split(",") if n)
for i, name in enumerate(forward):
    torch.manual_seed(SEED)
    build = {**MODELS, **VARIANTS}[name][1]
    m = build()
    perturb(m)
    save_state_dict(m.state_dict(), os.path.join(args.out, f"{name}.pth"))
    size = args.size or INPUT_SIZE.get(name, 224)
    x = torch.randn(args.batch, 3, size, size)
    save_npy(os.path.join(args.out, f"{name}_x.npy"), x.numpy())
    m.eval()
    with torch.no_grad():
        save_npy(os.path.join(args.out, f"{name}_eval.npy"), m(x).numpy())
    if name in train_check:
        if has_active_dropout(m):
            if i != 0 or name not in REPLAY_INIT:
                raise SystemExit(f"{name}: a train check with dropout must be the first --forward model "
                                 f"and have its constructor's draws replayed (REPLAY_INIT)")
            scratch = build()  # built first: construction draws too
            torch.manual_seed(DROPOUT_SEED)
            REPLAY_INIT[name](scratch)
            del scratch
        m.train()
        with torch.no_grad():
            save_npy(os.path.join(args.out, f"{name}_train.npy"), m(x).numpy())
        bufs = {k: v for k, v in m.state_dict().items() if "running_" in k or "num_batches" in k}
        save_state_dict(bufs, os.path.join(args.out, f"{name}_train_buffers.pth"))
    del m

with open(os.path.join(args.out, "meta_cnn.json"), "w") as f:
    json.dump(meta, f, indent=1)
