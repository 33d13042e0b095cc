"""`.next()`, gradients (`.grad`, `.grad = v`, `backward()`) and `tracer.cache(...)` end to end.

Every run is compared exactly with `nnsight run` on the document the client sent (every saved value,
nested lists and tuples included), and with an independent computation: the same values reached
another way (`.iter[k]`, plain `.output` saves, solo runs, the generated tokens) or numpy
(d sum(logits) / d norm output = the column sums of lm_head's weight).
"""

import unittest

from server_fixture import ServerTestCase, flat_of  # first: it puts nnsight_client on sys.path

from nnsight_client import Cache, NNsightError, ops  # noqa: E402

PROMPT = "Once upon a time"
OTHER_IDS = [[1, 403, 407, 261, 100]]  # as many tokens as PROMPT: no padding between invokes
TOKEN = 42


def entries(document):
    """(key, iteration, batch_group) of every entry node of a document."""
    return [(n["key"], n["iteration"], n["batch_group"]) for n in document["nodes"] if n["kind"] == "entry"]


def leaves(value, key):
    """(name, leaf) pairs named as `nnsight run --out` names them: "id", "id.k", "id.k.j", ..."""
    if isinstance(value, (list, tuple)):
        out = []
        for k, item in enumerate(value):
            out += leaves(item, f"{key}.{k}")
        return out
    if isinstance(value, dict):
        out = []
        for k, item in value.items():
            out += leaves(item, f"{key}.{k}")
        return out
    if value is None or isinstance(value, str):
        return []  # nothing a tensor file holds
    return [(key, value)]


