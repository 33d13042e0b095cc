"""Attached tensors (safetensors blob in a multipart request), the tensor methods NNsight users call
on proxies, and the errors for ops the server lacks. Compared with numpy and exactly with `nnsight run`."""

import inspect
import json
import struct
import unittest

import numpy as np
from server_fixture import API_KEY, ServerTestCase  # first: it puts nnsight_client on sys.path

from nnsight_client import RemoteError, RemoteModel, UnsupportedOpError, ops, tensor  # noqa: E402
from nnsight_client.tensors import Attachments  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the client does not need torch; only the torch-function tests do
    torch = None

PROMPT = "Once upon a time"


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class AttachmentsTest(unittest.TestCase):
    def test_safetensors_bytes(self):
        blob = Attachments()
        a = np.arange(6, dtype=np.float32).reshape(2, 3)
        self.assertEqual(blob.attach(a, "float32", a.shape), "t0")
        self.assertEqual(blob.attach(a, "float32", a.shape), "t0")                 # stored once
        self.assertEqual(blob.attach(tensor([1, 2]), "int64", [2]), "t1")         # without numpy
        raw = blob.to_bytes()
        (n,) = struct.unpack_from("<Q", raw)
        self.assertEqual((8 + n) % 8, 0)                                            # data 8-byte aligned
        header = json.loads(raw[8:8 + n])
        self.assertEqual(header["t0"], {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]})
        self.assertEqual(header["t1"], {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]})
        self.assertEqual(list(struct.unpack_from("<6f", raw, 8 + n)), [0, 1, 2, 3, 4, 5])
        self.assertEqual(list(struct.unpack_from("<2q", raw, 8 + n + 24)), [1, 2])

    def test_tensor_from_nested_lists(self):
        t = tensor([[1.0, 2.0], [3.0, 4.0]])
        self.assertEqual((t.dtype, t.shape, t.flat), ("float32", (2, 2), [1.0, 2.0, 3.0, 4.0]))
        self.assertEqual(tensor([[1, 2]]).dtype, "int64")
        self.assertEqual(tensor([True, False]).dtype, "bool")
        self.assertEqual(tensor([1, 2], dtype="float16").flat, [1.0, 2.0])
        with self.assertRaises(Exception):
            tensor([[1.0], [2.0, 3.0]])  # ragged


