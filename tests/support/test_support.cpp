#include "test_support.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace canopy::testing {

fs::path canopy_binary() { return CANOPY_BINARY; }
fs::path train_binary() { return CANOPY_TRAIN_BINARY; }
fs::path agent_binary() { return CANOPY_AGENT_BINARY; }
fs::path examples_dir() { return CANOPY_EXAMPLES_DIR; }
fs::path browser_tests_dir() { return fs::path(CANOPY_SOURCE_DIR) / "tests" / "browser"; }
fs::path web_pages_dir() { return fs::path(CANOPY_SOURCE_DIR) / "web"; }

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "canopy-test-XXXXXX").string();
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

CommandResult run_shell(const std::string& command) {
  CommandResult result;
  std::string wrapped = "bash -c '" + [&] {
    std::string escaped;
    for (char c : command) escaped += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return escaped;
  }() + "' 2>&1";
  FILE* pipe = ::popen(wrapped.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

ServerProcess::ServerProcess(fs::path data_dir, std::vector<std::string> extra_args)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {
  start();
}

ServerProcess::~ServerProcess() { stop(); }

void ServerProcess::start() {
  ++starts_;
  fs::path out = data_dir_.string() + ".stdout." + std::to_string(starts_);
  // A second ServerProcess on the same data directory counts from 1 again:
  // the last one's "listening on" line must not be read as this one's.
  std::error_code ignored;
  fs::remove(out, ignored);
  std::vector<std::string> argv = {canopy_binary().string(), "server", "--data", data_dir_.string()};
  // An ephemeral port unless the test names one (to restart where clients left it).
  if (std::find(extra_args_.begin(), extra_args_.end(), "--listen") == extra_args_.end())
    argv.insert(argv.end(), {"--listen", "127.0.0.1:0"});
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  auto process =
      Subprocess::start({argv, {{"CANOPY_ADMIN_KEY", kAdminKey}}, out, data_dir_.string() + ".stderr"});
  ASSERT_TRUE(process.ok()) << process.error().message;
  process_ = std::make_unique<Subprocess>(std::move(*process));
  url_.clear();
  tls_pin_.clear();
  for (int i = 0; i < 200 && url_.empty(); ++i) {
    std::ifstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("tls pin ", 0) == 0) tls_pin_ = line.substr(8);
      if (line.rfind("listening on ", 0) == 0) url_ = line.substr(13);
    }
    if (url_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_FALSE(url_.empty()) << "server did not start: " << log();
}

void ServerProcess::stop() {
  if (!process_) return;
  process_->signal(SIGTERM);
  process_->wait();
  process_.reset();
}

void ServerProcess::signal(int signal_number) {
  if (process_) process_->signal(signal_number);
}

void ServerProcess::kill_hard() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait();
  process_.reset();
}

std::string ServerProcess::log() const { return read_bytes(data_dir_.string() + ".stderr"); }

void write_zip(const fs::path& path, const std::vector<ZipEntry>& entries) {
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_mtime(entry, 315532800, 0);
    if (e.kind == ZipEntry::Kind::kFile) {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_perm(entry, 0644);
      archive_entry_set_size(entry, static_cast<la_int64_t>(e.content.size()));
    } else if (e.kind == ZipEntry::Kind::kDirectory) {
      archive_entry_set_filetype(entry, AE_IFDIR);
      archive_entry_set_perm(entry, 0755);
    } else {
      archive_entry_set_filetype(entry, AE_IFLNK);
      archive_entry_set_perm(entry, 0777);
      archive_entry_set_symlink(entry, e.content.c_str());
    }
    ASSERT_EQ(archive_write_header(a, entry), ARCHIVE_OK) << archive_error_string(a);
    if (e.kind == ZipEntry::Kind::kFile && !e.content.empty())
      archive_write_data(a, e.content.data(), e.content.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
}

std::string random_bytes(size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

infer::Tensor from_floats(infer::Shape shape, std::vector<float> values) {
  if (infer::element_count(shape) != static_cast<std::int64_t>(values.size())) {
    throw std::invalid_argument("from_floats: " + std::to_string(values.size()) + " values for shape " +
                                infer::shape_to_string(shape));
  }
  infer::Tensor tensor = infer::Tensor::allocate(infer::DataType::kFloat32, std::move(shape));
  if (!values.empty()) std::memcpy(tensor.raw(), values.data(), values.size() * sizeof(float));
  return tensor;
}

std::vector<std::string> list_files(const fs::path& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator(); ++it)
    if (it->is_regular_file()) out.push_back(fs::relative(it->path(), root).string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace canopy::testing
