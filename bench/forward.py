"""PyTorch reference for bench/forward (drgrade's zoo forward): one eval-mode forward, timed.

The model is the torchvision 0.16 architecture named by drgrade's Config().Arch (--arch; the
run script reads it from `forward --list`), with num_classes outputs, built as the zoo's parity
generators build it (vision/models/testdata/zoo_*_gen.py): googlenet with aux_logits=False,
transform_input=False, init_weights=True; legacy_xception from timm 0.9.12; zfnet the
researcher's ZFNet module and convnext_xlarge torchvision's ConvNeXt class at the paper's XL
widths and depths (both from vision/models/testdata/zoo_ref.py, which the generators import).

One run: build the model, model.eval(), one torch.randn input of batch×3×size×size, --warmup
untimed forwards, then --iters forwards each timed alone under torch.no_grad() with
torch.set_num_threads(--threads). Prints {model, arch, ms_per_forward_median, ms_min, ms_max}
as JSON, like bench/forward.
Run with the venv's python: ~/.cache/drgrade/venv/bin/python bench/forward.py --model resnet --arch resnet50.
"""
import argparse
import json
import os
import statistics
import sys
import time
import warnings

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'vision', 'models', 'testdata'))
from zoo_ref import ZFNet, convnext_xlarge  # noqa: E402


def build(arch, num_classes):
    """The reference module for a drgrade Config().Arch."""
    if arch == 'zfnet':
        return ZFNet(num_classes=num_classes)
    if arch == 'convnext_xlarge':
        return convnext_xlarge(num_classes)
    if arch == 'legacy_xception':
        import timm
        return timm.create_model('legacy_xception', num_classes=num_classes)
    if arch == 'googlenet':
        return torchvision.models.googlenet(num_classes=num_classes, aux_logits=False,
                                            transform_input=False, init_weights=True)
    return getattr(torchvision.models, arch)(num_classes=num_classes)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--model', required=True, help="drgrade's name (a label in the output)")
    p.add_argument('--arch', required=True, help="torchvision/timm architecture (drgrade's Config().Arch)")
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--size', type=int, default=224, help='input side (the model\'s InputSize)')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--num_classes', type=int, default=5)
    p.add_argument('--seed', type=int, default=1)
    a = p.parse_args()
    if a.batch < 1 or a.iters < 1 or a.threads < 1 or a.warmup < 0 or a.size < 1:
        p.error('want --batch, --iters, --threads, --size >= 1 and --warmup >= 0')
    warnings.filterwarnings('ignore', category=FutureWarning)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t0 = time.perf_counter()
    m = build(a.arch, a.num_classes)
    build_s = time.perf_counter() - t0
    m.eval()
    x = torch.randn(a.batch, 3, a.size, a.size)
    times = []
    with torch.no_grad():
        for _ in range(a.warmup):
            y = m(x)
            del y
        for _ in range(a.iters):
            t = time.perf_counter()
            y = m(x)
            del y
            times.append((time.perf_counter() - t) * 1000)
    print(json.dumps({'model': a.model, 'arch': a.arch, 'ms_per_forward_median': statistics.median(times),
                      'ms_min': min(times), 'ms_max': max(times), 'impl': 'pytorch', 'batch': a.batch,
                      'size': a.size, 'threads': a.threads, 'iters': a.iters, 'warmup': a.warmup,
                      'torch': torch.__version__, 'torchvision': torchvision.__version__,
                      'build_s': build_s}))


if __name__ == '__main__':
    main()
