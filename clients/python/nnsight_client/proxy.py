"""Proxy: a value of the graph being recorded, with Python operators and tensor methods."""

from .errors import NNsightError, UnsupportedOpError
from .graph import OPS, unsupported_op

_MISSING = object()

# Tensor methods recorded as ops with the proxy as first argument (names from ops.h).
TENSOR_METHODS = frozenset("""
clone detach sum mean norm argmax softmax log_softmax view reshape transpose permute exp log to float
size topk unsqueeze squeeze flatten max min item tolist requires_grad_ retain_grad contiguous narrow
index_select add_ sub_ mul_ div_ zero_ fill_ abs neg append backward
""".split())

# torch method names recorded as another op of the set: x.div(y) is truediv(x, y), ...
METHOD_ALIASES = {
    "add": "add", "sub": "sub", "subtract": "sub", "mul": "mul", "multiply": "mul", "div": "truediv",
    "divide": "truediv", "true_divide": "truediv", "floor_divide": "floordiv", "remainder": "mod", "pow": "pow",
    "matmul": "matmul", "mm": "matmul", "dot": "matmul",
    "eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge",
    "negative": "neg", "absolute": "abs", "logical_not": "not_", "bitwise_not": "invert",
    "bitwise_and": "and_", "bitwise_or": "or_", "bitwise_xor": "xor_",
}

# x.double() and friends are x.to(dtype); x.cpu() is x.to("cpu") (the server runs on its CPU).
DTYPE_METHODS = {"double": "float64", "half": "float16", "bfloat16": "bfloat16", "long": "int64", "int": "int32",
                 "short": "int16", "char": "int8", "byte": "uint8", "bool": "bool"}

# torch functions (torch.softmax, torch.nn.functional.softmax, ...) recorded through __torch_function__.
TORCH_FUNCTIONS = dict(METHOD_ALIASES, **{n: n for n in OPS if n not in ("print", "list", "dict", "tuple", "int",
                                                                          "float", "str", "bool", "len", "append")})
TORCH_FUNCTIONS.update({"concat": "cat", "concatenate": "cat"})


def _torch_dtype_name(v):
    """torch.float32 / numpy dtypes as the format's dtype names; other values unchanged."""
    if type(v).__name__ == "dtype" and type(v).__module__ == "torch":
        return str(v).replace("torch.", "")
    if type(v).__module__ == "numpy" and type(v).__name__.startswith("dtype"):
        return str(v)
    if isinstance(v, type) and v.__module__ == "numpy":
        return v.__name__
    return v


def _graph_in(args, kwargs):
    stack = list(args) + list(kwargs.values())
    while stack:
        a = stack.pop()
        if isinstance(a, Proxy):
            return a._graph
        if isinstance(a, (list, tuple)):
            stack.extend(a)
        elif isinstance(a, dict):
            stack.extend(a.values())
    from .graph import active_graph
    graph = active_graph()
    if graph is None:
        raise NNsightError("this call records an op, but no trace or session is being recorded",
                           "call it inside `with model.trace(...)` or `with model.session()`")
    return graph


