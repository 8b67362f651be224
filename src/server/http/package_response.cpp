#include "server/http/package_response.h"

#include <algorithm>
#include <fstream>
#include <memory>

#include "server/http/middleware.h"

namespace canopy::server {

void serve_package(const VersionRecord& record, const fs::path& path, const httplib::Request& req,
                   httplib::Response& res) {
  const std::string etag = "\"" + record.blob_sha256 + "\"";
  res.set_header("ETag", etag);
  res.set_header("Accept-Ranges", "bytes");
  res.set_header("X-Canopy-Model", record.model);
  res.set_header("X-Canopy-Version", std::to_string(record.version));
  if (req.get_header_value("If-None-Match") == etag) {
    res.status = 304;
    return;
  }
  // Opened before answering: a concurrent delete unlinks the path, not our descriptor.
  auto file = std::make_shared<std::ifstream>(path, std::ios::binary);
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (!*file || ec)
    return send_error(res, make_error(ErrorCode::kIo, "package file is missing from the store"));
  // cpp-httplib 0.11 slices the body by req.ranges without checking them
  // against the length: answer 416 for a range that starts past the end and
  // clamp one that ends past it, as RFC 9110 asks.
  auto& ranges = const_cast<httplib::Request&>(req).ranges;
  const auto file_length = static_cast<ssize_t>(size);
  for (auto& [first, last] : ranges) {
    if (first < 0) {  // a suffix range "bytes=-N": the last N bytes
      last = std::min(last, file_length);
      continue;
    }
    if (first >= file_length) {
      ranges.clear();  // or httplib would slice the error body too
      res.set_header("Content-Range", "bytes */" + std::to_string(size));
      return send_error(
          res, make_error(ErrorCode::kInvalidArgument, "range starts past the end of the package"), 416);
    }
    if (last >= file_length) last = file_length - 1;
  }
  res.set_header("Content-Disposition",
                 "attachment; filename=\"" + record.model + "-v" + std::to_string(record.version) + ".zip\"");
  // httplib applies a Range header to a sized content provider (206 + Content-Range).
  res.set_content_provider(static_cast<size_t>(size), "application/zip",
                           [file](size_t offset, size_t length, httplib::DataSink& sink) {
                             std::vector<char> buffer(std::min<size_t>(length, 1 << 18));
                             file->seekg(static_cast<std::streamoff>(offset));
                             file->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
                             auto n = static_cast<size_t>(file->gcount());
                             if (n == 0) return false;
                             return sink.write(buffer.data(), n);
                           });
}

}  // namespace canopy::server
