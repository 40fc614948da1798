"""Oracle for trainer/tblog: TensorBoard's own writer and reader.

Generator mode (--out DIR) writes:
  torch.tfevents  - an event file written by torch.utils.tensorboard.SummaryWriter with the
                    script's seven tags over three epochs (plus awkward values); the writer's
                    clock is pinned (WALL) so the file is reproducible;
  expected.json   - that file as tensorboard's EventAccumulator reads it;
  encodings.json  - event_pb2.Event(...).SerializeToString() and RecordWriter's framing of it,
                    in hex, for scalar events and the file_version event, to compare bytes;
  meta.json       - versions.
Reader mode (--read FILE) prints FILE as EventAccumulator reads it (same JSON as expected.json),
for the live test that reads a Go-written file with TensorBoard.
Float32 values are given as their IEEE bits (uint32) so NaN and infinities survive JSON.
"""
import argparse
import io
import json
import os
import shutil
import struct
import tempfile
import types

import tensorboard
import torch
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer import event_file_writer
from tensorboard.summary.writer.record_writer import RecordWriter
from torch.utils.tensorboard import SummaryWriter

WALL = 1717171717.25  # pinned clock of the first (file_version) event
TAGS = ["train_loss", "train_acc", "val_accuracy", "learning_rate", "precision", "recall", "f1_score"]


def f32bits(x):
    # x must already be a float32 value (finite overflow raises): pass values read back
    return struct.unpack("<I", struct.pack("<f", x))[0]


def read(path):
    ea = event_accumulator.EventAccumulator(path, size_guidance={event_accumulator.SCALARS: 0})
    ea.Reload()
    out = {"file_version": ea.file_version, "scalars": {}}
    for tag in sorted(ea.Tags()["scalars"]):
        out["scalars"][tag] = [{"wall_time": s.wall_time, "step": s.step, "value_bits": f32bits(s.value)}
                               for s in ea.Scalars(tag)]
    return out


def scalar_values():
    # (tag, step, value, walltime): the script's seven tags for three epochs, then awkward values
    rows = []
    for epoch in range(3):
        vals = [1.2345678901 / (epoch + 1), 0.4 + 0.1 * epoch, 0.5 + 0.07 * epoch,
                0.0002 * (1 + epoch) / 3, 0.81549, 0.646, 1 / 3]
        for tag, v in zip(TAGS, vals):
            rows.append((tag, epoch, v, WALL + 10 * epoch + 0.125))
    for i, v in enumerate([0.0, -0.0, 1e-45, 3.5e38, -7.25, float("inf"), float("-inf"), float("nan"),
                           0.1, 16777217.0, 2.0 ** -149]):
        rows.append(("edge/value", 100 + i, v, WALL + 100 + i / 8))
    rows.append(("edge/step", 2 ** 40, 1.5, WALL + 200))
    rows.append(("edge/unicode_étiquette", 7, 2.5, WALL + 201))
    return rows


def write_torch_file(out):
    tmp = tempfile.mkdtemp()
    try:
        event_file_writer.time = types.SimpleNamespace(time=lambda: WALL)  # pin the first event
        w = SummaryWriter(tmp)
        for tag, step, v, wall in scalar_values():
            w.add_scalar(tag, v, step, walltime=wall)
        w.close()
        (name,) = os.listdir(tmp)
        shutil.copyfile(os.path.join(tmp, name), os.path.join(out, "torch.tfevents"))
        return name
    finally:
        shutil.rmtree(tmp)


def framed(data):
    buf = io.BytesIO()

    class W:
        write = buf.write

        def flush(self):
            pass

    RecordWriter(W()).write(data)
    return buf.getvalue().hex()


def encodings():
    cases = []
    for tag, step, v, wall in scalar_values() + [("neg_step", -3, 0.25, 0.0), ("zero", 0, 0.0, 5.5)]:
        ev = event_pb2.Event(wall_time=wall, step=step,
                             summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=v)]))
        data = ev.SerializeToString()
        cases.append({"kind": "scalar", "tag": tag, "step": step, "wall_time": wall,
                      "value": v if v == v and abs(v) != float("inf") else None,
                      "value_bits": f32bits(event_pb2.Event.FromString(data).summary.value[0].simple_value),
                      "event": data.hex(), "record": framed(data)})
    for writer in ["", "drgrade/trainer/tblog"]:
        ev = event_pb2.Event(wall_time=WALL, file_version="brain.Event:2")
        if writer:
            ev.source_metadata.writer = writer
        data = ev.SerializeToString()
        cases.append({"kind": "file_version", "writer": writer, "wall_time": WALL,
                      "event": data.hex(), "record": framed(data)})
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--read")
    args = ap.parse_args()
    if args.read:
        print(json.dumps(read(args.read), allow_nan=False))
        return
    os.makedirs(args.out, exist_ok=True)
    name = write_torch_file(args.out)
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(read(os.path.join(args.out, "torch.tfevents")), f, allow_nan=False, indent=0)
    with open(os.path.join(args.out, "encodings.json"), "w") as f:
        json.dump(encodings(), f, allow_nan=False, indent=0)
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"generator": "trainer/tblog/testdata/tblog_gen.py", "torch": torch.__version__,
                   "tensorboard": tensorboard.__version__, "torch_file_name": name.split(".")[:4],
                   "pinned_wall_time": WALL}, f, indent=1)


if __name__ == "__main__":
    main()
