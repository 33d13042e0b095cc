"""RemoteModel and its tracer: record a trace (or a session of traces) with NNsight's syntax, run it on a server."""

import re

from . import values
from .contexts import ControlFlow, Session
from .envoy import Envoy, iteration_json
from .errors import NNsightError, RemoteError
from .graph import Graph
from .proxy import Proxy
from .tensors import DEFAULT_INLINE_TENSOR_BYTES
from .transport import Transport

_NO_INPUT = object()


def _contains_proxy(v, graph):
    """Whether v holds a proxy that is sent as a reference (not a value of an earlier, finished run)."""
    if isinstance(v, Proxy):
        return v._graph is graph or not v._has_value()
    if isinstance(v, (list, tuple)):
        return any(_contains_proxy(x, graph) for x in v)
    if isinstance(v, dict):
        return any(_contains_proxy(x, graph) for x in v.values())
    return False


class _Invoke:
    def __init__(self, tracer, input):
        self._tracer = tracer
        self._input = input

    def __enter__(self):
        t = self._tracer
        if t._has_input:
            raise NNsightError("this trace was given an input, so it has no invokes",
                               "use `with model.trace() as tracer: with tracer.invoke(...)`")
        if t._graph.batch_group != -1:
            raise NNsightError("invokes do not nest")
        if _contains_proxy(self._input, t._graph):
            raise NNsightError("an invoke's input must be a constant (a prompt, token ids, a tensor)",
                               "give a session value to the trace itself: `with model.trace(item):`")
        invokes = t._graph.nodes[t._trace_id]["invokes"]
        invokes.append(values.encode(self._input, t._graph))
        t._graph.batch_group = len(invokes) - 1
        t._graph.overrides = []  # each invoke starts from call 0 of every module, as in NNsight
        return t

    def __exit__(self, *exc):
        self._tracer._graph.batch_group = -1
        self._tracer._graph.overrides = []
        return False


_FIRST_CACHE_GROUP = 1 << 24  # batch groups past every invoke: no narrowing, no ordering (docs/graph-format.md)


class Cache:
    """Module outputs collected by ``tracer.cache(...)``, readable after the run (the C++ API's
    ``Cache``): ``outputs(path)`` = the output at every call in call order (one per generation step),
    ``output(path)`` = the first call's, ``paths()`` = the cached modules. The outputs cover the whole
    batch (every invoke's rows) and are the values the model continued with at each call."""

    def __init__(self):
        self._lists = []  # (path, saved list proxy)

    @staticmethod
    def _path_of(module):
        return module.path if isinstance(module, Envoy) else module

    def paths(self):
        return [p for p, _ in self._lists]

    def __contains__(self, module):
        return self._path_of(module) in self.paths()

    def outputs(self, module):
        """Every call's output of `module` (a path such as ``"model.layers.0"`` or an envoy)."""
        path = self._path_of(module)
        for p, values_list in self._lists:
            if p == path:
                return values_list.value
        raise NNsightError(f"module '{path}' is not in the cache",
                           "cached modules: " + ", ".join(f"'{p}'" for p in self.paths()))

    def output(self, module):
        """The output of `module` at its first call."""
        all_outputs = self.outputs(module)
        if not all_outputs:
            raise NNsightError(f"module '{self._path_of(module)}' was not called in the run",
                               "check that the model calls this module")
        return all_outputs[0]

    def __repr__(self):
        return f"Cache({len(self._lists)} modules)"


