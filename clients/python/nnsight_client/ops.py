"""Free functions of the op set (torch.cat, torch.softmax, ... and Python builtins).

Each records an op in the trace (or session) its proxy arguments belong to, or
in the innermost one being recorded when it has no proxy argument:
``ops.cat([a, b], dim=0)``, ``ops.softmax(x, -1)``, ``ops.len(x)``, ``ops.list()``.
A name the server's op set lacks raises :class:`UnsupportedOpError` naming it.
"""

from .graph import unsupported_op
from .proxy import METHOD_ALIASES, _graph_in
from .tensors import tensor as _tensor

_FREE = ("cat stack where softmax log_softmax zeros_like ones_like exp log abs sum mean norm argmax max min "
         "topk matmul transpose permute reshape view unsqueeze squeeze flatten clone detach narrow index_select "
         "add sub mul truediv floordiv mod pow neg eq ne lt le gt ge to size shape item tolist "
         "list dict tuple int float str bool len append print").split()


def _make(name, op):
    def fn(*args, **kwargs):
        return _graph_in(args, kwargs).op(op, args, kwargs)
    fn.__name__ = name
    fn.__doc__ = f"Records the '{op}' op (src/nnsight/graph/ops.h)."
    return fn


for _name in _FREE:
    globals()[_name] = _make(_name, _name)
for _name, _op in METHOD_ALIASES.items():
    globals().setdefault(_name, _make(_name, _op))
globals()["concat"] = _make("concat", "cat")
tensor = _tensor  # ops.tensor([...]): a constant tensor, like torch.tensor
del _name, _op


def __getattr__(name):
    if name.startswith("_"):
        raise AttributeError(name)
    raise unsupported_op(name, "nnsight_client.ops")
