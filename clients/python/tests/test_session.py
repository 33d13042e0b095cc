"""Sessions end to end: several traces in one request, values flowing between them, loops and
conditions at session level. Every session is also run with `nnsight run` and compared exactly."""

import json
import unittest

from server_fixture import ServerTestCase  # first: it puts nnsight_client on sys.path

from nnsight_client import NNsightError, ops  # noqa: E402

CLEAN = "Lily went to the park"
CORRUPT = "Tom went to the shop"
PROMPTS = ["Once upon a time", "Lily went to the park", "Tom had a big red ball"]


class SessionTest(ServerTestCase):
    def test_patching_across_traces(self):
        model = self.model
        with model.session() as session:
            with model.trace(CLEAN):
                resid = model.model.layers[1].output[0][:, -1].clone()          # not saved: only flows
                clean = model.model.layers[2].output[0][:, -1].clone().save()   # saved: flows and comes back
                clean_logits = model.lm_head.output[:, -1].save()
            with model.trace(CORRUPT):
                model.model.layers[2].output[0][:, -1] = clean                   # a value of the first trace
                patched = model.model.layers[2].output[0][:, -1].save()
                patched_logits = model.lm_head.output[:, -1].save()
            gap = (patched_logits - clean_logits).abs().max().save()            # session-level ops
            norm = (resid * 1.0).norm().save()
        self.assertEqual([n["kind"] for n in session.document["nodes"]].count("trace"), 2)
        self.assertEqual(clean.value.tolist(), patched.value.tolist())  # the patch took
        self.assertAlmostEqual(float(gap.value), float(abs(patched_logits.value - clean_logits.value).max()), 5)
        self.assertGreater(float(norm.value), 0.0)
        self.assert_same_as_local(session, [clean, clean_logits, patched, patched_logits, gap, norm])

        # The same computation in one trace, the clean value sent as a constant: equal exactly.
        with model.trace(CORRUPT) as one_trace:
            model.model.layers[2].output[0][:, -1] = clean  # a saved value of the finished session
            one_trace_logits = model.lm_head.output[:, -1].save()
        self.assertIn('"tensor"', json.dumps(one_trace.document))
        self.assertEqual(one_trace_logits.value.tolist(), patched_logits.value.tolist())
        with model.trace(CORRUPT):
            corrupt_logits = model.lm_head.output[:, -1].save()
        self.assertNotEqual(corrupt_logits.value.tolist(), patched_logits.value.tolist())

    def test_iter_over_prompts(self):
        model = self.model
        with model.session() as session:
            tops = session.list().save()
            logits = session.list().save()
            with session.iter(PROMPTS) as prompt:
                with model.trace(prompt):                                       # the loop item as the input
                    last = model.lm_head.output[0, -1]
                    tops.append(last.argmax(-1))
                    logits.append(last)
                session.log("prompt:", prompt)
            count = ops.len(tops).save()
        kinds = [n["kind"] for n in session.document["nodes"]]
        self.assertEqual(kinds.count("trace"), 1)   # recorded once, run once per prompt
        self.assertEqual(kinds[kinds.index("iterator") + 1], "variable")
        self.assertEqual(count.value, 3)
        self.assertEqual(session.logs, [f"prompt: {p}" for p in PROMPTS])
        for k, prompt in enumerate(PROMPTS):                                    # one trace per prompt
            with model.trace(prompt):
                alone = model.lm_head.output[0, -1].save()
            self.assertEqual(logits.value[k].tolist(), alone.value.tolist())
            self.assertEqual(int(tops.value[k]), int(alone.value.argmax()))
        self.assert_same_as_local(session, [tops, logits, count])

    def test_session_control_flow(self):
        """NNsight 0.4's test_sequential_graph_based_context_exit and test_nested_iterator, plus elif/else."""
        model = self.model
        with model.session() as session:
            seq = session.list().save()
            seq.append(0)
            with session.iter([1, 2, 3, 4]) as item:
                with session.cond(item == 3):
                    session.stop()                                              # ends the loop only
                seq.append(item)
            seq.append(5)
            branches = session.list().save()
            with session.iter(range(3)) as k:
                with session.cond(k == 0):
                    branches.append("zero")
                with session.elif_(k == 1):
                    branches.append("one")
                with session.else_():
                    branches.append(k * 10)
            nested = session.list().save()
            lists = session.list([[0], [1], [2]])
            with session.iter(lists) as inner:
                with session.iter(inner) as x:
                    nested.append(x)
            session.stop()                                                      # ends the session
            seq.append(6)
        self.assertEqual(seq.value, [0, 1, 2, 5])
        self.assertEqual(branches.value, ["zero", "one", 20])
        self.assertEqual(nested.value, [0, 1, 2])

    def test_loop_inside_a_trace(self):
        model = self.model
        with model.trace(PROMPTS[0]) as tracer:
            h = model.model.layers[1].output[0].save()
            sums = tracer.list().save()
            with tracer.iter(range(3)) as i:                                     # NNsight 0.4's tracer.iter
                with tracer.cond(i != 1):
                    sums.append(h[0, i].sum())
        self.assertEqual(len(sums.value), 2)
        for got, position in zip(sums.value, [0, 2]):
            self.assertAlmostEqual(float(got), float(h.value[0, position].astype("float64").sum()), places=4)
        self.assert_same_as_local(tracer, [h, sums])

    def test_trace_under_session_cond_and_values_between_traces(self):
        model = self.model
        with model.session() as session:
            with model.trace(CLEAN):
                top = model.lm_head.output[0, -1].argmax(-1).save()
            with session.cond(top >= 0):                                         # true: the trace runs
                with model.trace(CORRUPT) as taken:
                    model.model.layers[0].output[0][:] = 0
                    zeroed = model.model.layers[0].output[0].save()
            with session.cond(top < 0):                                          # false: it does not
                with model.trace(CORRUPT):
                    skipped = model.lm_head.output.save()
        self.assertEqual(float(abs(zeroed.value).max()), 0.0)
        with self.assertRaises(NNsightError):
            skipped.value
        self.assertIs(taken.document, session.document)

    def test_generate_in_session(self):
        model = self.model
        with model.session():
            with model.generate("Once upon a time", max_new_tokens=3) as gen:
                steps = gen.list().save()
                steps.append(model.lm_head.all().output[0, -1].argmax(-1))     # every generation step
            with model.trace("Once upon a time"):
                first = model.lm_head.output[0, -1].argmax(-1).save()
        with model.generate("Once upon a time", max_new_tokens=3) as alone:
            pass
        self.assertEqual(gen.generated, alone.generated)
        self.assertEqual(len(gen.generated[0]), 3)
        self.assertEqual(gen.generated[0][0], int(first.value))
        self.assertEqual([int(t) for t in steps.value], gen.generated[0])

    def test_session_errors(self):
        model = self.model
        with self.assertRaises(NNsightError) as caught:
            with model.session():
                model.lm_head.output
        self.assertIn("not at session level", str(caught.exception))
        with self.assertRaises(NNsightError) as caught:
            with model.session() as session:
                with session.iter(PROMPTS) as prompt:
                    with model.trace() as tracer:
                        with tracer.invoke(prompt):
                            pass
        self.assertIn("invoke's input must be a constant", str(caught.exception))
        with self.assertRaises(NNsightError):
            with model.session():
                with model.session():
                    pass
        with model.trace(CLEAN):
            h = model.lm_head.output
        with self.assertRaises(NNsightError) as caught:
            with model.trace(CLEAN):
                model.lm_head.output[:] = h
        self.assertIn("it has no value", str(caught.exception))
        json.dumps(model._graph)  # nothing left being recorded
        self.assertIsNone(model._graph)


if __name__ == "__main__":
    unittest.main()
