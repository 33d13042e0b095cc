#pragma once
// Rendering a token heatmap (the logit lens: rows = layers, columns = input
// tokens, each cell a predicted token coloured by its probability) as a
// standalone SVG document or a self-contained HTML page with the SVG inline.
//
// Pure functions of the grid data: no tensors, no files, no scripts in the
// output and nothing fetched from the network. Token text is arbitrary bytes:
// it is escaped for HTML/XML, control characters are shown as \n, \t, \xNN,
// and bytes that are not valid UTF-8 as \xNN.

#include <string>
#include <string_view>
#include <vector>

namespace nnsight::cli {

/// One candidate token of a cell: its text (raw bytes) and probability.
struct HeatmapCandidate {
  std::string text;
  double probability = 0.0;
};

/// One cell: candidates best first; the first is shown and sets the colour.
struct HeatmapCell {
  std::vector<HeatmapCandidate> top;
};

struct HeatmapGrid {
  std::string title;                            ///< heading (raw text)
  std::string subtitle;                         ///< a line under it, e.g. the model and prompt (raw text)
  std::vector<std::string> column_labels;       ///< input tokens (raw bytes)
  std::vector<std::string> row_labels;          ///< "layer 0", ..., "output"
  std::vector<std::vector<HeatmapCell>> cells;  ///< [row][column]
};

/// Layout of the rendered grid, in SVG user units (pixels at zoom 1). The
/// screenshot test reads cell positions from the SVG itself.
struct HeatmapLayout {
  int cell_width = 76;
  int cell_height = 30;
  int max_label_chars = 9;  ///< longer token text is cut with an ellipsis (full text in the hover title)
};

/// The standalone SVG document (with an XML declaration).
/// Throws nnsight::Error when a row of `cells` does not have one cell per column label,
/// or a row label is missing.
std::string render_heatmap_svg(const HeatmapGrid& grid, const HeatmapLayout& layout = {});

/// A complete HTML page (inline CSS, the SVG inline, no scripts).
std::string render_heatmap_html(const HeatmapGrid& grid, const HeatmapLayout& layout = {});

/// Token bytes as printable text: valid UTF-8 kept, control characters as
/// \n, \r, \t or \xNN, other invalid bytes as \xNN, backslash as \\.
std::string printable_token(std::string_view bytes);

/// `text` (valid UTF-8) escaped for XML/HTML text and attribute values.
std::string escape_markup(std::string_view text);

/// The cell colour for a probability in [0, 1] (clamped): "#rrggbb" on a
/// sequential dark-purple -> blue -> green -> yellow scale.
std::string probability_colour(double probability);

}  // namespace nnsight::cli