class Tracer(ControlFlow):
    """``with model.trace(input) as tracer:`` — records on enter, runs on exit (inside a
    session: records into the session, which runs every trace when it ends)."""

    def __init__(self, model, input=_NO_INPUT, strict_order=True, generate=None):
        self._model = model
        self._has_input = input is not _NO_INPUT
        self._input = input
        self._strict_order = strict_order
        self._generate = generate
        self._graph = None
        self._session = None
        self.document = None   # the graph document sent (after the block; a session's whole document)
        self.result = None     # the server's result object
        self.logs = []         # lines of print nodes (in a session: the session's)
        self.generated = None  # new token ids per row (generation traces)

    def __enter__(self):
        session = self._model._session
        if session is not None:
            g = self._graph = session._graph
            if g.open_trace != -1:
                raise NNsightError("a trace cannot start inside another trace", "traces of a session are siblings")
        else:
            if self._model._graph is not None:
                raise NNsightError("a trace is already being recorded on this model",
                                   "use model.session() to run several traces in one request")
            g = self._graph = Graph(self._model._inline_tensor_bytes)
        fields = {"inputs": [g.value(self._input)] if self._has_input else [], "invokes": [],
                  "strict_order": self._strict_order}
        if self._generate is not None:
            fields["generate"] = self._generate
        self._trace_id = g.open_context("trace", **fields)
        g.open_trace = self._trace_id
        g.last_condition = None
        g.overrides = []
        if self._has_input:
            g.batch_group = 0
        self._session = session
        if session is None:
            self._model._graph = g
            g.activate()
        return self

    def __exit__(self, exc_type, exc, tb):
        g = self._graph
        g.batch_group = -1
        g.open_trace = -1
        g.overrides = []
        if self._session is None:
            self._model._graph = None
            g.deactivate()
        if exc_type is not None:
            return False
        g.close_context(self._trace_id)
        g.last_condition = None
        if not self._has_input and not g.nodes[self._trace_id]["invokes"]:
            raise NNsightError("the trace has no input", "pass one to model.trace(...) or add tracer.invoke(...)")
        if self._session is not None:
            self._session.tracers.append(self)
            return False
        self.document = g.document()
        self._model._run(self, [self])
        return False

    def invoke(self, input):
        """``with tracer.invoke(prompt):`` — one more batch group of this trace."""
        return _Invoke(self, input)

    def cache(self, modules=None):
        """Collects the outputs of `modules` (paths or envoys; every module when omitted, containers
        such as ``model.layers`` excepted) at every call, as the C++ API's ``Tracer::cache`` (NNsight
        0.5's ``tracer.cache()``). Returns a :class:`Cache`, filled when the run ends. Each module is
        its own ordering-free batch group: the order of `modules` does not matter, and every output
        covers the whole batch."""
        g = self._graph
        if g is None or g.open_trace != self._trace_id:
            raise NNsightError("tracer.cache() is only available inside its `with model.trace(...)` block")
        tree = self._model._module_tree()
        if modules is None:
            if tree is None:
                raise NNsightError("tracer.cache() of every module needs the module tree",
                                   "use RemoteModel(validate=True) or name the modules: tracer.cache(['lm_head'])")
            # Containers (ModuleList) are never called: they would only add empty lists.
            paths = [p for p, m in tree.items() if m["type"] != "ModuleList"]
        else:
            if isinstance(modules, (str, Envoy)):
                modules = [modules]
            paths = []
            for m in modules:
                path = Cache._path_of(m)
                if not isinstance(path, str):
                    raise NNsightError(f"tracer.cache() takes module paths or envoys, not {type(m).__name__}")
                if tree is not None and path not in tree:
                    raise NNsightError(f"no module '{path}' to cache", "module paths: " + ", ".join(
                        p for p in tree if p))
                paths.append(path)
        out = Cache()
        # Every list first: a list recorded after the entry of a module that is never called would
        # wait behind that entry and never run.
        for path in paths:
            out._lists.append((path, g.op("list", ()).save()))
        every_call = iteration_json(slice(None))
        for k, (path, values_list) in enumerate(out._lists):
            entry = g.add("entry", key=f"{path}.output" if path else "output", iteration=every_call,
                          batch_group=_FIRST_CACHE_GROUP + k)
            g.op("append", (values_list, Proxy(g, entry)))
        return out


