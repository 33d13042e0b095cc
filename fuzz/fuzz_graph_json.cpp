// Fuzz target: the graph JSON decoder (parse_graph_text + document_from_json)
// with an optional attached tensor blob.
//
// Input: graph JSON text, optionally followed by a NUL byte and the blob's
// safetensors bytes. A document that decodes must also encode and decode again.

#include "fuzz_support.h"
#include "nnsight/format/graph_json.h"

using namespace nnsight;
using namespace nnsight::format;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = fuzz::bytes_of(data, size);
  const std::size_t nul = input.find('\0');
  const std::string_view text = input.substr(0, nul);
  DecodeLimits limits;
  limits.max_tensor_bytes = 1u << 20;  // keeps each run's memory small; the checks are the same
  limits.max_total_tensor_bytes = 4u << 20;
  fuzz::only_errors([&] {
    TensorBlob blob;
    if (nul != std::string_view::npos) blob = TensorBlob::from_bytes(input.substr(nul + 1), limits);
    const nlohmann::json j = parse_graph_text(text, limits);
    GraphDocument doc =
        document_from_json(j, {.limits = limits, .source = nul == std::string_view::npos ? nullptr : &blob});
    fuzz::must_succeed("re-encoding a decoded graph", [&] {
      TensorBlob out;
      const nlohmann::json again = to_json(doc, {.sink = &out});
      const TensorBlob received = TensorBlob::from_bytes(out.to_bytes(), limits);
      const GraphDocument back =
          document_from_json(parse_graph_text(again.dump(), limits), {.limits = limits, .source = &received});
      if (back.graph->size() != doc.graph->size()) fuzz::finding("round trip changed the node count");
    });
  });
  return 0;
}
