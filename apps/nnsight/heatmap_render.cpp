// Token heatmap rendering (see heatmap_render.h): string building only.
#include "heatmap_render.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "nnsight/base/error.h"

namespace nnsight::cli {
namespace {

// Page geometry around the grid.
constexpr int kMargin = 16;
constexpr int kTitleHeight = 58;      // title + subtitle lines
constexpr int kHeaderHeight = 26;     // the column-label row
constexpr int kRowLabelWidth = 80;    // "layer 12", "output"
constexpr int kLegendGap = 24;        // between the grid and the colour bar
constexpr int kLegendWidth = 16;      // the colour bar
constexpr int kLegendTextWidth = 96;  // its tick labels and caption
constexpr int kFooterHeight = 30;

std::string hex_byte(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02X", b);
  return buf;
}

std::string code_point_escape(uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\u%04X", cp);
  return buf;
}

/// Length of the valid UTF-8 sequence at s[i] (with its code point), or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i, uint32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, cp = b0 & 0x0Fu;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no UTF-16 surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, cp = b0 & 0x07u;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  return len;
}

/// The first `max_chars` code points of valid UTF-8 `text`, with "…" when cut.
std::string truncate_chars(const std::string& text, int max_chars) {
  std::size_t count = 0, cut = std::string::npos;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (count == static_cast<std::size_t>(std::max(1, max_chars - 1))) cut = i;
    ++count;
  }
  if (count <= static_cast<std::size_t>(max_chars) || cut == std::string::npos) return text;
  return text.substr(0, cut) + "\xE2\x80\xA6";
}

