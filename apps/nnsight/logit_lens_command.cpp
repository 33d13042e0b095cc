// `nnsight logit-lens`: read every layer's residual stream through the final
// norm and the unembedding, and render the top tokens as a heatmap (HTML or SVG).
#include <ATen/core/Tensor.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "heatmap_render.h"
#include "model_args.h"
#include "nnsight/api/nnsight.h"
#include "nnsight/base/error.h"

namespace nnsight::cli {
namespace {

constexpr int64_t kTopK = 5;

struct LogitLensArgs {
  ModelArgs model;
  std::string prompt;
  std::string out;
  std::string layers;
};

/// Python's `a:b` (either end optional, negative counts from the end) or a
/// single layer `n`, over `count` layers: the half-open range it selects.
std::pair<int64_t, int64_t> parse_layer_range(const std::string& spec, int64_t count) {
  if (spec.empty()) return {0, count};
  auto bad = [&](const std::string& why) {
    return Error("--layers '" + spec + "' " + why, "--layers",
                 "give a:b (half-open, either end optional, negative counts from the end) or one layer n; the model "
                 "has " +
                     std::to_string(count) + " layers (0.." + std::to_string(count - 1) + ")");
  };
  auto number = [&](const std::string& s, int64_t fallback) -> int64_t {
    if (s.empty()) return fallback;
    std::size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      throw bad("is not a layer range");
    }
    if (used != s.size()) throw bad("is not a layer range");
    return v < 0 ? v + count : v;
  };
  const std::size_t colon = spec.find(':');
  int64_t begin = 0, end = 0;
  if (colon == std::string::npos) {
    begin = number(spec, 0);
    if (begin < 0 || begin >= count) throw bad("is out of range");
    end = begin + 1;
  } else {
    begin = std::clamp<int64_t>(number(spec.substr(0, colon), 0), 0, count);
    end = std::clamp<int64_t>(number(spec.substr(colon + 1), count), 0, count);
  }
  if (begin >= end) throw bad("selects no layer");
  return {begin, end};
}

/// How a token appears in the heatmap: special tokens by name ("<s>"; llama2.c stores "\n<s>\n"), others
/// as their bytes.
std::string token_text(const Tokenizer& tok, int64_t id) {
  if (!tok.is_special(id)) return tok.token_bytes(id);
  std::string name = tok.token_string(id);
  const std::size_t first = name.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return name;
  return name.substr(first, name.find_last_not_of(" \t\r\n") - first + 1);
}

/// One heatmap row from logits [T, V]: the top tokens at every position.
std::vector<HeatmapCell> lens_row(const at::Tensor& logits, const Tokenizer& tok) {
  const at::Tensor probs = logits.to(at::kFloat).softmax(-1);
  const auto [values, indices] = probs.topk(std::min<int64_t>(kTopK, probs.size(-1)), -1);
  std::vector<HeatmapCell> row(static_cast<std::size_t>(probs.size(0)));
  for (int64_t t = 0; t < probs.size(0); ++t)
    for (int64_t k = 0; k < values.size(1); ++k)
      row[static_cast<std::size_t>(t)].top.push_back(
          {token_text(tok, indices[t][k].item<int64_t>()), values[t][k].item<double>()});
  return row;
}

enum class OutputFormat { Html, Svg };

OutputFormat format_of(const std::string& path) {
  auto ends_with = [&](const std::string& ext) {
    if (path.size() < ext.size()) return false;
    return std::equal(ext.rbegin(), ext.rend(), path.rbegin(),
                      [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
  };
  if (ends_with(".html") || ends_with(".htm")) return OutputFormat::Html;
  if (ends_with(".svg")) return OutputFormat::Svg;
  throw Error("cannot tell the output format of '" + path + "'", "--out",
              "name the output file *.html (a page with the heatmap inline) or *.svg (a standalone image)");
}

void run_logit_lens(const LogitLensArgs& args) {
  const OutputFormat format = format_of(args.out);  // before the slow load
  LanguageModel model = load_language_model(args.model);
  const Tokenizer& tok = model.tokenizer();
  const std::vector<int64_t> ids = prompt_tokens(tok, args.prompt);

  // The module paths come from the model's own structure (transformer.h.N / transformer.ln_f for
  // GPT-2, model.layers.N / model.norm for Llama-family models).
  CausalLM& lm = model.causal_lm();
  const std::pair<int64_t, int64_t> range = parse_layer_range(args.layers, static_cast<int64_t>(lm.num_layers()));
  const int64_t first = range.first, last = range.second;
  const std::string norm = lm.final_norm().path();
  const std::string head = lm.lm_head().path();
  std::vector<Saved> lens(static_cast<std::size_t>(last - first));
  Saved output;
  model.trace(args.prompt, [&] {
    for (int64_t l = first; l < last; ++l) {
      Proxy h = model[lm.layer(static_cast<std::size_t>(l)).path()].output()[0];
      lens[static_cast<std::size_t>(l - first)] = model[head](model[norm](h))[0].save();
    }
    output = model[head].output()[0].save();
  });

  HeatmapGrid grid;
  grid.title = "Logit lens: " + lm.type_name() + " (" + std::to_string(lm.num_layers()) + " layers)";
  grid.subtitle = "prompt: " + args.prompt;
  for (int64_t id : ids) grid.column_labels.push_back(token_text(tok, id));
  for (int64_t l = first; l < last; ++l) {
    grid.row_labels.push_back("layer " + std::to_string(l));
    grid.cells.push_back(lens_row(lens[static_cast<std::size_t>(l - first)].tensor(), tok));
  }
  grid.row_labels.push_back("output");
  grid.cells.push_back(lens_row(output.tensor(), tok));

  const std::string text = format == OutputFormat::Html ? render_heatmap_html(grid) : render_heatmap_svg(grid);
  std::ofstream file(args.out, std::ios::binary);
  if (!file)
    throw Error("cannot open the output file for writing", args.out, "check the folder exists and is writable");
  file << text;
  file.close();
  if (!file) throw Error("writing the output file failed", args.out, "check the disk has space");
  std::cout << "wrote " << args.out << ": " << grid.cells.size() << " rows (layers " << first << ".." << last - 1
            << " and the output) x " << ids.size() << " tokens\n";
}

}  // namespace

void add_logit_lens_command(CLI::App& app) {
  auto args = std::make_shared<LogitLensArgs>();
  CLI::App* cmd = app.add_subcommand(
      "logit-lens", "Render each layer's next-token guess at every position (final norm + unembedding) as a heatmap");
  add_model_options(*cmd, args->model);
  cmd->add_option("--prompt,-p", args->prompt, "Prompt text")->required();
  cmd->add_option("--out,-o", args->out, "Output file: *.html (self-contained page) or *.svg")->required();
  cmd->add_option("--layers", args->layers, "Layers to show, a:b (half-open, Python-style) or n; default all");
  cmd->callback([args] { run_logit_lens(*args); });
}

}  // namespace nnsight::cli