class RemoteModel(Envoy):
    """A model hosted by ``nnsight serve``.

    ``RemoteModel("http://127.0.0.1:8080", model="stories", api_key=...)``; ``model``
    may be omitted when the server hosts one model. With ``validate=True`` (default)
    the module tree is fetched once from ``/v1/models`` so that envoy paths are
    checked while recording and ``len()`` / negative indices / iteration work.
    ``numpy=False`` returns nested lists even when numpy is importable. Tensors larger than
    ``inline_tensor_bytes`` (64 KiB) are attached as a safetensors blob (a multipart request).
    """

    def __init__(self, url, model=None, api_key=None, validate=True, numpy=True, timeout=600.0,
                 inline_tensor_bytes=DEFAULT_INLINE_TENSOR_BYTES):
        super().__init__(self, "")
        for k, v in dict(_transport=Transport(url, api_key, timeout), _name=model, _validate=validate,
                         _numpy=numpy, _tree=None, _info=None, _graph=None, _session=None,
                         _inline_tensor_bytes=inline_tensor_bytes).items():
            object.__setattr__(self, k, v)

    # ---- server info ------------------------------------------------------------------------------
    def info(self):
        """This model's entry of ``GET /v1/models`` (name, architecture, config, modules)."""
        if self._info is None:
            status, body = self._transport.request("GET", "/v1/models")
            if status != 200:
                raise RemoteError(status, body.get("error", {}) if isinstance(body, dict) else {})
            models = body["models"]
            if self._name is None:
                if len(models) != 1:
                    raise NNsightError("the server hosts several models: "
                                       + ", ".join(m["name"] for m in models), "pass RemoteModel(url, model=NAME)")
                chosen = models[0]
            else:
                chosen = next((m for m in models if m["name"] == self._name), None)
                if chosen is None:
                    raise NNsightError(f"the server hosts no model '{self._name}'",
                                       "it hosts: " + ", ".join(m["name"] for m in models))
            object.__setattr__(self, "_info", chosen)
        return self._info

    @property
    def config(self):
        return self.info()["config"]

    def _module_tree(self):
        if not self._validate:
            return None
        if self._tree is None:
            tree = {m["path"]: {"type": m["type"], "parameters": m.get("parameters", {})}
                    for m in self.info()["modules"]}
            object.__setattr__(self, "_tree", tree)
        return self._tree

    # ---- tracing ----------------------------------------------------------------------------------
    def trace(self, *input, strict_order=True):
        """``with model.trace("prompt") as tracer:`` or ``with model.trace() as tracer:`` + invokes."""
        if len(input) > 1:
            raise NNsightError("model.trace takes at most one input", "use tracer.invoke(...) for several")
        return Tracer(self, input[0] if input else _NO_INPUT, strict_order)

    def generate(self, *input, max_new_tokens=1, temperature=0.0, top_k=0, top_p=1.0, seed=0, stop_at_eos=True,
                 strict_order=True):
        """A traced generation; call k of a module is step k (``envoy.iter[...]``)."""
        if len(input) > 1:
            raise NNsightError("model.generate takes at most one input", "use tracer.invoke(...) for several")
        gen = {"max_new_tokens": max_new_tokens, "temperature": float(temperature), "top_k": top_k,
               "top_p": float(top_p), "seed": seed, "stop_at_eos": stop_at_eos}
        return Tracer(self, input[0] if input else _NO_INPUT, strict_order, gen)

    def session(self):
        """``with model.session() as session:`` — several traces (and session-level ops, loops,
        conditions) recorded into one graph and run as one request when the block ends."""
        return Session(self)

    def _recording(self, what, in_trace=True):
        """The graph being recorded; `in_trace`: the value only exists inside a trace (module values)."""
        g = self._graph
        if g is None:
            raise NNsightError(f"{what} is only available inside `with model.trace(...)`"
                               + ("" if in_trace else " or `with model.session()`"))
        if in_trace and g.open_trace == -1:
            raise NNsightError(f"{what} is only available inside a trace, not at session level",
                               "open a `with model.trace(...)` block inside the session")
        return g

    def _run(self, owner, tracers):
        """Sends the document of `owner` (a Tracer or a Session); fills saves, logs and generated tokens."""
        g = owner._graph
        request = {"graph": owner.document}
        if self._name is not None:
            request["model"] = self._name
        blob = g.attachments.to_bytes() if len(g.attachments) else None
        status, body = self._transport.run(request, blob)
        if status != 200 or not isinstance(body, dict) or body.get("status") != "done":
            error = body.get("error") if isinstance(body, dict) else None
            if not isinstance(error, dict):
                error = {"code": "unexpected_answer", "message": f"unexpected answer: {str(body)[:300]}"}
            raise RemoteError(status, error, _client_location(g, error)) from None
        result = body["result"]
        owner.result = result
        owner.logs = body.get("logs", [])
        for out in result.get("outputs", {}).values():
            proxy = g.saves.get(out["node"])
            if proxy is not None:
                proxy._value = values.decode(out["value"], self._numpy)
        generated = result.get("generated", {})
        for tracer in tracers:
            tracer.document, tracer.result, tracer.logs = owner.document, result, owner.logs
            tracer.generated = generated.get(str(tracer._trace_id))


def _client_location(graph, error):
    node = error.get("node")
    if node is None:  # validation errors name a JSON path: "graph JSON at nodes[12].args"
        m = re.search(r"nodes\[(\d+)\]", error.get("where") or "")
        node = int(m.group(1)) if m else None
    if node is not None and 0 <= node < len(graph.locations):
        return graph.locations[node]
    return None
