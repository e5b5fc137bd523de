// Figures through gnuplot: the data as CSV files, one generated script that draws
// every figure as SVG and PNG (Debian's gnuplot-nox has both terminals).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tapegrad/experiment/study.hpp"

namespace tapegrad::apps::experiment {

// CSV text: the header line, then the rows; NaN is written as "nan" (gnuplot skips
// it, so a curve simply ends there).
std::string csv_text(const DataFile& file);

// The gnuplot script that writes NAME.svg and NAME.png for every figure, run from
// the directory that holds the data files.
std::string gnuplot_script(const std::vector<Figure>& figures);

// A string as a single-quoted gnuplot literal ('it''s').
std::string gnuplot_quote(const std::string& text);

// Whether `gnuplot` can be run (found on PATH).
bool gnuplot_available();
// Runs `gnuplot SCRIPT` in `dir`; returns an empty string on success, else the
// error output.
std::string run_gnuplot(const std::filesystem::path& dir, const std::string& script);

// The message shown when gnuplot is missing.
inline constexpr const char* kGnuplotHint =
    "gnuplot was not found, so only the figures' data (CSV) and script were written. Install "
    "it with `apt-get install gnuplot-nox` (cmake/bootstrap.sh does), then run `gnuplot "
    "figures.gp` in the figures directory, or rerun the study (finished runs are reused).";

}  // namespace tapegrad::apps::experiment