class IterationGradCacheTest(ServerTestCase):
    def assert_exactly_as_local(self, owner, saved):
        """Every saved value (at any nesting) equals `nnsight run`'s bit for bit, and nothing else was saved."""
        g = owner._graph
        self.assert_valid_document(owner.document)
        local = self.run_locally(owner.document, g.attachments.to_bytes() if len(g.attachments) else None)
        compared = set()
        for proxy in saved:
            save_id = next(k for k, p in g.saves.items() if p is proxy)
            for key, leaf in leaves(proxy.value, str(save_id)):
                if isinstance(leaf, (bool, int, float)):
                    got, got_shape = [leaf], []
                else:
                    got, got_shape = flat_of(leaf)
                local_key = int(key) if key.isdigit() else key
                self.assertIn(local_key, local, f"nnsight run saved no {key}")
                _, shape, flat = local[local_key]
                self.assertEqual(got_shape, shape, f"save {key}")
                self.assertEqual(got, flat, f"save {key} differs from nnsight run")
                compared.add(local_key)
        self.assertEqual(set(local), compared)

    # ---- .next() ------------------------------------------------------------------------------
    def test_next_walks_the_generation_steps(self):
        model = self.model
        with model.generate(PROMPT, max_new_tokens=3) as gen:
            h0 = model.model.layers[0].output[0].save()
            t0 = model.lm_head.output[0, -1].argmax(-1).save()
            h1 = model.model.layers[0].next().output[0].save()
            t1 = model.lm_head.next().output[0, -1].argmax(-1).save()  # lm_head was not advanced by layers[0]
            t2 = model.lm_head.next().output[0, -1].argmax(-1).save()
        self.assertEqual([int(t0.value), int(t1.value), int(t2.value)], gen.generated[0])
        self.assertEqual(entries(gen.document), [("model.layers.0.output", 0, 0), ("lm_head.output", 0, 0),
                                                 ("model.layers.0.output", 1, 0), ("lm_head.output", 1, 0),
                                                 ("lm_head.output", 2, 0)])
        self.assert_exactly_as_local(gen, [h0, h1, t0, t1, t2])

        # The same steps through .iter[k] (the explicit form) and .all().
        with model.generate(PROMPT, max_new_tokens=3):
            e0 = model.model.layers[0].iter[0].output[0].save()
            e1 = model.model.layers[0].iter[1].output[0].save()
        with model.generate(PROMPT, max_new_tokens=3) as every_step:
            every = every_step.list().save()
            every.append(model.lm_head.all().output[0, -1].argmax(-1))
        self.assertEqual(h0.value.tolist(), e0.value.tolist())
        self.assertEqual(h1.value.tolist(), e1.value.tolist())
        self.assertNotEqual(h0.value.shape, h1.value.shape)          # the prompt, then one new token
        self.assertEqual([int(t) for t in every.value], gen.generated[0])

    def test_next_n_model_next_and_iter_scopes(self):
        model = self.model
        with model.generate(PROMPT, max_new_tokens=4) as gen:
            a = model.lm_head.next(2).output[0, -1].argmax(-1).save()   # step 2
            b = model.lm_head.next().output[0, -1].argmax(-1).save()    # step 3
        self.assertEqual([int(a.value), int(b.value)], gen.generated[0][2:4])
        self.assertEqual([e[1] for e in entries(gen.document)], [2, 3])
        self.assert_exactly_as_local(gen, [a, b])

        with model.generate(PROMPT, max_new_tokens=4) as gen:
            model.next()                                                # the root: every module moves to step 1
            h = model.model.layers[1].output[0].save()
            t = model.lm_head.output[0, -1].argmax(-1).save()
            with model.lm_head.iter[2]:                                 # a scoped step, then back to step 1
                u = model.lm_head.output[0, -1].argmax(-1).save()
                v = model.lm_head.next().output[0, -1].argmax(-1).save()  # next() inside the scope: step 3 ...
            w = model.lm_head.output[0, -1].save()                      # ... dropped when the scope ends
        # w reads step 1 again: the entry of t (one entry per module value and place, as in NNsight).
        self.assertEqual([e[1] for e in entries(gen.document)], [1, 1, 2, 3])
        self.assertEqual([int(t.value), int(u.value)], gen.generated[0][1:3])
        self.assertEqual(int(v.value), gen.generated[0][3])
        self.assertEqual(int(w.value.argmax()), int(t.value))
        self.assertEqual(list(h.value.shape), [1, 1, 64])
        self.assert_exactly_as_local(gen, [h, t, u, v, w])

    def test_next_with_an_edit_equals_the_iter_form(self):
        model = self.model
        with model.generate(PROMPT, max_new_tokens=3) as plain:
            pass
        with model.generate(PROMPT, max_new_tokens=3) as by_next:
            model.model.layers[0].next().output[0][:] = 0               # step 1 only
            logits = model.lm_head.next().output.save()
        with model.generate(PROMPT, max_new_tokens=3) as by_iter:
            model.model.layers[0].iter[1].output[0][:] = 0
            same = model.lm_head.iter[1].output.save()
        self.assertEqual(by_next.generated, by_iter.generated)
        self.assertEqual(logits.value.tolist(), same.value.tolist())
        self.assertEqual(by_next.generated[0][0], plain.generated[0][0])  # step 0 untouched
        self.assertNotEqual(by_next.generated, plain.generated)
        self.assert_exactly_as_local(by_next, [logits])

    def test_next_restarts_at_each_invoke_and_in_sessions(self):
        model = self.model
        with model.generate(max_new_tokens=2) as gen:
            with gen.invoke(PROMPT):
                a = model.lm_head.next().output[0, -1].argmax(-1).save()
            with gen.invoke(PROMPT):
                b = model.lm_head.output[0, -1].argmax(-1).save()        # step 0 again
        self.assertEqual(entries(gen.document), [("lm_head.output", 1, 0), ("lm_head.output", 0, 1)])
        self.assertEqual([int(b.value), int(a.value)], gen.generated[1])
        self.assert_exactly_as_local(gen, [a, b])

        with model.session() as session:
            with model.generate(PROMPT, max_new_tokens=2) as in_session:
                c = model.lm_head.next().output[0, -1].argmax(-1).save()
            with model.trace(PROMPT):
                d = model.lm_head.output[0, -1].argmax(-1).save()        # a new trace: step 0
        self.assertEqual(int(c.value), in_session.generated[0][1])
        self.assertEqual(entries(session.document)[-1], ("lm_head.output", 0, 0))
        self.assertEqual(int(d.value), in_session.generated[0][0])
        self.assert_exactly_as_local(session, [c, d])

    def test_next_errors(self):
        model = self.model
        with self.assertRaises(NNsightError) as caught:
            with model.generate(PROMPT, max_new_tokens=2):
                model.lm_head.all().next()
        self.assertIn("single current call", str(caught.exception))
        with self.assertRaises(NNsightError):
            model.lm_head.next()                                        # outside a trace
        with self.assertRaises(NNsightError):
            with model.generate(PROMPT, max_new_tokens=2):
                with model.lm_head:                                     # only iter[...] / all() are contexts
                    pass

    # ---- gradients --------------------------------------------------------------------------------
    def test_grad_of_the_logit_sum_is_the_unembedding_column_sum(self):
        model = self.model
        with model.trace(PROMPT) as tracer:
            hidden_grad = model.model.layers[3].output[0].grad.save()
            norm_grad = model.model.norm.output.grad.save()
            model.lm_head.output.sum().backward()
            weight = model.lm_head.weight.save()
        kinds = [n["kind"] for n in tracer.document["nodes"]]
        self.assertEqual(kinds.count("grad"), 2)
        self.assertIn("backward", [n.get("op") for n in tracer.document["nodes"]])
        # d sum(h @ W.T) / d h = the column sums of W at every position (numpy, float64).
        expected = weight.value.astype("float64").sum(0)
        self.assertEqual(list(norm_grad.value.shape), [1, 5, 64])
        err = abs(norm_grad.value - expected).max()
        self.assertLess(float(err), 1e-5 * float(abs(expected).max()) + 1e-6)
        self.assertGreater(float(abs(hidden_grad.value).max()), 0.0)
        self.assert_exactly_as_local(tracer, [norm_grad, hidden_grad, weight])

    def test_grad_edits_and_swaps(self):
        model = self.model
        with model.trace(PROMPT) as plain:
            g2 = model.model.layers[2].output[0].grad.save()
            model.lm_head.output[0, -1, TOKEN].backward()
        with model.trace(PROMPT) as doubled:                            # NNsight 0.4's test_grad_setting
            g2_doubled = model.model.layers[2].output[0].grad.save()
            h3 = model.model.layers[3].output[0]
            g3 = h3.grad.clone().save()
            h3.grad = h3.grad.clone() * 2
            g3_after = h3.grad.save()
            model.lm_head.output[0, -1, TOKEN].backward()
        self.assert_exactly_as_local(plain, [g2])
        swaps = [n for n in doubled.document["nodes"] if n["kind"] == "swap"]
        self.assertEqual(len(swaps), 1)
        self.assertEqual(doubled.document["nodes"][swaps[0]["target"]]["kind"], "grad")
        self.assertEqual((g3.value * 2).tolist(), g3_after.value.tolist())
        # Everything reaching layer 2 flows through layer 3's output, and backward is linear.
        self.assertLess(float(abs(g2_doubled.value - 2 * g2.value).max()), 1e-6 * float(abs(g2.value).max()))
        self.assert_exactly_as_local(doubled, [g2_doubled, g3, g3_after])

        with model.trace(PROMPT) as zeroed:                             # NNsight 0.4's test_grad
            g2_zero = model.model.layers[2].output[0].grad.save()       # backward reaches layer 3 first
            grad = model.model.layers[3].output[0].grad.save()
            grad[:] = 0                                                 # in place: the gradient that flows on
            model.lm_head.output[0, -1, TOKEN].backward()
        self.assertEqual(float(abs(grad.value).max()), 0.0)
        self.assertEqual(float(abs(g2_zero.value).max()), 0.0)
        self.assert_exactly_as_local(zeroed, [g2_zero, grad])
        with model.trace(PROMPT) as swapped:
            g2_swapped = model.model.layers[2].output[0].grad.save()
            h3 = model.model.layers[3].output[0]
            h3.grad = ops.zeros_like(h3.grad)
            model.lm_head.output[0, -1, TOKEN].backward()
        self.assertEqual(float(abs(g2_swapped.value).max()), 0.0)
        self.assert_exactly_as_local(swapped, [g2_swapped])

    def test_multi_grad_and_invokes(self):
        model = self.model
        with model.trace(PROMPT) as tracer:                             # NNsight 0.4's test_multi_grad
            h = model.model.layers[-1].output[0]
            logits = model.lm_head.output
            grad1 = h.grad.save()
            logits.sum().backward(retain_graph=True)
            grad2 = h.grad.save()
            (logits * 2).sum().backward()
        self.assertNotEqual(grad1.value.tolist(), grad2.value.tolist())
        self.assertLess(float(abs(grad2.value - 2 * grad1.value).max()), 1e-6 * float(abs(grad1.value).max()))
        self.assert_exactly_as_local(tracer, [grad1, grad2])

        solo = []
        for prompt in (PROMPT, OTHER_IDS):
            with model.trace(prompt):
                solo.append(model.model.layers[3].output[0].grad.save())
                model.lm_head.output[0, -1, TOKEN].backward()
        with model.trace() as tracer:                                   # each invoke gets its own rows' gradient
            with tracer.invoke(PROMPT):
                a = model.model.layers[3].output[0].grad.save()
                model.lm_head.output[0, -1, TOKEN].backward()
            with tracer.invoke(OTHER_IDS):
                b = model.model.layers[3].output[0].grad.save()
                model.lm_head.output[0, -1, TOKEN].backward()
        self.assertLess(float(abs(a.value - solo[0].value).max()), 1e-6)
        self.assertLess(float(abs(b.value - solo[1].value).max()), 1e-6)
        self.assertNotEqual(a.value.tolist(), b.value.tolist())
        self.assert_exactly_as_local(tracer, [a, b])

    def test_grad_errors(self):
        model = self.model
        with model.trace(PROMPT):
            h = model.lm_head.output.save()
        with self.assertRaises(NNsightError) as caught:
            with model.trace(PROMPT):
                h.grad                                                  # a proxy of a finished run
        self.assertIn("run has ended", str(caught.exception))

    # ---- tracer.cache ------------------------------------------------------------------------------
    def test_cache_every_module(self):
        model = self.model
        with model.trace(PROMPT) as tracer:
            cache = tracer.cache()
            h2 = model.model.layers[2].output[0].save()                 # other entries of the trace are unaffected
        self.assertIsInstance(cache, Cache)
        paths = cache.paths()
        self.assertEqual(paths[:3], ["", "model", "model.embed_tokens"])
        self.assertNotIn("model.layers", paths)                         # a container is never called
        self.assertIn("model.layers.4.mlp.act_fn", paths)
        self.assertTrue(all(len(cache.outputs(p)) == 1 for p in paths))
        self.assertEqual(cache.output("model.layers.2")[0].tolist(), h2.value.tolist())
        self.assertEqual(cache.output(model.model.layers[2])[0].tolist(), h2.value.tolist())  # by envoy
        self.assertIn(model.lm_head, cache)

        # The same values as plain .output accesses of another trace.
        with model.trace(PROMPT):
            q = model.model.layers[1].self_attn.q_proj.output.save()
            norm = model.model.norm.output.save()
            logits = model.output.save()
        self.assertEqual(cache.output("model.norm").tolist(), norm.value.tolist())
        self.assertEqual(cache.output("model.layers.1.self_attn.q_proj").tolist(), q.value.tolist())
        self.assertEqual(cache.output("").tolist(), logits.value.tolist())
        self.assertEqual(cache.output("lm_head").tolist(), logits.value.tolist())
        self.assert_exactly_as_local(tracer, [values for _, values in cache._lists] + [h2])

        with self.assertRaises(NNsightError) as caught:
            cache.outputs("model.layers")
        self.assertIn("not in the cache", str(caught.exception))

    def test_cache_in_generation_and_with_invokes(self):
        model = self.model
        with model.generate(PROMPT, max_new_tokens=3) as gen:
            cache = gen.cache(["lm_head", model.model.layers[0]])      # paths or envoys, any order
            model.model.layers[0].output[0][:, -1] = 0                  # an edit at step 0: the cache sees it
        steps = cache.outputs("lm_head")
        self.assertEqual(len(steps), 3)
        self.assertEqual([int(s[0, -1].argmax()) for s in steps], gen.generated[0])
        self.assertEqual(float(abs(cache.output("model.layers.0")[0][0, -1]).max()), 0.0)
        self.assertEqual([list(s[0].shape) for s in cache.outputs("model.layers.0")],
                         [[1, 5, 64], [1, 1, 64], [1, 1, 64]])
        self.assertEqual(cache.paths(), ["lm_head", "model.layers.0"])
        self.assertEqual([e[2] for e in entries(gen.document)][:2], [1 << 24, (1 << 24) + 1])
        self.assert_exactly_as_local(gen, [values for _, values in cache._lists])

        with model.trace() as tracer:                                   # the whole batch: every invoke's rows
            cache = tracer.cache("lm_head")
            with tracer.invoke(PROMPT):
                first = model.lm_head.output.save()
            with tracer.invoke(OTHER_IDS):
                second = model.lm_head.output.save()
        batch = cache.output("lm_head")
        self.assertEqual(list(batch.shape), [2, 5, 512])
        self.assertEqual(batch[0:1].tolist(), first.value.tolist())
        self.assertEqual(batch[1:2].tolist(), second.value.tolist())
        self.assert_exactly_as_local(tracer, [cache._lists[0][1], first, second])

        with self.assertRaises(NNsightError) as caught:
            with model.trace(PROMPT) as tracer:
                tracer.cache(["model.layerz.0"])
        self.assertIn("no module 'model.layerz.0'", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
