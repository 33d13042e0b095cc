// The heatmap renderer (apps/nnsight/heatmap_render.h): escaping, colours and
// the structure of the SVG/HTML documents, on hand-made grids.
#include "heatmap_render.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "nnsight/base/error.h"

namespace nnsight::cli {
namespace {

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

HeatmapGrid two_by_three() {
  HeatmapGrid g;
  g.title = "Logit lens <test>";
  g.subtitle = "prompt: a & b";
  g.column_labels = {"<s>", " a", " b&c"};
  g.row_labels = {"layer 0", "output"};
  for (int r = 0; r < 2; ++r) {
    g.cells.emplace_back();
    for (int c = 0; c < 3; ++c)
      g.cells.back().push_back(
          HeatmapCell{{{"x" + std::to_string(r) + std::to_string(c), 0.25 * (r + c)}, {"\"q\"", 0.1}, {"'", 0.05}}});
  }
  return g;
}

TEST(PrintableToken, KeepsValidUtf8AndEscapesEverythingElse) {
  EXPECT_EQ(printable_token(" time"), " time");
  EXPECT_EQ(printable_token("caf\xC3\xA9 \xE2\x96\x81 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xE2\x96\x81 \xF0\x9F\x98\x80");
  EXPECT_EQ(printable_token("a\nb\tc\r"), "a\\nb\\tc\\r");
  EXPECT_EQ(printable_token(std::string("\x00\x01\x1F\x7F", 4)), "\\x00\\x01\\x1F\\x7F");
  EXPECT_EQ(printable_token("back\\slash"), "back\\\\slash");
  // A lone lead byte, a lone continuation byte, a truncated sequence, an overlong '/', a UTF-16 surrogate,
  // a code point past U+10FFFF: every byte shown as \xNN.
  EXPECT_EQ(printable_token("\xC3"), "\\xC3");
  EXPECT_EQ(printable_token("\xA9z"), "\\xA9z");
  EXPECT_EQ(printable_token("\xE2\x96"), "\\xE2\\x96");
  EXPECT_EQ(printable_token("\xC0\xAF"), "\\xC0\\xAF");
  EXPECT_EQ(printable_token("\xED\xA0\x80"), "\\xED\\xA0\\x80");
  EXPECT_EQ(printable_token("\xF4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80");
  // C1 controls and the two code points XML forbids.
  EXPECT_EQ(printable_token("\xC2\x85"), "\\u0085");
  EXPECT_EQ(printable_token("\xEF\xBF\xBF"), "\\uFFFF");
}

TEST(EscapeMarkup, EscapesTheFiveSpecialCharacters) {
  EXPECT_EQ(escape_markup("<a href=\"x\">Tom's & Sam's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom&#39;s &amp; Sam&#39;s&lt;/a&gt;");
  EXPECT_EQ(escape_markup("plain \xC3\xA9"), "plain \xC3\xA9");
}

TEST(ProbabilityColour, RunsFromDarkPurpleToYellowAndClamps) {
  EXPECT_EQ(probability_colour(0.0), "#440154");
  EXPECT_EQ(probability_colour(0.5), "#21918c");
  EXPECT_EQ(probability_colour(1.0), "#fde725");
  EXPECT_EQ(probability_colour(-3.0), "#440154");
  EXPECT_EQ(probability_colour(7.0), "#fde725");
  EXPECT_EQ(probability_colour(std::nan("")), "#440154");
  // Halfway between the 0.25 and 0.5 stops.
  EXPECT_EQ(probability_colour(0.375), "#2e728c");
  // Distinct at every 1%.
  std::string previous;
  for (int i = 0; i <= 100; ++i) {
    const std::string c = probability_colour(i / 100.0);
    EXPECT_NE(c, previous) << i;
    previous = c;
  }
}

TEST(RenderHeatmapSvg, OneCellPerRowAndColumnWithTitlesAndLegend) {
  const std::string svg = render_heatmap_svg(two_by_three());
  EXPECT_EQ(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(count(svg, "<g class=\"cell\""), 6u);
  EXPECT_NE(svg.find("data-rows=\"2\" data-columns=\"3\""), std::string::npos);
  // Cell (1, 2): p = 0.75, colour of the 0.75 stop, hover title with the top 3, escaped.
  EXPECT_NE(svg.find("<g class=\"cell\" data-row=\"1\" data-column=\"2\"><title>output, position 2 (&#39; "
                     "b&amp;c&#39;)\n1. &#39;x12&#39;  0.7500\n2. &#39;&quot;q&quot;&#39;  0.1000\n3. &#39;&#39;&#39;  "
                     "0.0500</title><rect x=\"248\" y=\"130\" width=\"76\" height=\"30\" fill=\"#5ec962\""),
            std::string::npos)
      << svg;
  EXPECT_NE(svg.find(">x12</text>"), std::string::npos);
  EXPECT_NE(svg.find(">Logit lens &lt;test&gt;</text>"), std::string::npos);
  EXPECT_NE(svg.find(">prompt: a &amp; b</text>"), std::string::npos);
  EXPECT_NE(svg.find("<title>position 2: &#39; b&amp;c&#39;</title> b&amp;c</text>"), std::string::npos);
  EXPECT_NE(svg.find(">layer 0</text>"), std::string::npos);
  EXPECT_NE(svg.find("<linearGradient id=\"heatmap-scale\""), std::string::npos);
  EXPECT_NE(svg.find(">1.00</text>"), std::string::npos);
  // Nothing raw from the data: no unescaped '<' other than tags, no script.
  EXPECT_EQ(svg.find("<s>"), std::string::npos);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
}

TEST(RenderHeatmapSvg, LongAndHostileTokensAreCutAndEscaped) {
  HeatmapGrid g;
  g.column_labels = {"</text><script>alert(1)</script>"};
  g.row_labels = {"output"};
  g.cells = {{HeatmapCell{{{std::string("\xE2\x96\x81\xC3\x01", 5), 1.0}}}}};
  const std::string svg = render_heatmap_svg(g);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  // 9 characters at most: 8 and an ellipsis.
  EXPECT_NE(svg.find("&lt;/text&gt;&lt;\xE2\x80\xA6</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">\xE2\x96\x81\\xC3\\x01</text>"), std::string::npos) << svg;
}

TEST(RenderHeatmapSvg, TokensOfSpacesOnlyShowVisibleSpaces) {
  HeatmapGrid g;
  g.column_labels = {"  "};
  g.row_labels = {"output"};
  g.cells = {{HeatmapCell{{{" ", 0.5}}}}};
  const std::string svg = render_heatmap_svg(g);
  EXPECT_NE(svg.find("</title>\xE2\x90\xA3\xE2\x90\xA3</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">\xE2\x90\xA3</text></g>"), std::string::npos) << svg;
  // The hover titles keep the real text.
  EXPECT_NE(svg.find("<title>position 0: &#39;  &#39;</title>"), std::string::npos) << svg;
}

TEST(RenderHeatmapHtml, IsOneSelfContainedPage) {
  const std::string html = render_heatmap_html(two_by_three());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>\n<html lang=\"en\">", 0), 0u);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  EXPECT_NE(html.find("<title>Logit lens &lt;test&gt;</title>"), std::string::npos);
  EXPECT_EQ(count(html, "<svg "), 1u);
  EXPECT_EQ(count(html, "<g class=\"cell\""), 6u);
  EXPECT_EQ(html.find("<?xml"), std::string::npos);
  for (const char* fetch : {"<script", "<link", "<img", "https://", "@import", "url(http"})
    EXPECT_EQ(html.find(fetch), std::string::npos) << fetch;
  // The only URL is the SVG namespace name, which is never fetched.
  EXPECT_EQ(count(html, "http://"), 1u);
  EXPECT_NE(html.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_EQ(html.substr(html.size() - 8), "</html>\n");
}

TEST(RenderHeatmap, RejectsRaggedGrids) {
  HeatmapGrid g = two_by_three();
  g.cells[1].pop_back();
  EXPECT_THROW(render_heatmap_svg(g), Error);
  g = two_by_three();
  g.row_labels.pop_back();
  EXPECT_THROW(render_heatmap_html(g), Error);
}

}  // namespace
}  // namespace nnsight::cli
