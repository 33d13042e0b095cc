"""End-to-end test of the Python client against a real `nnsight serve` on loopback.

Results are compared exactly with `nnsight run` on the very document the client sent
(server_fixture.py starts the server).
"""

import inspect
import unittest

from server_fixture import API_KEY, ServerTestCase  # first: it puts nnsight_client on sys.path

from nnsight_client import RemoteError, RemoteModel  # noqa: E402


class ClientTest(ServerTestCase):
    def test_activation_patching(self):
        model = self.model
        with model.trace() as tracer:
            with tracer.invoke("Lily went to the park"):
                clean = model.model.layers[2].output[0][:, -1].clone().save()
                clean_logits = model.lm_head.output[:, -1].save()
            with tracer.invoke("Tom went to the shop"):
                model.model.layers[2].output[0][:, -1] = clean
                patched = model.model.layers[2].output[0][:, -1].save()
                patched_logits = model.lm_head.output[:, -1].save()
        self.assertEqual(list(clean.value.shape), [1, 64])
        self.assertEqual(list(patched_logits.value.shape), [1, 512])
        self.assertEqual(clean.value.tolist(), patched.value.tolist())  # the patch took
        self.assertNotEqual(clean_logits.value.tolist(), patched_logits.value.tolist())
        self.assert_same_as_local(tracer, [clean, clean_logits, patched, patched_logits])

        # The unpatched corrupted run differs from the patched one.
        with model.trace("Tom went to the shop") as plain:
            corrupt_logits = model.lm_head.output[:, -1].save()
        self.assertNotEqual(corrupt_logits.value.tolist(), patched_logits.value.tolist())
        self.assert_same_as_local(plain, [corrupt_logits])

    def test_logit_lens(self):
        model = self.model
        with model.trace("Once upon a time") as tracer:
            lens = [model.lm_head(model.model.norm(layer.output[0])).softmax(-1).save()
                    for layer in model.model.layers]
            logits = model.lm_head.output.save()
            probs = (logits.softmax(-1) * 1.0).save()
        self.assertEqual(len(lens), 5)
        self.assertEqual(list(lens[0].value.shape), list(logits.value.shape))
        # The last layer's lens is the model's own output distribution, computed another way.
        self.assertEqual(lens[-1].value.tolist(), probs.value.tolist())
        self.assert_same_as_local(tracer, lens + [logits, probs])

    def test_nested_lists_without_numpy(self):
        model = RemoteModel(self.url, api_key=API_KEY, numpy=False)
        with model.trace("Once upon a time"):
            h = model.model.layers[0].output[0][0, :2, :3].save()
            top = model.lm_head.output[0, -1].argmax(-1).save()
        self.assertIsInstance(top.value, int)
        self.assertEqual([len(h.value), len(h.value[0])], [2, 3])
        self.assertIsInstance(h.value[0][0], float)

    def test_bad_module_path_names_the_client_line(self):
        model = RemoteModel(self.url, api_key=API_KEY, validate=False)  # let the server find it
        line = None
        with self.assertRaises(RemoteError) as caught:
            with model.trace("Once upon a time"):
                line = inspect.currentframe().f_lineno + 1
                model.model.layers[9].output.save()
        e = caught.exception
        self.assertEqual((e.status, e.code), (422, "run_failed"))
        self.assertIn("no module named '9'", e.message)
        self.assertEqual(e.node, 1)
        self.assertEqual(e.client_location[1:], (line, "test_bad_module_path_names_the_client_line"))
        self.assertTrue(e.client_location[0].endswith("test_client.py"))
        self.assertIn(f"test_client.py:{line}", str(e))
        self.assertIn(f"test_client.py:{line}", e.location)

    def test_validated_paths_fail_while_recording(self):
        with self.assertRaises(AttributeError) as caught:
            with self.model.trace("Once upon a time"):
                self.model.model.layerz
        self.assertIn("children: embed_tokens, layers, norm", str(caught.exception))

    def test_wrong_api_key(self):
        model = RemoteModel(self.url, api_key="wrong-key-0123456789")
        with self.assertRaises(RemoteError) as caught:
            with model.trace("Once upon a time"):
                pass
        self.assertEqual((caught.exception.status, caught.exception.code), (401, "unauthorized"))

    def test_examples(self):
        import activation_patching
        import logit_lens
        import session_patching
        layers = logit_lens.logit_lens(self.model, "Once upon a time")
        self.assertEqual(len(layers), 5)
        self.assertTrue(all(0 <= t < 512 and 0 < p <= 1 for t, p in layers))
        clean, patched = activation_patching.patch(self.model, 4)
        self.assertEqual(clean.tolist(), patched.tolist())  # patching the last layer's last token
        target, recovered, per_layer = session_patching.patch_all(self.model)
        self.assertEqual(target, int(clean[0].argmax()))
        self.assertEqual(len(recovered), 5)
        self.assertEqual(recovered[-1], 1.0)  # the last layer's patch restores the clean logits
        _, batched = activation_patching.patch(self.model, 2)  # the same patch, as two invokes of one trace
        self.assertLess(float(abs(per_layer[2] - batched[0]).max()), 1e-4)


if __name__ == "__main__":
    unittest.main()
