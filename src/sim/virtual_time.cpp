#include "sim/virtual_time.h"

#include <chrono>

namespace canopy::sim {

namespace {

// Short enough that virtual time moves smoothly (a second of it per step at
// 1000x), long enough that the thread costs next to nothing.
constexpr std::chrono::milliseconds kStep{1};

}  // namespace

Result<std::unique_ptr<VirtualTime>> VirtualTime::start(const std::filesystem::path& file,
                                                        std::int64_t start_wall_ms, double speed) {
  if (!(speed > 0)) return make_error(ErrorCode::kInvalidArgument, "the speed of virtual time must be positive");
  CANOPY_ASSIGN_OR_RETURN(std::unique_ptr<SharedClockWriter> writer,
                          SharedClockWriter::create(file, start_wall_ms, speed));
  CANOPY_ASSIGN_OR_RETURN(std::unique_ptr<SharedFileClock> clock, SharedFileClock::open(file));
  return std::unique_ptr<VirtualTime>(new VirtualTime(std::move(writer), std::move(clock), speed));
}

VirtualTime::VirtualTime(std::unique_ptr<SharedClockWriter> writer, std::unique_ptr<SharedFileClock> clock,
                         double speed)
    : writer_(std::move(writer)), clock_(std::move(clock)), speed_(speed), thread_([this] { run(); }) {}

VirtualTime::~VirtualTime() {
  stop_.store(true);
  thread_.join();
}

void VirtualTime::run() {
  const auto began = std::chrono::steady_clock::now();
  while (!stop_.load()) {
    std::this_thread::sleep_for(kStep);
    const double real_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count();
    writer_->advance_ms(static_cast<std::int64_t>(real_ms * speed_) - writer_->monotonic_ms());
  }
}

}  // namespace canopy::sim
