"""A Python client for `nnsight serve`: NNsight's tracing syntax, run remotely.

    from nnsight_client import RemoteModel
    model = RemoteModel("http://127.0.0.1:8080", api_key="...")
    with model.trace("Once upon a time"):
        h = model.model.layers[2].output[0].save()
    print(h.value.shape)

    with model.session() as session:            # several traces, one request
        with model.trace("Lily went to the park"):
            clean = model.model.layers[2].output[0][:, -1].clone().save()
        with model.trace("Tom went to the shop"):
            model.model.layers[2].output[0][:, -1] = clean
            logits = model.lm_head.output.save()

Standard library only; tensors come back as numpy arrays when numpy is importable.
See clients/python/README.md, docs/server.md and docs/graph-format.md.
"""

from . import ops
from .contexts import Session
from .envoy import Envoy
from .errors import NNsightError, RemoteError, UnsupportedOpError
from .model import Cache, RemoteModel, Tracer
from .proxy import Proxy
from .tensors import Tensor, tensor

__all__ = ["RemoteModel", "Tracer", "Cache", "Session", "Envoy", "Proxy", "Tensor", "tensor", "NNsightError", "RemoteError",
           "UnsupportedOpError", "ops"]
