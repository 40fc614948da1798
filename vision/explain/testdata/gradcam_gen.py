"""Grad-CAM references for vision/explain: pytorch_grad_cam.GradCAM (PyPI grad-cam, pinned in
python/requirements.txt) on torchvision models, and the OpenCV steps around it.

--models NAMES   per --model name: the torchvision model (num_classes 5) with every parameter and
                 buffer perturbed by zoo_ref.perturb (vision/models/testdata), saved as NAME.pth;
                 an input batch NAME_x.npy [--batch, 3, S, S] (S: --size, 224 for ViT); then
                 GradCAM(model, target_layers=[LAYER], reshape_transform=...) on it
                   - for the predicted grades (targets=None):  NAME_cam_pred.npy [B, S, S]
                   - for other grades (explicit_targets):     NAME_cam_target.npy
                 with the eval-mode logits (NAME_logits.npy) and, to tell a gradient difference from
                 a CAM one, the channel weights of the explicit run (NAME_weights_target.npy, the
                 mean gradient over H×W as GradCAM.get_cam_weights computes it).
--opencv         the NumPy and OpenCV steps on their own (small, committed): GradCAM's arithmetic
                 on given activations and gradients (get_cam_image, the ReLU, scale_cam_image with
                 the resize, aggregate_multi_layers: cammath_*.npy), cv2.resize(float32 map,
                 (W, H)) with INTER_LINEAR (resize_*.npy), cv2.applyColorMap(0..255,
                 COLORMAP_JET) as RGB (jet.npy) and show_cam_on_image(img, cam, use_rgb=True)
                 (overlay_*.npy).

The target layer of each family is vision/models/cam.go's: ResNet layer4, DenseNet features[-1]
(norm5), EfficientNetV2, ConvNeXt, MobileNetV3 and Swin features[-1], ShuffleNetV2 conv5,
ViT encoder.layers[-1].ln_1. Swin's and ViT's activations are not NCHW; the reshape transforms
are grad-cam's utils/reshape_transforms.py ones: swinT_reshape_transform's transpose(2, 3)
.transpose(1, 2) (torchvision's Swin already gives [B, H, W, C], so its reshape from tokens is
not needed) and vit_reshape_transform (class token dropped, tokens reshaped to the 7×7 grid of
vit_b_32 at 224).

Usage: python gradcam_gen.py --out DIR [--models NAMES] [--size S] [--batch B] [--opencv]
"""
import argparse
import importlib.metadata
import json
import os
import sys

import cv2
import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "testdata"))
from zoo_ref import perturb, save_npy, save_state_dict  # noqa: E402

from pytorch_grad_cam import GradCAM  # noqa: E402
from pytorch_grad_cam.utils.image import scale_cam_image, show_cam_on_image  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

NUM_CLASSES = 5
SEED = 5
M = torchvision.models


def nhwc(t):
    # swinT_reshape_transform after its reshape: torchvision's Swin stages are [B, H, W, C].
    return t.transpose(2, 3).transpose(1, 2)


def vit_tokens(grid):
    def transform(t):
        # grad-cam's vit_reshape_transform(t, height=grid, width=grid)
        r = t[:, 1:, :].reshape(t.size(0), grid, grid, t.size(2))
        return r.transpose(2, 3).transpose(1, 2)
    return transform


# --model name: (constructor, target layer, reshape transform, fixed input size or None)
MODELS = {
    "resnet_small": (M.resnet34, lambda m: m.layer4, None, None),
    "resnet": (M.resnet50, lambda m: m.layer4, None, None),
    "densenet_tiny": (M.densenet121, lambda m: m.features[-1], None, None),
    "efficient_v2_small": (M.efficientnet_v2_s, lambda m: m.features[-1], None, None),
    "convnext_tiny": (M.convnext_tiny, lambda m: m.features[-1], None, None),
    "swin_transformer_tiny": (M.swin_t, lambda m: m.features[-1], nhwc, None),
    "vision_transformer_small": (M.vit_b_32, lambda m: m.encoder.layers[-1].ln_1, vit_tokens(7), 224),
    "shufflenet_small": (M.shufflenet_v2_x0_5, lambda m: m.conv5, None, None),
    "mobilenet_v3": (M.mobilenet_v3_small, lambda m: m.features[-1], None, None),
}


def explicit_targets(cam, x, preds):
    """GradCAM for grades other than the predicted ones: per image the first of pred+1, pred+2,
    ... (mod 5) whose heatmap is not all zero (the ReLU of a grade the model is far from can
    cut every position, and an all-zero golden checks little). Each image's map depends on its
    own target only (eval mode), so one run per step serves the images still looking.
    Returns the targets and their heatmaps."""
    targets = [(int(p) + 1) % NUM_CLASSES for p in preds]
    looking = set(range(len(preds)))
    for k in range(1, NUM_CLASSES):
        for i in looking:
            targets[i] = (int(preds[i]) + k) % NUM_CLASSES
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(t) for t in targets])
        looking = {i for i in looking if maps[i].max() == 0}
        if not looking:
            break
    return targets, maps