class TensorsAndOpsTest(ServerTestCase):
    def test_attached_100k_tensor(self):
        model = self.model
        w = np.random.default_rng(0).standard_normal((64, 400)).astype(np.float32)   # 102400 bytes
        small = np.linspace(-1, 1, 64, dtype=np.float32)                             # 256 bytes: inline
        with model.trace(PROMPT) as tracer:
            h = model.model.layers[2].output[0].save()
            proj = (h @ w).save()
            again = (h @ w).sum().save()                                              # the same array again
            model.model.layers[3].output[0][:] += small
            steered = model.model.layers[3].output[0].save()
        text = json.dumps(tracer.document)
        self.assertEqual(text.count('"blob": "t0"'), 2)
        self.assertNotIn('"t1"', text)
        self.assertEqual(len(tracer._graph.attachments), 1)
        self.assertIn('"data": [-1.0', text)                                          # small one inline
        np.testing.assert_allclose(proj.value, h.value @ w, rtol=1e-5, atol=1e-5)
        self.assertAlmostEqual(float(again.value), float(proj.value.sum()), delta=1e-2)
        self.assert_same_as_local(tracer, [h, proj, again, steered])

        # Nested lists through nnsight_client.tensor (no numpy needed): the same blob bytes, same values.
        with model.trace(PROMPT) as lists:
            proj2 = (model.model.layers[2].output[0] @ tensor(w.tolist())).save()
        self.assertEqual(lists._graph.attachments.to_bytes(), tracer._graph.attachments.to_bytes())
        self.assertEqual(proj2.value.tolist(), proj.value.tolist())

    def test_attached_unembedding_swap(self):
        """A 128 KiB matrix both ways: the lm_head weight comes back, is sent as an attached tensor,
        and replaces lm_head's output (the logits of a doubled unembedding)."""
        model = self.model
        with model.trace(PROMPT):
            weight = model.lm_head.weight.save()
        w2 = weight.value * 2
        self.assertEqual(w2.nbytes, 512 * 64 * 4)
        with model.trace(PROMPT) as tracer:
            normed = model.model.norm.output.save()
            model.lm_head.output = normed @ w2.T
            logits = model.lm_head.output.save()
        self.assertIn('"blob"', json.dumps(tracer.document))
        np.testing.assert_allclose(logits.value, normed.value @ w2.T, rtol=1e-5, atol=1e-4)
        self.assert_same_as_local(tracer, [normed, logits])

    def test_tensor_methods(self):
        model = self.model
        with model.trace(PROMPT) as tracer:
            h = model.model.layers[2].output[0].save()
            r = {
                "sum": h.sum(dim=-1), "sum_keep": h.sum(-1, keepdim=True), "mean": h.mean(dim=(0, 1)),
                "norm": h.norm(dim=-1), "softmax": h.softmax(-1), "log_softmax": h.log_softmax(dim=-1),
                "argmax": h.argmax(dim=-1), "topk": h.topk(3, dim=-1).values, "topk_i": h.topk(3).indices,
                "abs": abs(h), "max": h.max(dim=-1).values, "argmin": h.min(-1)[1], "max_all": h.max(),
                "matmul": h[0] @ h[0].T, "gt": h > 0, "eq": h.argmax(-1) == 3, "le": h.le(0.5),
                "list_index": h[:, [0, 2]], "none_index": h[None, ..., 1], "ellipsis": h[..., -1],
                "cat": ops.cat([h, h], dim=1), "stack": ops.stack([h, h]), "where": ops.where(h > 0, h, 0.0),
                "double": h.double(), "dim": h.dim(), "last_size": h.shape[-1], "div": h.div(2),
                "pow": h ** 2, "exp": (h - h.max()).exp(), "mT": h.mT, "transpose": h.transpose(1, 2),
            }
            for v in r.values():
                v.save()
        x = h.value.astype(np.float64)
        close = lambda got, want: np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)  # noqa: E731
        v = {k: p.value for k, p in r.items()}
        close(v["sum"], x.sum(-1))
        close(v["sum_keep"], x.sum(-1, keepdims=True))
        close(v["mean"], x.mean((0, 1)))
        close(v["norm"], np.linalg.norm(x, axis=-1))
        close(v["softmax"], softmax(x))
        close(v["log_softmax"], np.log(softmax(x)))
        self.assertEqual(v["argmax"].tolist(), x.argmax(-1).tolist())
        close(v["topk"], -np.sort(-x, -1)[..., :3])
        self.assertEqual(v["topk_i"].tolist(), np.argsort(-x, -1, kind="stable")[..., :3].tolist())
        close(v["abs"], abs(x))
        close(v["max"], x.max(-1))
        self.assertEqual(v["argmin"].tolist(), x.argmin(-1).tolist())
        close(v["max_all"], x.max())
        close(v["matmul"], x[0] @ x[0].T)
        self.assertEqual(v["gt"].tolist(), (x > 0).tolist())
        self.assertEqual(v["eq"].tolist(), (x.argmax(-1) == 3).tolist())
        self.assertEqual(v["le"].tolist(), (h.value <= 0.5).tolist())
        close(v["list_index"], x[:, [0, 2]])
        close(v["none_index"], x[None, ..., 1])
        close(v["ellipsis"], x[..., -1])
        close(v["cat"], np.concatenate([x, x], 1))
        close(v["stack"], np.stack([x, x]))
        close(v["where"], np.where(x > 0, x, 0.0))
        self.assertEqual(v["double"].dtype, np.float64)
        self.assertEqual((v["dim"], v["last_size"]), (3, 64))
        close(v["div"], x / 2)
        close(v["pow"], x ** 2)
        close(v["exp"], np.exp(x - x.max()))
        close(v["mT"], np.swapaxes(x, -2, -1))
        close(v["transpose"], np.swapaxes(x, 1, 2))
        self.assert_same_as_local(tracer, [h] + list(r.values()))

    @unittest.skipIf(torch is None, "torch is not installed")
    def test_torch_functions_on_proxies(self):
        model = self.model
        with model.trace(PROMPT) as tracer:
            h = model.model.layers[2].output[0]
            a = torch.softmax(h, dim=-1).save()
            b = F.log_softmax(h, -1).save()
            c = torch.cat([h, h], dim=0).save()
            d = torch.norm(h, dim=-1).save()
            e = torch.max(h, dim=-1).indices.save()
            f = h.to(torch.float64).save()
            ref = h.softmax(-1).save()
        t = torch.tensor(a.value)
        self.assertEqual(a.value.tolist(), ref.value.tolist())
        self.assertTrue(torch.allclose(torch.tensor(b.value), t.log(), atol=1e-5))
        self.assertEqual(list(c.value.shape), [2, 5, 64])
        self.assertEqual(list(d.value.shape), [1, 5])
        self.assertEqual(e.value.tolist(), torch.tensor(c.value[:1]).argmax(-1).tolist())
        self.assertEqual(f.value.dtype, np.float64)
        self.assert_same_as_local(tracer, [a, b, c, d, e, f, ref])

        with self.assertRaises(UnsupportedOpError) as caught:
            with model.trace(PROMPT):
                torch.tanh(model.lm_head.output)
        self.assertIn("'torch.tanh'", str(caught.exception))

    def test_unknown_ops_fail_while_recording(self):
        model = self.model
        with self.assertRaises(UnsupportedOpError) as caught:
            with model.trace(PROMPT):
                model.lm_head.output.sqrt()
        self.assertEqual(caught.exception.op, "sqrt")
        self.assertIn("'sqrt' is not in the server's op set", str(caught.exception))
        self.assertIn("x ** 0.5", str(caught.exception))
        self.assertIsNone(model._graph)  # the failed recording was dropped
        with model.trace(PROMPT) as tracer:
            out = model.lm_head.output
            self.assertFalse(hasattr(out, "argmin"))
            with self.assertRaises(UnsupportedOpError) as caught:
                ops.logsumexp(out, -1)
            self.assertIn("'logsumexp'", str(caught.exception))
            with self.assertRaises(UnsupportedOpError):
                out.div(2, rounding_mode="floor")
            out.save()
        self.assertNotIn("sqrt", json.dumps(tracer.document))

    def test_server_error_names_the_line_in_a_session(self):
        model = RemoteModel(self.url, api_key=API_KEY)
        line = None
        with self.assertRaises(RemoteError) as caught:
            with model.session():
                with model.trace(PROMPT):
                    h = model.model.layers[0].output[0]
                with model.trace(PROMPT):
                    line = inspect.currentframe().f_lineno + 1
                    model.lm_head.output[:, 0] = h[:, 99]                  # 5 positions only
        e = caught.exception
        self.assertEqual((e.status, e.code), (422, "run_failed"))
        self.assertIn("out of bounds", e.message)
        self.assertEqual(e.client_location[1:], (line, "test_server_error_names_the_line_in_a_session"))
        self.assertIn(f"test_tensors_ops.py:{line}", str(e))


if __name__ == "__main__":
    unittest.main()
