#include "benchgate/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace engram::benchgate {

namespace {

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

using Series = HistorySeries;
using Point = HistorySeries::Point;

// Unit for a time series: the largest of ns/us/ms/s that keeps the values >= 1.
std::pair<double, std::string> TimeUnit(double typical_ns) {
  if (typical_ns >= 1e9) return {1e9, "s"};
  if (typical_ns >= 1e6) return {1e6, "ms"};
  if (typical_ns >= 1e3) return {1e3, "us"};
  return {1.0, "ns"};
}

std::string ValueText(const Series& s, double v) {
  if (s.mode == "instructions") {
    if (v >= 1e9) return Fmt("%.3f G", v / 1e9);
    if (v >= 1e6) return Fmt("%.3f M", v / 1e6);
    if (v >= 1e3) return Fmt("%.2f k", v / 1e3);
    return Fmt("%.0f", v);
  }
  const auto [scale, unit] = TimeUnit(v);
  return Fmt("%.3g ", v / scale) + unit;
}

const char* VerdictColour(const std::string& v) {
  if (v == "REGRESSION") return "#d62728";
  if (v == "improved") return "#2ca02c";
  if (v == "noisy") return "#ff7f0e";
  return "#1f77b4";
}

// "Nice" tick step for a range: 1, 2 or 5 times a power of ten.
double NiceStep(double range, int ticks) {
  const double raw = range / ticks;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

// Where a series' change points are on its chart, found on the series without injected-slowdown
// runs (GroupHistory) and mapped back by run id.
struct Marker {
  size_t index = 0;  // chart index of the first point of the new level
  ChangePoint change;
};
struct Level {  // one segment's mean, drawn from chart index first to last
  size_t first = 0, last = 0;
  double mean = 0;
};

std::string Chart(const Series& s, const std::vector<Marker>& markers,
                  const std::vector<Level>& levels) {
  constexpr double W = 600, H = 240, L = 78, R = 40, T = 14, B = 44;
  double lo = INFINITY, hi = -INFINITY;
  for (const Point& p : s.points) {
    lo = std::min({lo, p.value, std::isnan(p.low) ? p.value : p.low});
    hi = std::max({hi, p.value, std::isnan(p.high) ? p.value : p.high});
  }
  if (!(hi > lo)) {
    const double pad = std::max(std::fabs(lo) * 0.05, 1.0);
    lo -= pad;
    hi += pad;
  }
  const double span = hi - lo;
  lo -= 0.1 * span;
  hi += 0.1 * span;
  if (lo < 0 && s.points.front().value >= 0) lo = 0;
  const size_t n = s.points.size();
  auto X = [&](size_t i) { return L + (n == 1 ? (W - L - R) / 2 : (W - L - R) * i / (n - 1.0)); };
  auto Y = [&](double v) { return T + (H - T - B) * (1.0 - (v - lo) / (hi - lo)); };

  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H
      << "' viewBox='0 0 " << W << " " << H << "' role='img' aria-label='" << Escape(s.benchmark)
      << " trend'>\n";
  svg << "<rect x='" << L << "' y='" << T << "' width='" << W - L - R << "' height='" << H - T - B
      << "' fill='#fafafa' stroke='#ccc'/>\n";
  // Y grid and labels.
  const double step = NiceStep(hi - lo, 4);
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) {
    svg << "<line x1='" << L << "' x2='" << W - R << "' y1='" << Fmt("%.1f", Y(v)) << "' y2='"
        << Fmt("%.1f", Y(v)) << "' stroke='#e4e4e4'/>"
        << "<text x='" << L - 6 << "' y='" << Fmt("%.1f", Y(v) + 4)
        << "' font-size='11' text-anchor='end' fill='#444'>" << Escape(ValueText(s, v))
        << "</text>\n";
  }
  // Interval band (wall time).
  bool band = false;
  for (const Point& p : s.points) band = band || !std::isnan(p.low);
  if (band && n > 1) {
    svg << "<polygon fill='#1f77b4' fill-opacity='0.15' stroke='none' points='";
    for (size_t i = 0; i < n; ++i) {
      const Point& p = s.points[i];
      svg << Fmt("%.1f", X(i)) << "," << Fmt("%.1f", Y(std::isnan(p.high) ? p.value : p.high)) << " ";
    }
    for (size_t i = n; i-- > 0;) {
      const Point& p = s.points[i];
      svg << Fmt("%.1f", X(i)) << "," << Fmt("%.1f", Y(std::isnan(p.low) ? p.value : p.low)) << " ";
    }
    svg << "'/>\n";
  }
  if (n > 1) {
    svg << "<polyline fill='none' stroke='#1f77b4' stroke-width='1.5' points='";
    for (size_t i = 0; i < n; ++i) svg << Fmt("%.1f", X(i)) << "," << Fmt("%.1f", Y(s.points[i].value)) << " ";
    svg << "'/>\n";
  }
  // Change points: a dashed vertical line between the last run of the old level and the first of
  // the new one (red when the level rose, i.e. got slower, green when it fell), labelled with
  // the change; the levels as dashed horizontal segments.
  for (const Level& l : levels) {
    svg << "<line x1='" << Fmt("%.1f", X(l.first)) << "' x2='" << Fmt("%.1f", X(l.last)) << "' y1='"
        << Fmt("%.1f", Y(l.mean)) << "' y2='" << Fmt("%.1f", Y(l.mean))
        << "' stroke='#555' stroke-opacity='0.6' stroke-dasharray='6 3'/>\n";
  }
  for (const Marker& m : markers) {
    const double x = m.index == 0 ? X(0) : (X(m.index - 1) + X(m.index)) / 2;
    const double change = m.change.relative_change();
    const char* colour = change > 0 ? "#d62728" : "#2ca02c";
    const Point& p = s.points[m.index];
    const std::string tip = "change point from run " + std::to_string(p.run_id) + " (" + p.time +
                            ", commit " + p.commit + "): " + ValueText(s, m.change.mean_before) +
                            " -> " + ValueText(s, m.change.mean_after) + " (" +
                            Fmt("%+.1f%%", 100 * change) +
                            "), p = " + Fmt("%.3f", m.change.p_value);
    svg << "<g class='change-point'><title>" << Escape(tip) << "</title><line x1='"
        << Fmt("%.1f", x) << "' x2='" << Fmt("%.1f", x) << "' y1='" << T << "' y2='" << H - B
        << "' stroke='" << colour << "' stroke-width='2' stroke-dasharray='5 3'/><text x='"
        << Fmt("%.1f", x + 4) << "' y='" << T + 12 << "' font-size='11' font-weight='bold' fill='"
        << colour << "'>" << Escape(Fmt("%+.1f%%", 100 * change)) << "</text></g>\n";
  }
  for (size_t i = 0; i < n; ++i) {
    const Point& p = s.points[i];
    std::string tip = "run " + std::to_string(p.run_id) + ", " + p.time + ", commit " + p.commit +
                      ": " + ValueText(s, p.value);
    if (!std::isnan(p.low)) tip += " [" + ValueText(s, p.low) + ", " + ValueText(s, p.high) + "]";
    if (!p.verdict.empty()) tip += ", " + p.verdict;
    if (!p.label.empty()) tip += " (" + p.label + ")";
    if (!std::isnan(p.low) && n == 1) {
      svg << "<line x1='" << Fmt("%.1f", X(i)) << "' x2='" << Fmt("%.1f", X(i)) << "' y1='"
          << Fmt("%.1f", Y(p.low)) << "' y2='" << Fmt("%.1f", Y(p.high))
          << "' stroke='#1f77b4' stroke-opacity='0.4' stroke-width='6'/>\n";
    }
    svg << "<circle cx='" << Fmt("%.1f", X(i)) << "' cy='" << Fmt("%.1f", Y(p.value))
        << "' r='4' fill='" << VerdictColour(p.verdict) << "'><title>" << Escape(tip)
        << "</title></circle>\n";
  }
  // X labels: at most 8, commit and date.
  const size_t every = std::max<size_t>(1, (n + 7) / 8);
  for (size_t i = 0; i < n; i += every) {
    const Point& p = s.points[i];
    svg << "<text x='" << Fmt("%.1f", X(i)) << "' y='" << H - B + 16
        << "' font-size='10' text-anchor='middle' fill='#444'>" << Escape(p.commit.substr(0, 8))
        << "</text><text x='" << Fmt("%.1f", X(i)) << "' y='" << H - B + 29
        << "' font-size='10' text-anchor='middle' fill='#888'>" << Escape(p.time.substr(0, 10))
        << "</text>\n";
  }
  svg << "</svg>";
  return svg.str();
}

}  // namespace

