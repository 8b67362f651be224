// Helpers shared by the test suites: temp directories, real child processes
// (the canopy binary, curl, zip), a registry server fixture, and a zip writer
// that can craft the malicious archives a real attacker would send.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/subprocess.h"
#include "infer/tensor.h"

namespace canopy::testing {

namespace fs = std::filesystem;

// Path of the canopy binary under test (set by CMake).
fs::path canopy_binary();
// The other programs and the examples folder of this build. Their paths live
// in test_support.cpp alone, so no other test file's compile line names a
// folder and a clone in another folder reuses the compiler cache.
fs::path train_binary();
fs::path agent_binary();
fs::path examples_dir();
// The browser tests (tests/browser: node --test files, their npm packages installed by
// scripts/install-browser-tests.sh).
fs::path browser_tests_dir();
// The web pages of the source tree (web/), as `canopy server --web-dir` serves them.
fs::path web_pages_dir();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `command` with bash -c, capturing its output.
CommandResult run_shell(const std::string& command);

// `canopy server` on an ephemeral loopback port with a known admin key.
class ServerProcess {
 public:
  static constexpr const char* kAdminKey = "test-admin-key-0123456789abcdef";
  ServerProcess(fs::path data_dir, std::vector<std::string> extra_args = {});
  ~ServerProcess();
  // (Re)starts and waits until it listens; fails the test if it does not.
  void start();
  void stop();       // SIGTERM and wait
  void kill_hard();  // SIGKILL and wait: a crash
  const std::string& url() const { return url_; }
  // The "tls pin sha256//..." the server printed; "" for plain HTTP.
  const std::string& tls_pin() const { return tls_pin_; }
  void signal(int signal_number);
  std::string log() const;

 private:
  fs::path data_dir_;
  std::vector<std::string> extra_args_;
  std::unique_ptr<Subprocess> process_;
  std::string url_, tls_pin_;
  int starts_ = 0;
};

// One entry of a crafted zip.
struct ZipEntry {
  enum class Kind { kFile, kDirectory, kSymlink };
  std::string name;
  std::string content;  // file bytes, or the symlink target
  Kind kind = Kind::kFile;
};
void write_zip(const fs::path& path, const std::vector<ZipEntry>& entries);

std::string random_bytes(size_t size, unsigned seed);
void write_bytes(const fs::path& path, const std::string& bytes);
std::string read_bytes(const fs::path& path);

// A float32 tensor of `shape` holding `values` (their count must match).
infer::Tensor from_floats(infer::Shape shape, std::vector<float> values);

// Lists every regular file under `root` (relative paths, sorted).
std::vector<std::string> list_files(const fs::path& root);

}  // namespace canopy::testing
