// `nnsight trace`: one traced forward pass (or generation) of a prompt with
// interventions and saves given as expressions (docs/cli.md).
//
//   nnsight trace -m MODEL -p "Once upon a time" --set 'model.layers.1.mlp.output = 0' --save lm_head.output
//
// Options become statements; each is recorded through the C++ tracing API
// (trace_expression.h) in the order the model computes the module values they
// touch, so any command-line order works.
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "commands.h"
#include "model_args.h"
#include "module_order.h"
#include "nnsight/api/nnsight.h"
#include "nnsight/graph/graph.h"
#include "nnsight/runtime/tokenizers/text_stream.h"
#include "progress.h"
#include "saved_output.h"
#include "trace_expression.h"

namespace nnsight::cli {
namespace {

struct TraceArgs {
  ModelArgs model;
  std::string prompt;
  std::vector<std::string> saves, sets, scales, adds, patches;
  std::string patch_from;
  std::string out;
  int64_t generate = 0;
};

/// One option as an operation on the trace.
struct Statement {
  enum class Kind { Set, Scale, Add, Patch, Save };
  Kind kind = Kind::Save;
  std::string option;  ///< "--set"
  std::string text;    ///< the option's value as given
  std::string name;    ///< --save: the output name
  ModuleValueExpr target;
  Operand operand;  ///< --set
  Value factor;     ///< --scale
  at::Tensor vector;
  std::string vector_name;  ///< --add: "FILE:tensor"
  int64_t order = 0;        ///< when the model computes the last module value it touches
  std::size_t index = 0;    ///< position on the command line
  /// "--set 'model.layers.1.mlp.output = 0'": how errors name this statement.
  std::string where() const { return option + " '" + text + "'"; }
};

/// Splits "LEFT=RIGHT" at the first '='; errors point at the end when absent.
std::pair<std::string, std::string> split_pair(const std::string& text, const std::string& option,
                                               const std::string& form) {
  const std::size_t eq = text.find('=');
  if (eq == std::string::npos)
    throw ExpressionError("expected " + form, text, text.size(), "write " + option + " '" + form + "'", option);
  return {text.substr(0, eq), text.substr(eq + 1)};
}

std::string trim(const std::string& s) {
  const std::size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

/// The tensor of "FILE" (its only tensor) or "FILE:NAME".
std::pair<at::Tensor, std::string> load_vector(const std::string& spec, const std::string& where) {
  std::string file = trim(spec), name;
  const std::size_t colon = file.rfind(':');
  if (!std::filesystem::exists(file) && colon != std::string::npos) {
    name = file.substr(colon + 1);
    file = file.substr(0, colon);
  }
  format::TensorBlob blob = [&] {
    try {
      return format::TensorBlob::load(file);
    } catch (const Error& e) {
      throw e.with_context("in " + where);
    }
  }();
  std::string names;
  for (const std::string& n : blob.names()) names += (names.empty() ? "" : ", ") + n;
  if (name.empty()) {
    if (blob.size() != 1)
      throw Error("'" + file + "' holds " + std::to_string(blob.size()) + " tensors; which one is the vector?",
                  "in " + where, "name it as FILE:NAME; the file has: " + names);
    name = blob.names().front();
  }
  std::optional<at::Tensor> t = blob.get(name);
  if (!t) throw Error("'" + file + "' has no tensor '" + name + "'", "in " + where, "the file has: " + names);
  if (!at::isFloatingType(t->scalar_type()))
    throw Error("the tensor '" + name + "' of '" + file + "' is " + format::dtype_name(t->scalar_type()) +
                    ", not floating point",
                "in " + where, "save the steering vector as float32");
  return {*t, file + ":" + name};
}

std::vector<Statement> parse_statements(const TraceArgs& a) {
  std::vector<Statement> out;
  auto add = [&](Statement::Kind kind, const char* option, const std::string& text) -> Statement& {
    Statement& s = out.emplace_back();
    s.kind = kind;
    s.option = option;
    s.text = text;
    s.index = out.size() - 1;
    return s;
  };
  for (const std::string& text : a.patches)
    add(Statement::Kind::Patch, "--patch", text).target = parse_module_value(text, "--patch");
  for (const std::string& text : a.sets) {
    Statement& s = add(Statement::Kind::Set, "--set", text);
    AssignmentExpr e = parse_assignment(text, "--set");
    s.target = std::move(e.target);
    s.operand = std::move(e.operand);
  }
  for (const std::string& text : a.scales) {
    Statement& s = add(Statement::Kind::Scale, "--scale", text);
    auto [path, factor] = split_pair(text, "--scale", "VALUE=FACTOR");
    s.target = parse_module_value(path, "--scale");
    s.factor = parse_number(factor, "--scale factor");
  }
  for (const std::string& text : a.adds) {
    Statement& s = add(Statement::Kind::Add, "--add", text);
    auto [path, file] = split_pair(text, "--add", "VALUE=FILE.safetensors[:NAME]");
    s.target = parse_module_value(path, "--add");
    std::tie(s.vector, s.vector_name) = load_vector(file, s.where());
  }
  std::set<std::string> names;
  for (const std::string& text : a.saves) {
    Statement& s = add(Statement::Kind::Save, "--save", text);
    std::string expr = text;
    const std::size_t eq = text.find('=');
    if (eq != std::string::npos) {
      s.name = trim(text.substr(0, eq));
      expr = text.substr(eq + 1);
      if (s.name.empty())
        throw ExpressionError("the output name before '=' is empty", text, 0, "write --save NAME=VALUE or --save VALUE",
                              "--save");
    }
    s.target = parse_module_value(expr, "--save");
    if (s.name.empty()) s.name = trim(expr);
    if (!names.insert(s.name).second)
      throw Error("two --save options have the name '" + s.name + "'", "--save '" + text + "'",
                  "name them apart with --save NAME=VALUE");
  }
  return out;
}

/// A LanguageModel whose traced generation also reports each new token (for
/// streaming the text and the progress line).
class StreamingModel : public LanguageModel {
 public:
  using LanguageModel::LanguageModel;
  Traced generate_streaming(const graph::Arg* input, const GenerateOptions& options, TokenCallback on_token,
                            const std::function<void(Tracer&)>& body) {
    return trace_impl(input, body, Loc::current(), generation_loop(options, std::move(on_token)));
  }
};

/// Resolves every statement's module values, orders the statements by when
/// the model computes them, and checks what one forward pass cannot do.
void order_statements(std::vector<Statement>& statements, LanguageModel& model, int64_t token) {
  Module& root = model.module();
  std::map<std::string, int64_t> order;
  if (!statements.empty()) order = module_value_order(model, token);
  auto position = [&](const ModuleValueExpr& e, const Statement& s) -> int64_t {
    resolve_module(root, e, s.option);  // unknown paths: caret and close matches
    if (order.empty()) return 0;
    const std::string key = entry_key(root, e);
    auto it = order.find(key);
    if (it == order.end())
      throw Error("the model never calls '" + e.path_text() + "', so it has no " + key.substr(key.rfind('.') + 1),
                  "in " + s.where(),
                  "it only groups its children; pick one of them (`nnsight inspect` lists the modules)");
    return it->second;
  };
  for (Statement& s : statements) {
    s.order = position(s.target, s);
    if (s.operand.value) {
      const int64_t source = position(*s.operand.value, s);
      if (source > s.order)
        throw Error("the value on the right is computed after the value it is written into", "in " + s.where(),
                    "the model has already used " + s.target.path_text() + " when " + s.operand.value->path_text() +
                        " exists; to copy a value from another prompt use --patch with --patch-from");
    }
  }
  // Edits of one module value run before its saves: a save shows what the model continues with.
  std::stable_sort(statements.begin(), statements.end(), [](const Statement& a, const Statement& b) {
    const bool sa = a.kind == Statement::Kind::Save, sb = b.kind == Statement::Kind::Save;
    return std::tie(a.order, sa) < std::tie(b.order, sb);
  });
}

/// Records the statements of one invoke; `texts` gets each node's statement.
struct Recorder {
  LanguageModel& model;
  bool every_step;
  std::vector<std::string>& texts;
  std::map<std::size_t, Saved> saved;       ///< by statement index
  std::vector<graph::Proxy> patch_sources;  ///< by --patch position

  template <class F>
  void labelled(const Statement& s, F&& record) {
    graph::Graph* g = graph::Graph::current();
    const int32_t before = g ? g->size() : 0;
    record();
    if (!g) return;
    texts.resize(static_cast<std::size_t>(g->size()));
    for (int32_t i = before; i < g->size(); ++i) texts[static_cast<std::size_t>(i)] = s.where();
  }

  void read_sources(const std::vector<Statement>& statements) {
    for (const Statement& s : statements)
      if (s.kind == Statement::Kind::Patch)
        labelled(s, [&] { patch_sources.push_back(record_value(model, s.target, every_step, s.option)); });
  }

  void record(const std::vector<Statement>& statements) {
    // Per-step lists come before every module value: the nodes after a value
    // taken at every step run again at each step, so a list made there would
    // be made anew.
    if (every_step)
      for (const Statement& s : statements)
        if (s.kind == Statement::Kind::Save) labelled(s, [&] { saved[s.index] = graph::list().save(); });
    std::size_t patch = 0;
    for (const Statement& s : statements) labelled(s, [&] { record_one(s, patch); });
  }

 private:
  void record_one(const Statement& s, std::size_t& patch) {
    const bool every = every_step;
    switch (s.kind) {
      case Statement::Kind::Save: {
        if (every) {
          saved.at(s.index).append(record_value(model, s.target, every, s.option));
        } else {
          saved[s.index] = record_value(model, s.target, every, s.option).save();
        }
        return;
      }
      case Statement::Kind::Set:
        if (s.operand.value) {
          graph::Proxy v = record_value(model, *s.operand.value, every, s.option);
          record_assign(model, s.target, v, every, s.option);
        } else {
          record_assign(model, s.target, *s.operand.number, every, s.option);
        }
        return;
      case Statement::Kind::Scale:
        record_update(
            model, s.target, [&](const graph::Proxy& x) { return graph::Arg(x * s.factor); }, every, s.option);
        return;
      case Statement::Kind::Add:
        record_update(
            model, s.target,
            [&](const graph::Proxy& x) {
              graph::apply(broadcast_check(s), {x}, "check --add shape");
              return graph::Arg(x + s.vector);
            },
            every, s.option);
        return;
      case Statement::Kind::Patch: record_assign(model, s.target, patch_sources.at(patch++), every, s.option); return;
    }
  }

  /// A run-time check that the steering vector broadcasts to the value (the
  /// value's shape is known only then), with a message naming both shapes.
  static graph::ApplyFn broadcast_check(const Statement& s) {
    const std::vector<int64_t> shape = s.vector.sizes().vec();
    const std::string name = s.vector_name, value = s.target.text;
    return [shape, name, value](std::vector<Value>& args, const Dict&) -> Value {
      if (!args.at(0).is_tensor())
        throw Error("--add needs a tensor, but " + value + " is " + args[0].repr(), "",
                    "index the tensor out of it, e.g. " + value + "[0]");
      const at::IntArrayRef target = args[0].as_tensor().sizes();
      bool ok = shape.size() <= target.size();
      for (std::size_t i = 0; ok && i < shape.size(); ++i) {
        const int64_t v = shape[shape.size() - 1 - i], t = target[target.size() - 1 - i];
        ok = v == t || v == 1;
      }
      if (!ok)
        throw Error("the steering vector " + name + " " + format_shape(shape) + " does not broadcast to " + value +
                        " " + format_shape(target),
                    "",
                    "its shape must match the value's trailing dimensions (or be 1 in them), e.g. [" +
                        std::to_string(target.empty() ? 1 : target.back()) + "]");
      return Value();
    };
  }
};

void run_trace(const TraceArgs& args) {
  if (args.patches.empty() != args.patch_from.empty())
    throw Error(args.patches.empty() ? "--patch-from needs at least one --patch VALUE to copy"
                                     : "--patch needs --patch-from 'OTHER PROMPT' to copy from",
                "", "e.g. --patch 'model.layers.3.output[0][:, -1]' --patch-from 'The dog'");
  std::vector<Statement> statements = parse_statements(args);  // syntax errors before the model loads

  StreamingModel model(load_causal_lm(args.model));
  const std::vector<int64_t> prompt = prompt_tokens(model.tokenizer(), args.prompt);
  for (Statement& s : statements)
    if (s.vector.defined()) s.vector = s.vector.to(model.config().dtype);
  order_statements(statements, model, prompt.front());

  const bool patching = !args.patch_from.empty();
  const bool generating = args.generate > 0;
  std::vector<std::string> texts;
  Recorder recorder{model, generating, texts, {}, {}};
  auto body = [&](Tracer& tracer) {
    if (patching) {
      tracer.invoke(args.patch_from, [&] { recorder.read_sources(statements); });
      tracer.invoke(args.prompt, [&] { recorder.record(statements); });
    } else {
      recorder.record(statements);
    }
    if (graph::Graph* g = graph::Graph::current()) g->set_location_texts(texts);
  };

  const int64_t main_row = patching ? 1 : 0;
  Traced traced;
  if (generating) {
    GenerateOptions options;
    options.max_new_tokens = args.generate;
    const Tokenizer& tok = model.tokenizer();
    const bool shared_terminal = Progress::stdout_is_terminal();
    Progress progress(Progress::terminal(), "generating", args.generate, !shared_terminal);
    std::cout << tok.decode(prompt) << std::flush;
    TextStream stream(tok, /*skip_special=*/true, prompt.back());
    auto on_token = [&](int64_t row, int64_t id) {
      if (row != main_row) return;
      progress.without_status([&] { std::cout << stream.push(id) << std::flush; });
      progress.advance();
    };
    graph::Arg input(args.prompt);
    traced = model.generate_streaming(patching ? nullptr : &input, options, on_token, body);
    progress.without_status([&] { std::cout << stream.flush() << "\n" << std::flush; });
    progress.finish();
  } else {
    Progress progress(Progress::terminal(), "tracing");
    progress.start_ticker();
    traced = patching ? model.trace(body) : model.trace(args.prompt, body);
  }

  // Saved values by statement, in command-line order.
  std::vector<std::pair<std::string, Value>> results;
  std::sort(statements.begin(), statements.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  for (const Statement& s : statements) {
    if (s.kind != Statement::Kind::Save) continue;
    const Value& v = recorder.saved.at(s.index).value();
    if (!generating) {
      results.emplace_back(s.name, v);
      continue;
    }
    for (std::size_t k = 0; k < v.items().size(); ++k)
      results.emplace_back(s.name + ".step" + std::to_string(k), v.items()[k]);
  }
  if (results.empty() && !generating) {  // nothing saved: the model's output (logits) of the prompt's rows
    const Value& out = traced.output;
    results.emplace_back("output", out.is_tensor() && patching ? Value(out.as_tensor().narrow(0, main_row, 1)) : out);
  }
  if (generating) {
    const auto rows = LanguageModel::tokens_of(traced);
    const auto& row = rows.at(static_cast<std::size_t>(main_row));
    if (!args.out.empty()) {
      at::Tensor ids = at::empty({static_cast<int64_t>(row.size())}, at::kLong);
      std::copy(row.begin(), row.end(), ids.data_ptr<int64_t>());
      results.emplace_back("generated", Value(ids));
    }
  }

  if (!args.out.empty()) {
    format::TensorBlob blob;
    for (const auto& [name, value] : results) add_saved(blob, name, value);
    blob.save(args.out);
    std::cout << "wrote " << blob.size() << " tensors to " << args.out << "\n";
    return;
  }
  for (const auto& [name, value] : results)
    print_saved(std::cout, name, value, model.tokenizer(), model.config().vocab_size);
}

}  // namespace

void add_trace_command(CLI::App& app) {
  auto args = std::make_shared<TraceArgs>();
  CLI::App* cmd =
      app.add_subcommand("trace", "Trace a prompt with interventions and saves written as expressions (docs/cli.md)");
  add_model_options(*cmd, args->model);
  cmd->add_option("--prompt,-p", args->prompt, "Prompt text")->required();
  auto repeatable = [&](const char* name, std::vector<std::string>& into, const char* help) {
    cmd->add_option(name, into, help)->allow_extra_args(false)->type_name("EXPR");
  };
  repeatable("--save", args->saves, "Save a value: EXPR or NAME=EXPR, e.g. 'model.layers.2.output[0]' (repeatable)");
  repeatable("--set", args->sets, "Assign in place: 'EXPR = NUMBER' or 'EXPR = EXPR' (repeatable)");
  repeatable("--scale", args->scales, "Multiply a value in place: EXPR=FACTOR (repeatable)");
  repeatable("--add", args->adds, "Add a steering vector: EXPR=FILE.safetensors[:NAME] (repeatable)");
  repeatable("--patch", args->patches, "Copy this value from the --patch-from prompt's run (repeatable)");
  cmd->add_option("--patch-from", args->patch_from, "The prompt the --patch values come from (run as a first invoke)");
  cmd->add_option("--out,-o", args->out, "Write the saved values to this safetensors file");
  cmd->add_option("--generate,-n", args->generate, "Generate N tokens (greedy), intervening at every step")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->callback([args] { run_trace(*args); });
}

}  // namespace nnsight::cli
