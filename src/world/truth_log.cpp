#include "world/truth_log.h"

#include <cmath>
#include <fstream>

namespace canopy::world {

Status TruthLog::append(std::string_view stream, const Json& record) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create " + dir_.string() + ": " + ec.message());
  const std::filesystem::path path = dir_ / (std::string(stream) + ".jsonl");
  std::ofstream file(path, std::ios::binary | std::ios::app);
  const std::string line = record.dump() + "\n";
  file.write(line.data(), std::streamsize(line.size()));
  if (!file.flush()) return make_error(ErrorCode::kIo, "cannot append to " + path.string());
  return {};
}

double rounded(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

}  // namespace canopy::world
