// Progress for long work. On a terminal: one redrawn line with a bar, rate
// and ETA. Otherwise (logs, CI): a plain line at most every few seconds and
// at the end. Writes to stderr so stdout stays for results.
// Thread-safety: one reporter per task; update() from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace canopy {

class ProgressReporter {
 public:
  // `total` may be 0 when unknown; `unit_is_bytes` picks byte formatting.
  ProgressReporter(std::string label, std::uint64_t total, bool unit_is_bytes = true);
  void set_total(std::uint64_t total) { total_ = total; }
  void update(std::uint64_t done);
  // Extra text shown after the rate, e.g. current losses; kept until replaced.
  void set_detail(std::string detail) { detail_ = std::move(detail); }
  void finish();
  // Suppresses all output (for --quiet and for tests).
  void silence() { silent_ = true; }

 private:
  void draw(bool final_line);
  std::string label_;
  std::string detail_;
  std::uint64_t total_;
  std::uint64_t done_ = 0;
  bool bytes_;
  bool tty_;
  bool silent_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace canopy
