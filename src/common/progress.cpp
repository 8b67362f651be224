#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

#include "common/files.h"

namespace canopy {

namespace {

std::string format_amount(std::uint64_t value, bool bytes) {
  return bytes ? format_bytes(value) : std::to_string(value);
}

}  // namespace

ProgressReporter::ProgressReporter(std::string label, std::uint64_t total, bool unit_is_bytes)
    : label_(std::move(label)), total_(total), bytes_(unit_is_bytes),
      tty_(::isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressReporter::update(std::uint64_t done) {
  done_ = done;
  auto now = std::chrono::steady_clock::now();
  auto interval = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (now - last_draw_ >= interval) {
    last_draw_ = now;
    draw(false);
  }
}

void ProgressReporter::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void ProgressReporter::draw(bool final_line) {
  if (silent_) return;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
  std::string rate_text = format_amount(static_cast<std::uint64_t>(rate), bytes_) + "/s";
  std::string line = label_ + " ";
  if (total_ > 0) {
    double fraction = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    if (tty_) {
      constexpr int kWidth = 30;
      int filled = static_cast<int>(fraction * kWidth);
      line += "[" + std::string(static_cast<size_t>(filled), '#') +
              std::string(static_cast<size_t>(kWidth - filled), '.') + "] ";
    }
    char pct[16];
    std::snprintf(pct, sizeof pct, "%3.0f%% ", fraction * 100.0);
    line += pct + format_amount(done_, bytes_) + "/" + format_amount(total_, bytes_);
    if (!final_line && rate > 0) {
      char eta[32];
      std::snprintf(eta, sizeof eta, " ETA %.0fs", static_cast<double>(total_ - std::min(done_, total_)) / rate);
      line += " " + rate_text + eta;
    } else {
      line += " " + rate_text;
    }
  } else {
    line += format_amount(done_, bytes_) + " " + rate_text;
  }
  if (!detail_.empty()) line += "  " + detail_;
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace canopy