p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
p.add_argument("--models", default="")
p.add_argument("--size", type=int, default=128)
p.add_argument("--batch", type=int, default=2)
p.add_argument("--opencv", action="store_true")
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
torch.set_num_threads(max(1, os.cpu_count() or 1))
meta = {"generator": "gradcam_gen.py", "seed": SEED, "torch": torch.__version__,
        "torchvision": torchvision.__version__, "grad_cam": importlib.metadata.version("grad-cam"),
        "opencv": cv2.__version__, "num_classes": NUM_CLASSES, "size": args.size, "batch": args.batch,
        "layers": {}}

for name in [n for n in args.models.split(",") if n]:
    ctor, layer, reshape, fixed = MODELS[name]
    torch.manual_seed(SEED)
    m = ctor(num_classes=NUM_CLASSES)
    perturb(m)
    save_state_dict(m.state_dict(), os.path.join(args.out, f"{name}.pth"))
    size = fixed or args.size
    x = torch.randn(args.batch, 3, size, size)
    save_npy(os.path.join(args.out, f"{name}_x.npy"), x.numpy())
    m.eval()
    with torch.no_grad():
        logits = m(x)
    np.save(os.path.join(args.out, f"{name}_logits.npy"), logits.numpy())
    cam = GradCAM(model=m, target_layers=[layer(m)], reshape_transform=reshape)
    save_npy(os.path.join(args.out, f"{name}_cam_pred.npy"), cam(input_tensor=x, targets=None))
    targets, maps = explicit_targets(cam, x, logits.argmax(1))
    save_npy(os.path.join(args.out, f"{name}_cam_target.npy"), maps)
    grads = cam.activations_and_grads.gradients[0].numpy()
    np.save(os.path.join(args.out, f"{name}_weights_target.npy"), np.mean(grads, axis=(2, 3)))
    meta["layers"][name] = {"shape": list(cam.activations_and_grads.activations[0].shape),
                            "pred": [int(v) for v in logits.argmax(1)], "targets": targets}
    cam.activations_and_grads.release()
    del cam, m

if args.opencv:
    rng = np.random.default_rng(SEED)
    cases = {"7x7_128x128": ((7, 7), (128, 128)), "4x3_64x48": ((4, 3), (64, 48)),
             "13x9_40x70": ((13, 9), (40, 70)), "10x12_4x5": ((10, 12), (4, 5)),
             "3x3_96x96": ((3, 3), (96, 96))}
    for key, ((h, w), (H, W)) in cases.items():
        src = rng.random((h, w), dtype=np.float32)
        np.save(os.path.join(args.out, f"resize_{key}_in.npy"), src)
        np.save(os.path.join(args.out, f"resize_{key}_out.npy"), cv2.resize(src, (W, H)))
    # GradCAM's arithmetic on given activations and gradients (float32, as its hooks hand them
    # over), through grad-cam's own functions: the map is a small difference of large terms, as
    # in the models, so float32 rounding shows.
    gc = GradCAM.__new__(GradCAM)
    for key, (n, c, h, w, H, W) in {"2x64x4x4": (2, 64, 4, 4, 128, 128), "2x40x3x3": (2, 40, 3, 3, 96, 80),
                                    "1x300x16x16": (1, 300, 16, 16, 64, 64), "1x8x2x2": (1, 8, 2, 2, 32, 32)}.items():
        for _ in range(1000):  # a draw whose every map is positive somewhere and cut somewhere
            acts = (rng.random((n, c, h, w), dtype=np.float32) + np.float32(2)) * np.float32(3)
            grads = rng.standard_normal((n, c, h, w), dtype=np.float32) * np.float32(1e-3)
            cam = np.maximum(gc.get_cam_image(None, None, None, acts, grads), 0)
            if all(m.max() > 0 and m.min() == 0 for m in cam):
                break
        else:
            raise SystemExit(f"cammath {key}: no draw with maps both positive and cut by the ReLU")
        maps = gc.aggregate_multi_layers([scale_cam_image(cam, (W, H))[:, None, :]])
        np.save(os.path.join(args.out, f"cammath_{key}_acts.npy"), acts)
        np.save(os.path.join(args.out, f"cammath_{key}_grads.npy"), grads)
        np.save(os.path.join(args.out, f"cammath_{key}_out.npy"), maps)
    jet = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)[:, 0, ::-1]
    np.save(os.path.join(args.out, "jet.npy"), np.ascontiguousarray(jet))
    for key, (h, w) in {"32x40": (32, 40), "96x96": (96, 96)}.items():
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        cam = cv2.resize(rng.random((3, 3), dtype=np.float32), (w, h))
        cam = (cam - cam.min()) / (1e-7 + (cam - cam.min()).max())
        np.save(os.path.join(args.out, f"overlay_{key}_img.npy"), img)
        np.save(os.path.join(args.out, f"overlay_{key}_cam.npy"), cam.astype(np.float32))
        out = show_cam_on_image(np.float32(img) / 255, cam, use_rgb=True)
        np.save(os.path.join(args.out, f"overlay_{key}_out.npy"), out)

with open(os.path.join(args.out, "meta.json"), "w") as f:
    json.dump(meta, f, indent=1)
