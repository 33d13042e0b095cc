"""Activation patching across traces of one session, on a model served by `nnsight serve`.

One request holds the clean run, the corrupted run and one patched run per layer: each patched
trace sets layer L's last-token hidden state to the clean run's (a value of the first trace) and
saves the logit of the clean run's top token. The session-level ops compute how much of the
clean-vs-corrupted logit gap each layer recovers, so only a few numbers come back.

    PYTHONPATH=clients/python python3 clients/python/examples/session_patching.py http://127.0.0.1:8080 [API_KEY]
"""

import sys

from nnsight_client import RemoteModel

CLEAN = "Lily went to the park"
CORRUPT = "Tom went to the shop"


def patch_all(model, clean=CLEAN, corrupt=CORRUPT):
    """(clean top token, [recovered fraction per layer], [patched last-position logits per layer])."""
    layers = len(model.model.layers)
    with model.session():
        with model.trace(clean):
            hidden = [model.model.layers[k].output[0][:, -1].clone() for k in range(layers)]
            clean_logits = model.lm_head.output[0, -1]
            target = clean_logits.argmax(-1).save()
        with model.trace(corrupt):
            corrupt_logit = model.lm_head.output[0, -1][target]
        patched = []
        for k in range(layers):
            with model.trace(corrupt):
                model.model.layers[k].output[0][:, -1] = hidden[k]
                patched.append(model.lm_head.output[0, -1].save())
        gap = clean_logits[target] - corrupt_logit
        recovered = [((p[target] - corrupt_logit) / gap).save() for p in patched]
    return int(target.value), [float(r.value) for r in recovered], [p.value for p in patched]


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
    model = RemoteModel(url, api_key=sys.argv[2] if len(sys.argv) > 2 else None)
    target, recovered, _ = patch_all(model)
    print(f"clean top token {target}; fraction of the logit gap recovered by patching the last position:")
    for k, r in enumerate(recovered):
        print(f"  layer {k}: {r:+.3f}")