class Proxy:
    """A node's future value. Use it like the tensor (or tuple, list, ...) it stands for.

    ``.save()`` keeps the value: after the ``with model.trace(...)`` block,
    ``.value`` holds it (a numpy array, nested lists, a tuple, a number...).
    """

    __array_ufunc__ = None  # numpy defers `array + proxy` to Proxy.__radd__
    __hash__ = object.__hash__

    def __init__(self, graph, node_id):
        self._graph = graph
        self._id = node_id
        self._value = _MISSING
        self._saved = False

    # ---- saving and the value -----------------------------------------------------------
    def save(self):
        """Keeps this value after the run; returns this proxy (its ``.value`` is filled later)."""
        if self._saved:
            return self
        save_id = self._graph.add("save", target=self._id)
        self._graph.saves[save_id] = self
        self._saved = True
        return self

    def _has_value(self):
        return self._value is not _MISSING

    @property
    def value(self):
        if self._value is _MISSING:
            if not self._saved:
                raise NNsightError(f"node {self._id} was not saved", "call .save() on it inside the trace")
            raise NNsightError(f"node {self._id} has no value yet",
                               "the value arrives when the `with` block ends (or the save did not run)")
        return self._value

    def stop(self):
        """Ends the trace as soon as this value is computed."""
        self._graph.add("stop", after=self._id)

    @property
    def shape(self):
        return self._op("shape")

    # ---- gradients ------------------------------------------------------------------------------
    def _grad_node(self):
        from .graph import active_graph
        if active_graph() is not self._graph:
            raise NNsightError(f".grad of node {self._id}, whose run has ended",
                               "use .grad inside the `with model.trace(...)` block that made the value")
        return self._graph.add("grad", target=self._id)

    @property
    def grad(self):
        """The gradient of this value in the first ``backward()`` recorded after this access (NNsight
        0.4's ``x.grad``). Nodes computed from it run during that backward pass; in-place edits of it
        (``g[:] = 0``) change the gradient that flows on."""
        return Proxy(self._graph, self._grad_node())

    @grad.setter
    def grad(self, value):
        """``x.grad = v``: the gradient that flows on from this value in the next backward pass."""
        target = self._grad_node()
        self._graph.add("swap", target=target, value=self._graph.value(value))

    # ---- recording helpers ----------------------------------------------------------------
    def _op(self, name, *args, **kwargs):
        return self._graph.op(name, (self,) + args, kwargs)

    def _rop(self, name, other):
        return self._graph.op(name, (other, self))

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        op = name if name in TENSOR_METHODS else METHOD_ALIASES.get(name)
        if op is not None:
            def method(*args, **kwargs):
                if op == "truediv" and kwargs.get("rounding_mode") is not None:
                    raise unsupported_op(f"{name}(rounding_mode=...)", "proxy method")
                kwargs.pop("rounding_mode", None)
                return self._graph.op(op, (self,) + args, kwargs)
        elif name in DTYPE_METHODS:
            def method():
                return self._graph.op("to", (self, DTYPE_METHODS[name]))
        elif name == "numpy":
            raise UnsupportedOpError("numpy", "a proxy has no numpy() while the trace is recorded",
                                     "save it; after the block .value is a numpy array")
        else:
            raise unsupported_op(name, "proxy method")
        method.__name__ = name
        return method

    # ---- torch-style helpers built from ops of the set ---------------------------------------
    def to(self, *args, **kwargs):
        """``x.to(torch.float16)``, ``x.to("float16")``, ``x.to(other)``, ``x.to("cpu")``."""
        args = tuple(_torch_dtype_name(a) for a in args)
        kwargs = {k: _torch_dtype_name(v) for k, v in kwargs.items()}
        return self._op("to", *args, **kwargs)

    def cpu(self):
        return self._op("to", "cpu")

    def dim(self):
        """The number of dimensions, as a proxy: ``len(x.shape)``."""
        return self._graph.op("len", (self._op("shape"),))

    @property
    def ndim(self):
        return self.dim()

    @property
    def T(self):
        """The transpose of a matrix (``transpose(0, 1)``; torch's ``.T`` of other ranks is deprecated)."""
        return self._op("transpose", 0, 1)

    @property
    def mT(self):
        """The transpose of the last two dimensions."""
        return self._op("transpose", -2, -1)

    @property
    def values(self):
        """``.values`` of the (values, indices) pair that max/min with a dim and topk return."""
        return self._op("getitem", 0)

    @property
    def indices(self):
        return self._op("getitem", 1)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        """``torch.softmax(x, -1)``, ``torch.cat([a, b])``, ``F.log_softmax(x, dim=-1)`` ... with proxies."""
        name = getattr(func, "__name__", str(func))
        op = TORCH_FUNCTIONS.get(name)
        if op is None:
            raise unsupported_op(f"torch.{name}", "torch function")
        # Python-level torch functions pass their defaults along: drop the unset ones.
        kwargs = {k: _torch_dtype_name(v) for k, v in (kwargs or {}).items()
                  if v is not None and not k.startswith("_") and not (k == "p" and v == "fro")}
        graph = _graph_in(args, kwargs)
        return graph.op(op, tuple(args), kwargs)

    def __getitem__(self, key):
        return self._op("getitem", key)

    def __setitem__(self, key, value):
        self._graph.op("setitem", (self, key, value))

    def __call__(self, *args, **kwargs):
        raise NNsightError("a proxy is not callable", "call modules through the model's envoys: model.lm_head(x)")

    def __bool__(self):
        raise NNsightError("the value of a proxy is not known while the trace is recorded",
                           "Python `if`/`and`/`or`/`not` cannot branch on it; compare after the run with .value")

    def __iter__(self):
        raise NNsightError("a proxy cannot be iterated while the trace is recorded", "index it: x[0], x[1], ...")

    def __len__(self):
        raise NNsightError("len() of a proxy is not known while the trace is recorded",
                           "use nnsight_client.ops.len(x) for a proxy of the length")

    def __repr__(self):
        if self._value is not _MISSING:
            return f"Proxy(node {self._id}, value={self._value!r})"
        node = self._graph.nodes[self._id]
        what = node.get("op") or node.get("key") or node.get("module") or node["kind"]
        return f"Proxy(node {self._id}: {what})"

    # ---- operators --------------------------------------------------------------------------
    def __add__(self, o): return self._op("add", o)
    def __radd__(self, o): return self._rop("add", o)
    def __sub__(self, o): return self._op("sub", o)
    def __rsub__(self, o): return self._rop("sub", o)
    def __mul__(self, o): return self._op("mul", o)
    def __rmul__(self, o): return self._rop("mul", o)
    def __truediv__(self, o): return self._op("truediv", o)
    def __rtruediv__(self, o): return self._rop("truediv", o)
    def __floordiv__(self, o): return self._op("floordiv", o)
    def __rfloordiv__(self, o): return self._rop("floordiv", o)
    def __mod__(self, o): return self._op("mod", o)
    def __rmod__(self, o): return self._rop("mod", o)
    def __pow__(self, o): return self._op("pow", o)
    def __rpow__(self, o): return self._rop("pow", o)
    def __matmul__(self, o): return self._op("matmul", o)
    def __rmatmul__(self, o): return self._rop("matmul", o)
    def __and__(self, o): return self._op("and_", o)
    def __rand__(self, o): return self._rop("and_", o)
    def __or__(self, o): return self._op("or_", o)
    def __ror__(self, o): return self._rop("or_", o)
    def __xor__(self, o): return self._op("xor_", o)
    def __rxor__(self, o): return self._rop("xor_", o)
    def __iadd__(self, o): return self._op("iadd", o)
    def __isub__(self, o): return self._op("isub", o)
    def __imul__(self, o): return self._op("imul", o)
    def __itruediv__(self, o): return self._op("itruediv", o)
    def __neg__(self): return self._op("neg")
    def __pos__(self): return self._op("pos")
    def __abs__(self): return self._op("abs")
    def __invert__(self): return self._op("invert")
    def __eq__(self, o): return self._op("eq", o)
    def __ne__(self, o): return self._op("ne", o)
    def __lt__(self, o): return self._op("lt", o)
    def __le__(self, o): return self._op("le", o)
    def __gt__(self, o): return self._op("gt", o)
    def __ge__(self, o): return self._op("ge", o)
