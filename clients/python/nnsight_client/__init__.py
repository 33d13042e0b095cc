"""A Python client for `nnsight serve`: NNsight's tracing syntax, run remotely.

    from nnsight_client import RemoteModel
    model = RemoteModel("http://127.0.0.1:8080", api_key="...")
    with model.trace("Once upon a time"):
        h = model.model.layers[2].output[0].save()
    print(h.value.shape)

Standard library only; tensors come back as numpy arrays when numpy is importable.
See clients/python/README.md, docs/server.md and docs/graph-format.md.
"""

from . import ops
from .envoy import Envoy
from .errors import NNsightError, RemoteError
from .model import RemoteModel, Tracer
from .proxy import Proxy

__all__ = ["RemoteModel", "Tracer", "Envoy", "Proxy", "NNsightError", "RemoteError", "ops"]
