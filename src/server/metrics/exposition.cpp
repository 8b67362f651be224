#include "server/metrics/exposition.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

namespace canopy::server {

namespace {

bool valid_name(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Label names starting with __ are Prometheus' own.
bool valid_label_name(const std::string& name) { return valid_name(name, false) && !name.starts_with("__"); }

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Integers as integers (counts are the common case); anything else in the
// shortest form that reads back to the same double.
std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) < 1e15)
    return std::to_string(static_cast<std::int64_t>(value));
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, end);
}

std::string escape_help(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_label_value(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"')
      out += "\\\"";
    else
      out += escape_help(std::string(1, c));
  }
  return out;
}

// {a="x",b="y"}, or "" without labels.
std::string label_text(const MetricLabels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) out += ',';
    out += name + "=\"" + escape_label_value(value) + "\"";
  }
  return out + "}";
}

Error bad(const MetricFamily& family, const std::string& what) {
  return make_error(ErrorCode::kInternal, "metric " + family.name + ": " + what);
}

Status check_family(const MetricFamily& family) {
  if (!valid_name(family.name, true)) return bad(family, "not a valid metric name");
  if (family.type == MetricType::kCounter && !family.name.ends_with("_total"))
    return bad(family, "a counter's name must end in _total");
  std::set<MetricLabels> seen;
  for (const MetricSeries& series : family.series) {
    if (!seen.insert(series.labels).second)
      return bad(family, "two series with the labels " + label_text(series.labels));
    std::set<std::string> names;
    for (const auto& [name, value] : series.labels) {
      if (!valid_label_name(name)) return bad(family, "'" + name + "' is not a valid label name");
      if (!names.insert(name).second) return bad(family, "the label " + name + " twice");
      if (family.type == MetricType::kHistogram && name == "le")
        return bad(family, "a histogram's buckets own the label le");
    }
    if (family.type == MetricType::kCounter && !(series.value >= 0))
      return bad(family, "a counter cannot be " + format_value(series.value));
    if (family.type != MetricType::kHistogram) continue;
    const HistogramValue& h = series.histogram;
    if (h.counts.size() != h.upper_bounds.size() + 1)
      return bad(family, "a histogram needs one count per bound and one above them");
    for (std::size_t i = 0; i < h.upper_bounds.size(); ++i)
      if (!std::isfinite(h.upper_bounds[i]) || (i > 0 && h.upper_bounds[i] <= h.upper_bounds[i - 1]))
        return bad(family, "a histogram's bounds must be finite and ascending");
  }
  return {};
}

void render_family(const MetricFamily& family, std::string& out) {
  out += "# HELP " + family.name + " " + escape_help(family.help) + "\n";
  out += "# TYPE " + family.name + " " + type_name(family.type) + "\n";
  for (const MetricSeries& series : family.series) {
    if (family.type != MetricType::kHistogram) {
      out += family.name + label_text(series.labels) + " " + format_value(series.value) + "\n";
      continue;
    }
    const HistogramValue& h = series.histogram;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= h.upper_bounds.size(); ++i) {
      cumulative += h.counts[i];
      MetricLabels labels = series.labels;
      labels.emplace_back("le", i < h.upper_bounds.size() ? format_value(h.upper_bounds[i]) : "+Inf");
      out += family.name + "_bucket" + label_text(labels) + " " + std::to_string(cumulative) + "\n";
    }
    out += family.name + "_sum" + label_text(series.labels) + " " + format_value(h.sum) + "\n";
    out += family.name + "_count" + label_text(series.labels) + " " + std::to_string(cumulative) + "\n";
  }
}

}  // namespace

Result<std::string> render_exposition(std::vector<MetricFamily> families) {
  std::sort(families.begin(), families.end(),
            [](const MetricFamily& a, const MetricFamily& b) { return a.name < b.name; });
  for (std::size_t i = 0; i < families.size(); ++i) {
    if (i > 0 && families[i].name == families[i - 1].name)
      return bad(families[i], "two families of this name");
    CANOPY_TRY(check_family(families[i]));
  }
  std::string out;
  for (MetricFamily& family : families) {
    std::sort(family.series.begin(), family.series.end(),
              [](const MetricSeries& a, const MetricSeries& b) { return a.labels < b.labels; });
    render_family(family, out);
  }
  return out;
}

}  // namespace canopy::server
