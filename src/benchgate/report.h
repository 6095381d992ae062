// The history report: one self-contained HTML page (inline SVG and CSS, no scripts, nothing
// fetched) with a trend chart per benchmark, per fingerprint and mode. Wall-time charts show
// the median of each run with its 95% interval as a band; instruction charts show the count.
// Points are coloured by the verdict the gate gave that run (red regression, green improved,
// orange noisy), and each has a tooltip with run, time, commit and value. Change points
// (changepoint.h) are marked on each chart as dashed vertical lines labelled with the change,
// with each level's mean as a dashed horizontal segment, and listed in the summary tables.
//
// Threading: a pure function of its input.
#pragma once

#include <string>
#include <vector>

#include "benchgate/changepoint.h"
#include "benchgate/history.h"

namespace engram::benchgate {

struct ReportOptions {
  std::string title = "Engram performance history";
  std::string source;         // shown in the page: where the data came from
  bool change_points = true;  // detect and mark change points
  ChangePointOptions change_point_options;
};

std::string RenderHtmlReport(const std::vector<HistoryPoint>& points, const ReportOptions& options);

}  // namespace engram::benchgate
