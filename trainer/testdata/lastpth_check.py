"""Reads a drgrade last.pth with torch.load(path, weights_only=True), PyTorch's safe loader,
and prints one JSON object describing what PyTorch sees: for every key its dtype (after
"torch."), shape, the sum of its values in float64 and its first three values; and
config_json decoded as text. trainer's TestParityLastPthWeightsOnly compares it with what
drgrade wrote.

Usage: python lastpth_check.py PATH
"""
import json
import sys

import torch

sd = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
out = {"type": type(sd).__name__, "torch": torch.__version__, "entries": {}}
for k, v in sd.items():
    if not isinstance(v, torch.Tensor):
        out["entries"][k] = {"python_type": type(v).__name__}
        continue
    flat = v.reshape(-1)
    out["entries"][k] = {
        "dtype": str(v.dtype).replace("torch.", ""),
        "shape": list(v.shape),
        "sum": float(v.double().sum()) if v.numel() else 0.0,
        "first": [float(x) for x in flat[:3].double()],
    }
if "config_json" in sd:
    out["config_json"] = bytes(sd["config_json"].tolist()).decode()
print(json.dumps(out))
