"""Control flow shared by traces and sessions (cond / elif_ / else_, iter, stop, log), and the Session.

    with model.session() as session:
        with model.trace("Lily went to the park"):
            clean = model.model.layers[2].output[0][:, -1].clone().save()
        with model.trace("Tom went to the shop"):
            model.model.layers[2].output[0][:, -1] = clean          # a value of the first trace
            logits = model.lm_head.output[:, -1].save()
        gap = (logits - clean.sum()).abs().save()                  # session-level op
    # all saved values arrive here, after one request

Contexts are nodes with a body range in the graph (docs/graph-format.md): ``condition``
(``else_of`` chains), ``iterator`` (first body node: its ``variable``) and ``trace``.
"""

from .errors import NNsightError
from .proxy import Proxy


class _Condition:
    def __init__(self, graph, fields):
        self._graph = graph
        self._fields = fields

    def __enter__(self):
        self._id = self._graph.open_context("condition", **self._fields)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:  # on an error the recording is abandoned: let it through unchanged
            self._graph.close_context(self._id)
            self._graph.last_condition = (self._id, self._graph.current_context())
        return False


class _Iterator:
    """``with ctx.iter(collection) as item:`` — the body runs once per item (a proxy of the loop variable)."""

    def __init__(self, graph, collection):
        self._graph = graph
        self._collection = collection

    def __enter__(self):
        g = self._graph
        self._id = g.open_context("iterator", collection=g.value(self._collection))
        g.last_condition = None
        return Proxy(g, g.add("variable"))

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self._graph.close_context(self._id)
            self._graph.last_condition = None
        return False


class ControlFlow:
    """What ``tracer`` and ``session`` share. Nodes go to the innermost open context."""

    _graph = None

    def _recording_graph(self):
        if self._graph is None:
            raise NNsightError("this context is not being recorded", "use it inside its `with` block")
        return self._graph

    def cond(self, condition):
        """``with tracer.cond(x.sum() > 0):`` — the body runs when the condition (a proxy or constant) holds."""
        g = self._recording_graph()
        return _Condition(g, {"condition": g.value(condition)})

    def _else_of(self):
        g = self._recording_graph()
        last = g.last_condition
        if last is None or last[1] != g.current_context():
            raise NNsightError("elif_/else_ must directly follow a cond (or elif_) block at the same level")
        return last[0]

    def elif_(self, condition):
        g = self._recording_graph()
        else_of = self._else_of()
        return _Condition(g, {"else_of": else_of, "condition": g.value(condition)})

    def else_(self):
        return _Condition(self._recording_graph(), {"else_of": self._else_of()})

    def iter(self, collection):
        """``with session.iter([0, 1, 2]) as item:`` — a loop over a list, tuple, dict's keys, ``range(n)``
        given as an int, a tensor's first dimension, or a proxy of one of those. The body is recorded
        once and runs once per item; ``session.stop()`` inside it ends the loop."""
        g = self._recording_graph()
        if isinstance(collection, range):
            if collection.start != 0 or collection.step != 1:
                collection = list(collection)
            else:
                collection = collection.stop
        return _Iterator(g, collection)

    def stop(self):
        """Ends the innermost trace, loop or session when reached."""
        self._recording_graph().add("stop")

    def log(self, *items):
        """Writes the items (space separated) to the job's logs when reached (``.logs`` after the run)."""
        self._recording_graph().op("print", items)

    def list(self, items=None):
        """A new list value (``nnsight.list()``); ``.append(x)`` records an append."""
        return self._recording_graph().op("list", () if items is None else (items,))

    def dict(self, items=None):
        return self._recording_graph().op("dict", () if items is None else (items,))


class Session(ControlFlow):
    """``with model.session() as session:`` — several traces and session-level control flow in one
    request. Values flow from one trace to later ones (and to session-level ops) by reference; every
    saved value arrives when the session block ends."""

    def __init__(self, model):
        self._model = model
        self._graph = None
        self.tracers = []      # the traces recorded in this session, in order
        self.document = None   # the graph document sent (after the block)
        self.result = None     # the server's result object
        self.logs = []         # lines of print nodes

    def __enter__(self):
        from .graph import Graph

        if self._model._graph is not None:
            raise NNsightError("a session or trace is already being recorded on this model",
                               "sessions do not nest and cannot start inside a trace")
        self._graph = Graph(self._model._inline_tensor_bytes)
        self._model._graph = self._graph
        self._model._session = self
        self._graph.activate()
        return self

    def __exit__(self, exc_type, exc, tb):
        g = self._graph
        self._model._graph = None
        self._model._session = None
        g.deactivate()
        if exc_type is not None:
            return False
        if g.contexts:
            raise NNsightError("a context of the session was left open")
        self.document = g.document()
        self._model._run(self, self.tracers)
        return False
