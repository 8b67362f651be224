#include "bench_server.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "package/package.h"
#include "report.h"

namespace canopy::bench {

namespace fs = std::filesystem;

BenchServer::BenchServer(const fs::path& canopy, const fs::path& data, const fs::path& trusted_key,
                         const std::vector<std::string>& extra_args) {
  const fs::path out = data.string() + ".out";
  fs::remove(out);
  std::vector<std::string> argv = {canopy.string(), "server",      "--data",        data.string(),
                                   "--listen",      "127.0.0.1:0", "--trusted-key", trusted_key.string()};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  const auto start = std::chrono::steady_clock::now();
  const auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  process_ = std::make_unique<Subprocess>(
      check(Subprocess::start({argv, {{"CANOPY_ADMIN_KEY", kAdminKey}}, out, data.string() + ".err"}),
            "start server"));
  while (url_.empty()) {
    std::ifstream in(out);
    for (std::string line; std::getline(in, line);)
      if (line.rfind("tls pin ", 0) == 0)
        tls_pin_ = line.substr(8);
      else if (line.rfind("listening on ", 0) == 0)
        url_ = line.substr(13);
    if (url_.empty()) {
      if (seconds() > 30) die("server did not start");
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  }
  startup_seconds_ = seconds();
}

BenchServer::~BenchServer() {
  process_->signal(SIGTERM);
  process_->wait();
}

double BenchServer::cpu_seconds() const {
  std::ifstream stat("/proc/" + std::to_string(process_->pid()) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after ") ".
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int index = 3; fields >> field && index <= 15; ++index)
    if (index == 14 || index == 15) ticks += std::stod(field);  // utime, stime
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double BenchServer::peak_rss_mib() const {
  std::ifstream status("/proc/" + std::to_string(process_->pid()) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

fs::path make_random_package(const fs::path& work, const std::string& name, std::uint64_t size_bytes,
                             unsigned seed, const KeyPair& key, const fs::path& output) {
  const fs::path dir = work / ("pkg-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream model(dir / "model.onnx", std::ios::binary);
    std::mt19937_64 rng(seed);
    std::vector<std::uint64_t> block(1 << 16);
    for (std::uint64_t written = 0; written < size_bytes; written += block.size() * 8) {
      for (auto& v : block) v = rng();
      model.write(
          reinterpret_cast<const char*>(block.data()),
          static_cast<std::streamsize>(std::min<std::uint64_t>(block.size() * 8, size_bytes - written)));
    }
  }
  package::InitOptions init;
  init.directory = dir;
  init.model = dir / "model.onnx";
  init.name = name;
  init.labels = {"healthy", "diseased", "water_stressed"};
  check(package::init_package(init), "init package");
  check(package::create_package(dir, output, key), "create package");
  fs::remove_all(dir);
  return output;
}

}  // namespace canopy::bench
