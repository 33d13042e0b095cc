"""Activation patching on a model served by `nnsight serve`.

Runs a clean and a corrupted prompt in one batch, copies the clean last-token
hidden state of layer L into the corrupted run, and reports how the corrupted
run's next-token logits move toward the clean prediction, layer by layer.

    PYTHONPATH=clients/python python3 clients/python/examples/activation_patching.py http://127.0.0.1:8080 [API_KEY]
"""

import sys

from nnsight_client import RemoteModel

CLEAN = "Lily went to the park"
CORRUPT = "Tom went to the shop"


def patch(model, layer, clean=CLEAN, corrupt=CORRUPT):
    """(clean logits, patched corrupt logits) of the last position, patching `layer`."""
    with model.trace() as tracer:
        with tracer.invoke(clean):
            h_clean = model.model.layers[layer].output[0][:, -1].clone()
            clean_logits = model.lm_head.output[:, -1].save()
        with tracer.invoke(corrupt):
            model.model.layers[layer].output[0][:, -1] = h_clean
            patched_logits = model.lm_head.output[:, -1].save()
    return clean_logits.value, patched_logits.value


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
    model = RemoteModel(url, api_key=sys.argv[2] if len(sys.argv) > 2 else None)
    with model.trace(CORRUPT):
        corrupt_logits = model.lm_head.output[:, -1].save()
    base = corrupt_logits.value
    for layer in range(len(model.model.layers)):
        clean, patched = patch(model, layer)
        row = clean[0]
        target = int(row.argmax()) if hasattr(row, "argmax") else max(range(len(row)), key=row.__getitem__)
        print(f"layer {layer}: logit of clean top token {target}: corrupt {float(base[0][target]):+.4f} "
              f"-> patched {float(patched[0][target]):+.4f} (clean {float(clean[0][target]):+.4f})")