std::string RenderHtmlReport(const std::vector<HistoryPoint>& rows, const ReportOptions& options) {
  const std::vector<Series> series = GroupHistory(rows);
  std::set<int64_t> runs;
  for (const HistoryPoint& h : rows) runs.insert(h.run_id);
  // Change points per series, on the runs without an injected slowdown.
  std::map<std::tuple<std::string, std::string, std::string>, Series> analysed;
  for (Series& t : GroupHistory(rows, /*skip_injected=*/true)) {
    analysed[{t.mode, t.fingerprint, t.benchmark}] = std::move(t);
  }
  std::vector<std::vector<Marker>> markers(series.size());
  std::vector<std::vector<Level>> levels(series.size());
  for (size_t k = 0; options.change_points && k < series.size(); ++k) {
    const Series& s = series[k];
    const Series& t = analysed[{s.mode, s.fingerprint, s.benchmark}];
    const std::vector<ChangePoint> changes = SeriesChangePoints(t, options.change_point_options);
    if (changes.empty()) continue;
    std::map<int64_t, size_t> chart_index;
    for (size_t i = 0; i < s.points.size(); ++i) chart_index[s.points[i].run_id] = i;
    size_t begin = 0;
    for (size_t c = 0; c <= changes.size(); ++c) {
      const size_t end = c < changes.size() ? changes[c].index : t.points.size();
      double sum = 0;
      for (size_t i = begin; i < end; ++i) sum += t.points[i].value;
      levels[k].push_back({chart_index[t.points[begin].run_id],
                           chart_index[t.points[end - 1].run_id], sum / (end - begin)});
      if (c < changes.size()) {
        markers[k].push_back({chart_index[t.points[end].run_id], changes[c]});
      }
      begin = end;
    }
  }

  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>\n<title>"
       << Escape(options.title) << "</title>\n<style>\n"
       << "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222;"
          "max-width:1400px}\n"
       << "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px;border-bottom:"
          "1px solid #ddd;padding-bottom:4px}h3{font-size:14px;margin:0 0 4px;font-family:"
          "ui-monospace,monospace}\n"
       << ".meta{color:#666;font-size:13px}.grid{display:flex;flex-wrap:wrap;gap:18px}\n"
       << ".card{border:1px solid #e2e2e2;border-radius:6px;padding:10px;background:#fff}\n"
       << "table{border-collapse:collapse;font-size:13px;margin-top:8px}td,th{border:1px solid "
          "#ddd;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left;"
          "font-family:ui-monospace,monospace}\n"
       << ".legend span{display:inline-block;margin-right:14px}.dot{display:inline-block;width:"
          "10px;height:10px;border-radius:5px;margin-right:4px;vertical-align:middle}\n"
       << "</style></head><body>\n";
  html << "<h1>" << Escape(options.title) << "</h1>\n<div class='meta'>" << runs.size()
       << " gate runs, " << series.size() << " series";
  if (!options.source.empty()) html << " &middot; from " << Escape(options.source);
  html << "</div>\n<div class='meta legend' style='margin-top:6px'>"
       << "<span><i class='dot' style='background:#1f77b4'></i>pass / measured</span>"
       << "<span><i class='dot' style='background:#d62728'></i>regression</span>"
       << "<span><i class='dot' style='background:#2ca02c'></i>improved</span>"
       << "<span><i class='dot' style='background:#ff7f0e'></i>noisy</span>"
       << "<span>band: 95% interval of the median (wall time)</span>";
  if (options.change_points) {
    const ChangePointOptions& c = options.change_point_options;
    html << "<span><i class='dot' style='background:#d62728;border-radius:0;width:3px'></i>"
         << "change point (E-divisive means, segments of at least " << c.min_segment
         << " runs, permutation p &le; " << Fmt("%.3g", c.alpha) << ", change &ge; "
         << Fmt("%.1f%%", 100 * c.min_relative_change)
         << "; dashed lines: the levels; runs with an injected slowdown left out)</span>";
  }
  html << "</div>\n";
  if (series.empty()) html << "<p>No history yet: run scripts/benchmark_regression.sh.</p>\n";

  std::string current_section;
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const std::string section = s.mode + "|" + s.fingerprint;
    if (section != current_section) {
      if (!current_section.empty()) html << "</div>\n";
      current_section = section;
      html << "<h2>" << (s.mode == "instructions" ? "Instructions per iteration" : "Time per iteration (median)")
           << "</h2>\n<div class='meta'>" << Escape(s.description) << " &middot; <code>"
           << Escape(s.fingerprint) << "</code></div>\n<table><tr><th>benchmark</th><th>runs</th>"
           << "<th>first</th><th>latest</th><th>change</th><th>latest verdict</th>"
           << (options.change_points ? "<th>change points</th>" : "") << "</tr>\n";
      for (size_t j = 0; j < series.size(); ++j) {
        const Series& t = series[j];
        if (t.mode != s.mode || t.fingerprint != s.fingerprint) continue;
        const double first = t.points.front().value, last = t.points.back().value;
        html << "<tr><td>" << Escape(t.benchmark) << "</td><td>" << t.points.size() << "</td><td>"
             << Escape(ValueText(t, first)) << "</td><td>" << Escape(ValueText(t, last))
             << "</td><td>" << (first > 0 ? Fmt("%+.1f%%", 100 * (last / first - 1)) : "")
             << "</td><td>" << Escape(t.points.back().verdict) << "</td>";
        if (options.change_points) {
          html << "<td>";
          for (size_t m = 0; m < markers[j].size(); ++m) {
            const Marker& mk = markers[j][m];
            html << (m ? ", " : "") << "run " << t.points[mk.index].run_id << " "
                 << Fmt("%+.1f%%", 100 * mk.change.relative_change());
          }
          html << "</td>";
        }
        html << "</tr>\n";
      }
      html << "</table>\n<div class='grid' style='margin-top:12px'>\n";
    }
    html << "<div class='card'><h3>" << Escape(s.benchmark) << "</h3>\n"
         << Chart(s, markers[k], levels[k]) << "\n</div>\n";
  }
  if (!current_section.empty()) html << "</div>\n";
  html << "</body></html>\n";
  return html.str();
}

}  // namespace engram::benchgate
