"""Logit lens on a model served by `nnsight serve`: what each layer would predict.

    nnsight serve --model stories=../shared/models/stories260K-hf \
                  --tokenizer stories=../shared/models/stories260K/tok512.bin --port 8080
    PYTHONPATH=clients/python python3 clients/python/examples/logit_lens.py http://127.0.0.1:8080 [API_KEY]
"""

import sys

from nnsight_client import RemoteModel


def logit_lens(model, prompt):
    """For every layer: the argmax token and its probability at the last position."""
    with model.trace(prompt):
        per_layer = []
        for layer in model.model.layers:
            probs = model.lm_head(model.model.norm(layer.output[0]))[:, -1].softmax(-1)
            per_layer.append((probs.argmax(-1).save(), probs.max(-1)[0].save()))
    return [(int(_scalar(t.value)), float(_scalar(p.value))) for t, p in per_layer]


def _scalar(v):
    while isinstance(v, list):
        v = v[0]
    return v.reshape(-1)[0] if hasattr(v, "reshape") else v


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
    model = RemoteModel(url, api_key=sys.argv[2] if len(sys.argv) > 2 else None)
    for k, (token, p) in enumerate(logit_lens(model, "Once upon a time, there was a little")):
        print(f"layer {k}: token {token:4d}  p={p:.4f}")