/// Token text as a cell or column label shows it: printable, and a token of spaces only as one
/// visible-space sign per space (it would otherwise look like an empty cell).
std::string label_text(const std::string& raw) {
  std::string text = printable_token(raw);
  if (text.empty() || text.find_first_not_of(' ') != std::string::npos) return text;
  std::string signs;
  for (std::size_t i = 0; i < text.size(); ++i) signs += "\xE2\x90\xA3";  // U+2423 OPEN BOX
  return signs;
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

/// Black text on light cells, white on dark ones.
const char* text_colour(double probability) { return probability >= 0.55 ? "#111111" : "#ffffff"; }

void check_grid(const HeatmapGrid& grid) {
  if (grid.row_labels.size() != grid.cells.size())
    throw Error("the heatmap has " + std::to_string(grid.cells.size()) + " rows of cells but " +
                    std::to_string(grid.row_labels.size()) + " row labels",
                "heatmap grid", "give one row label per row");
  for (std::size_t r = 0; r < grid.cells.size(); ++r)
    if (grid.cells[r].size() != grid.column_labels.size())
      throw Error("heatmap row " + std::to_string(r) + " has " + std::to_string(grid.cells[r].size()) + " cells for " +
                      std::to_string(grid.column_labels.size()) + " columns",
                  "heatmap grid", "give one cell per column label");
}

std::string svg_document(const HeatmapGrid& grid, const HeatmapLayout& layout, bool standalone) {
  check_grid(grid);
  const int cw = layout.cell_width, ch = layout.cell_height;
  const int cols = static_cast<int>(grid.column_labels.size());
  const int rows = static_cast<int>(grid.cells.size());
  const int grid_x = kMargin + kRowLabelWidth;
  const int grid_y = kMargin + kTitleHeight + kHeaderHeight;
  const int grid_w = cols * cw, grid_h = rows * ch;
  const int legend_x = grid_x + grid_w + kLegendGap;
  const int legend_h = std::max(grid_h, 120);
  const int width = std::max(legend_x + kLegendWidth + kLegendTextWidth + kMargin, 480);
  const int height = grid_y + std::max(grid_h, legend_h) + kFooterHeight + kMargin;

  std::ostringstream o;
  if (standalone) o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"heatmap\" width=\"" << width << "\" height=\"" << height
    << "\" viewBox=\"0 0 " << width << " " << height << "\" data-rows=\"" << rows << "\" data-columns=\"" << cols
    << "\">\n";
  o << "<style>"
       ".heatmap text{font-family:'DejaVu Sans',Arial,sans-serif;fill:#222222}"
       ".heatmap .title{font-size:17px;font-weight:bold}"
       ".heatmap .subtitle,.heatmap .note{font-size:12px;fill:#555555}"
       ".heatmap .token{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12px;white-space:pre}"
       ".heatmap .row-label,.heatmap .tick{font-size:12px}"
       ".heatmap .cell rect{stroke:#ffffff;stroke-width:1}"
       ".heatmap .cell:hover rect{stroke:#000000;stroke-width:2}"
       "</style>\n";
  o << "<rect class=\"background\" x=\"0\" y=\"0\" width=\"" << width << "\" height=\"" << height
    << "\" fill=\"#ffffff\"/>\n";
  o << "<text class=\"title\" x=\"" << kMargin << "\" y=\"" << kMargin + 18 << "\">"
    << escape_markup(printable_token(grid.title)) << "</text>\n";
  if (!grid.subtitle.empty())
    o << "<text class=\"subtitle\" x=\"" << kMargin << "\" y=\"" << kMargin + 40 << "\" xml:space=\"preserve\">"
      << escape_markup(printable_token(grid.subtitle)) << "</text>\n";

  // Column labels: the input tokens.
  for (int c = 0; c < cols; ++c) {
    const std::string label = printable_token(grid.column_labels[static_cast<std::size_t>(c)]);
    o << "<text class=\"token column-label\" x=\"" << grid_x + c * cw + cw / 2 << "\" y=\"" << grid_y - 9
      << "\" text-anchor=\"middle\" xml:space=\"preserve\"><title>position " << c << ": "
      << escape_markup("'" + label + "'") << "</title>"
      << escape_markup(
             truncate_chars(label_text(grid.column_labels[static_cast<std::size_t>(c)]), layout.max_label_chars))
      << "</text>\n";
  }
  // Rows: label, then one cell per column.
  for (int r = 0; r < rows; ++r) {
    const std::string& row_label = grid.row_labels[static_cast<std::size_t>(r)];
    const int y = grid_y + r * ch;
    o << "<text class=\"row-label\" x=\"" << grid_x - 8 << "\" y=\"" << y + ch / 2 + 4 << "\" text-anchor=\"end\">"
      << escape_markup(printable_token(row_label)) << "</text>\n";
    for (int c = 0; c < cols; ++c) {
      const HeatmapCell& cell = grid.cells[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
      const double p = cell.top.empty() ? 0.0 : cell.top.front().probability;
      const std::string top = cell.top.empty() ? std::string() : label_text(cell.top.front().text);
      std::string title = printable_token(row_label) + ", position " + std::to_string(c) + " ('" +
                          printable_token(grid.column_labels[static_cast<std::size_t>(c)]) + "')";
      for (std::size_t k = 0; k < cell.top.size(); ++k)
        title += "\n" + std::to_string(k + 1) + ". '" + printable_token(cell.top[k].text) + "'  " +
                 fixed(cell.top[k].probability, 4);
      const int x = grid_x + c * cw;
      o << "<g class=\"cell\" data-row=\"" << r << "\" data-column=\"" << c << "\"><title>" << escape_markup(title)
        << "</title><rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << cw << "\" height=\"" << ch << "\" fill=\""
        << probability_colour(p) << "\" data-p=\"" << fixed(p, 4) << "\"/><text class=\"token\" x=\"" << x + cw / 2
        << "\" y=\"" << y + ch / 2 + 4 << "\" text-anchor=\"middle\" style=\"fill:" << text_colour(p)
        << "\" xml:space=\"preserve\">" << escape_markup(truncate_chars(top, layout.max_label_chars))
        << "</text></g>\n";
    }
  }

  // Colour bar: probability 1 at the top.
  o << "<defs><linearGradient id=\"heatmap-scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int k = 0; k <= 20; ++k)
    o << "<stop offset=\"" << fixed(k / 20.0, 2) << "\" stop-color=\"" << probability_colour(k / 20.0) << "\"/>";
  o << "</linearGradient></defs>\n";
  o << "<g class=\"legend\"><rect x=\"" << legend_x << "\" y=\"" << grid_y << "\" width=\"" << kLegendWidth
    << "\" height=\"" << legend_h << "\" fill=\"url(#heatmap-scale)\" stroke=\"#888888\" stroke-width=\"0.5\"/>";
  for (int k = 0; k <= 4; ++k) {
    const int ty = grid_y + legend_h - k * legend_h / 4;
    o << "<line x1=\"" << legend_x + kLegendWidth << "\" y1=\"" << ty << "\" x2=\"" << legend_x + kLegendWidth + 4
      << "\" y2=\"" << ty << "\" stroke=\"#555555\"/><text class=\"tick\" x=\"" << legend_x + kLegendWidth + 7
      << "\" y=\"" << ty + 4 << "\">" << fixed(k / 4.0, 2) << "</text>";
  }
  o << "<text class=\"note\" x=\"" << legend_x << "\" y=\"" << grid_y - 16 << "\">p(top token)</text></g>\n";
  o << "<text class=\"note\" x=\"" << kMargin << "\" y=\"" << grid_y + std::max(grid_h, legend_h) + 22
    << "\">Each cell: the most likely next token read from that layer at that position. Hover for the top "
    << (grid.cells.empty() || grid.cells[0].empty() ? 0 : grid.cells[0][0].top.size()) << ".</text>\n";
  o << "</svg>\n";
  return o.str();
}

}  // namespace

std::string printable_token(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    if (b < 0x80) {
      switch (b) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\\': out += "\\\\"; break;
        default:
          if (b < 0x20 || b == 0x7F) {
            out += hex_byte(b);
          } else {
            out += static_cast<char>(b);
          }
      }
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const std::size_t len = utf8_sequence(bytes, i, cp);
    if (len == 0) {
      out += hex_byte(b);
      ++i;
    } else if ((cp >= 0x80 && cp <= 0x9F) || cp == 0xFFFE || cp == 0xFFFF) {
      out += code_point_escape(cp);  // C1 controls; characters XML forbids
      i += len;
    } else {
      out.append(bytes.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::string escape_markup(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string probability_colour(double probability) {
  // Five stops of a perceptually ordered dark-to-light scale.
  static constexpr std::array<std::array<double, 3>, 5> kStops = {{
      {68, 1, 84},
      {59, 82, 139},
      {33, 145, 140},
      {94, 201, 98},
      {253, 231, 37},
  }};
  double p = std::isfinite(probability) ? std::clamp(probability, 0.0, 1.0) : 0.0;
  const double pos = p * (kStops.size() - 1);
  const auto i = std::min(static_cast<std::size_t>(pos), kStops.size() - 2);
  const double f = pos - static_cast<double>(i);
  char buf[8];
  int rgb[3];
  for (int k = 0; k < 3; ++k)
    rgb[k] = static_cast<int>(
        std::lround(kStops[i][static_cast<std::size_t>(k)] * (1 - f) + kStops[i + 1][static_cast<std::size_t>(k)] * f));
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buf;
}

std::string render_heatmap_svg(const HeatmapGrid& grid, const HeatmapLayout& layout) {
  return svg_document(grid, layout, /*standalone=*/true);
}

std::string render_heatmap_html(const HeatmapGrid& grid, const HeatmapLayout& layout) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       // Nothing may be fetched: the page is self-contained.
       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
       "<title>"
    << escape_markup(printable_token(grid.title)) << "</title>\n"
    << "<style>body{margin:0;padding:0;background:#ffffff}</style>\n</head>\n<body>\n"
    << svg_document(grid, layout, /*standalone=*/false) << "</body>\n</html>\n";
  return o.str();
}

}  // namespace nnsight::cli
