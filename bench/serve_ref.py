"""PyTorch baseline for `make bench-serve`: the same model behind a plain Python HTTP handler.

POST /v1/grade with one image as the raw body (image/jpeg ...): PIL decode, convert('RGB'), the
script's val transforms (Resize(256), CenterCrop(224), ToTensor, Normalize), and drgrade serve's
batching rule: one model thread takes the first queued image, gathers more up to --max_batch or
until --max_wait has passed, runs one forward under torch.inference_mode(), and answers each
request with the softmax as JSON. ThreadingHTTPServer: one thread per connection. One model per
process, torch.set_num_threads(--threads).
Run: ~/.cache/drgrade/venv/bin/python bench/serve_ref.py --arch shufflenet_v2_x0_5 --weights W.pth --port 8090
"""
import argparse
import io
import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch
import torchvision
from PIL import Image
from torchvision import transforms

p = argparse.ArgumentParser()
p.add_argument('--arch', required=True)
p.add_argument('--weights', required=True)
p.add_argument('--num_classes', type=int, default=5)
p.add_argument('--port', type=int, default=8090)
p.add_argument('--max_batch', type=int, default=16)
p.add_argument('--max_wait', type=float, default=0.010, help='seconds')
p.add_argument('--threads', type=int, default=2)
a = p.parse_args()

torch.set_num_threads(a.threads)
model = getattr(torchvision.models, a.arch)(num_classes=a.num_classes)
model.load_state_dict(torch.load(a.weights, map_location='cpu'))
model.eval()
val = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                          transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
jobs = queue.Queue()


def model_thread():
    torch.set_num_threads(a.threads)
    carry = None
    while True:
        first = carry if carry is not None else jobs.get()
        carry = None
        batch = [first]
        deadline = time.monotonic() + a.max_wait
        while len(batch) < a.max_batch:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(jobs.get(timeout=left))
            except queue.Empty:
                break
        x = torch.stack([j['x'] for j in batch])
        with torch.inference_mode():
            probs = torch.softmax(model(x), dim=1).tolist()
        for j, pr in zip(batch, probs):
            j['probs'], j['batch'] = pr, len(batch)
            j['done'].set()


with torch.inference_mode():  # warm-up forward, as drgrade's /readyz
    model(torch.zeros(1, 3, 224, 224))
threading.Thread(target=model_thread, daemon=True).start()


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        b = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        self.answer(200, {'status': 'ready'})

    def do_POST(self):
        n = int(self.headers.get('Content-Length', 0))
        data = self.rfile.read(n)
        try:
            x = val(Image.open(io.BytesIO(data)).convert('RGB'))
        except Exception as e:  # noqa: BLE001
            self.answer(422, {'error': str(e)})
            return
        j = {'x': x, 'done': threading.Event()}
        jobs.put(j)
        j['done'].wait()
        pr = j['probs']
        self.answer(200, {'results': [{'grade': max(range(len(pr)), key=pr.__getitem__), 'probabilities': pr}],
                          'batch_size': j['batch']})


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 1024  # listen backlog: 32 clients connect at once
print(f'serving {a.arch} on http://127.0.0.1:{a.port}/', flush=True)
ThreadingHTTPServer(('127.0.0.1', a.port), Handler).serve_forever()
