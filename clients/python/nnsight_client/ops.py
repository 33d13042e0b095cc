"""Free functions of the op set (torch.cat, torch.softmax, ... and Python builtins).

Each records an op in the trace its proxy arguments belong to:
``ops.cat([a, b], dim=0)``, ``ops.softmax(x, -1)``, ``ops.len(x)``.
"""

from .errors import NNsightError
from .proxy import Proxy


def _graph_of(args, kwargs):
    stack = list(args) + list(kwargs.values())
    while stack:
        a = stack.pop()
        if isinstance(a, Proxy):
            return a._graph
        if isinstance(a, (list, tuple)):
            stack.extend(a)
        elif isinstance(a, dict):
            stack.extend(a.values())
    raise NNsightError("at least one argument must be a proxy of the trace being recorded")


def _make(name):
    def fn(*args, **kwargs):
        return _graph_of(args, kwargs).op(name, args, kwargs)
    fn.__name__ = name
    fn.__doc__ = f"Records the '{name}' op (src/nnsight/graph/ops.h)."
    return fn


for _name in ("cat stack where softmax log_softmax zeros_like ones_like exp log abs sum mean norm argmax max min "
              "topk matmul transpose permute reshape view unsqueeze squeeze flatten clone detach narrow "
              "index_select tuple int float str bool len append").split():
    globals()[_name] = _make(_name)
del _name
