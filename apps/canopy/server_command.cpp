#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli.h"
#include "server/server.h"

namespace canopy::cli {

namespace {

Result<std::pair<std::string, int>> parse_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    return make_error(ErrorCode::kInvalidArgument,
                      "--listen '" + listen + "' must be HOST:PORT, e.g. 127.0.0.1:8080");
  try {
    int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    return std::make_pair(listen.substr(0, colon), port);
  } catch (const std::exception&) {
    return make_error(ErrorCode::kInvalidArgument, "--listen '" + listen + "' has no valid port (0-65535)");
  }
}

}  // namespace

void register_server_command(CLI::App& app, Globals& globals, int& exit_code) {
  auto* command = app.add_subcommand("server", "Run the registry and control-plane server");
  auto trusted = std::make_shared<std::vector<std::string>>();
  command->add_option_function<std::string>(
      "--data", [&globals](const std::string& v) { globals.flags["data"] = v; },
      "data directory (also CANOPY_DATA; default ./canopy-data)");
  command->add_option_function<std::string>(
      "--listen", [&globals](const std::string& v) { globals.flags["listen"] = v; },
      "HOST:PORT to listen on; port 0 picks a free one (also CANOPY_LISTEN; default 127.0.0.1:8080)");
  command->add_option_function<std::string>(
      "--max-upload-bytes", [&globals](const std::string& v) { globals.flags["max_upload_bytes"] = v; },
      "largest package accepted (also CANOPY_MAX_UPLOAD_BYTES; default 4 GiB)");
  command->add_option_function<std::string>(
      "--max-compression-ratio",
      [&globals](const std::string& v) { globals.flags["max_compression_ratio"] = v; },
      "largest uncompressed:compressed ratio of a package (default 100)");
  command->add_option_function<std::string>(
      "--poll-interval", [&globals](const std::string& v) { globals.flags["poll_interval_s"] = v; },
      "seconds between device polls, sent to every device (also CANOPY_POLL_INTERVAL_S; default 30)");
  command->add_option_function<std::string>(
      "--sample-days", [&globals](const std::string& v) { globals.flags["sample_days"] = v; },
      "days an unlabeled sample is kept (also CANOPY_SAMPLE_DAYS; default 90)");
  command->add_option_function<std::string>(
      "--samples-max-bytes", [&globals](const std::string& v) { globals.flags["samples_max_bytes"] = v; },
      "the sample images together at most this large, the oldest unlabeled removed first "
      "(also CANOPY_SAMPLES_MAX_BYTES; default 50 GiB)");
  command->add_option_function<std::string>(
      "--samples-device-max-bytes",
      [&globals](const std::string& v) { globals.flags["samples_device_max_bytes"] = v; },
      "one device's sample images at most this large; more are refused "
      "(also CANOPY_SAMPLES_DEVICE_MAX_BYTES; default 2 GiB)");
  command->add_option_function<std::string>(
      "--samples-per-device", [&globals](const std::string& v) { globals.flags["samples_per_device"] = v; },
      "samples one device may have stored; more are refused (also CANOPY_SAMPLES_PER_DEVICE; default 50000)");
  command->add_option_function<std::string>(
      "--web-dir", [&globals](const std::string& v) { globals.flags["web_dir"] = v; },
      "the web pages to serve (also CANOPY_WEB_DIR; default: the web/ folder of the source tree this was "
      "built from)");
  command->add_option_function<std::string>(
      "--drift-window", [&globals](const std::string& v) { globals.flags["drift_window_s"] = v; },
      "seconds of device time in the drift monitor's reference and latest windows "
      "(also CANOPY_DRIFT_WINDOW_S; default 86400)");
  command->add_option_function<std::string>(
      "--job-lease", [&globals](const std::string& v) { globals.flags["job_lease_s"] = v; },
      "seconds a worker's lease on a retrain job lasts unless renewed (also CANOPY_JOB_LEASE_S; default 60)");
  command->add_option_function<std::string>(
      "--tls-cert", [&globals](const std::string& v) { globals.flags["tls_cert"] = v; },
      "serve HTTPS with this certificate (PEM, the chain after it; also CANOPY_TLS_CERT); SIGHUP reads it "
      "again");
  command->add_option_function<std::string>(
      "--tls-key", [&globals](const std::string& v) { globals.flags["tls_key"] = v; },
      "the certificate's private key (PEM; also CANOPY_TLS_KEY)");
  command->add_option_function<std::string>(
      "--request-timeout", [&globals](const std::string& v) { globals.flags["request_timeout_s"] = v; },
      "seconds a client has to send a request's headers (from connecting or from the previous response), "
      "and a body's first bytes; slower clients are dropped (also CANOPY_REQUEST_TIMEOUT_S; default 10)");
  command->add_option_function<std::string>(
      "--min-upload-rate", [&globals](const std::string& v) { globals.flags["min_upload_rate"] = v; },
      "bytes a second a request body must average after its first --request-timeout seconds; slower "
      "clients are dropped (also CANOPY_MIN_UPLOAD_RATE; default 1024)");
  command->add_option_function<std::string>(
      "--min-download-rate", [&globals](const std::string& v) { globals.flags["min_download_rate"] = v; },
      "bytes a second a client must average taking a response after its first --request-timeout "
      "seconds; slower clients are dropped (also CANOPY_MIN_DOWNLOAD_RATE; default 1024)");
  command->add_option_function<std::string>(
      "--device-certificates", [&globals](const std::string& v) { globals.flags["device_certificates"] = v; },
      "mutual TLS for devices (needs HTTPS): off, optional or required. Not off: the server asks each "
      "client for a certificate (browsers and API-key clients may send none), and on the device routes "
      "and at enrollment a certificate must be over the device's enrolled key; required: a device without "
      "one is refused (also CANOPY_DEVICE_CERTIFICATES; default off)");
  auto self_signed = std::make_shared<bool>(false);
  auto allow_plain_http = std::make_shared<bool>(false);
  command->add_flag("--self-signed", *self_signed,
                    "serve HTTPS with a self-signed certificate made on the first start (DATA/tls/); "
                    "prints the pin clients are given");
  command->add_flag("--allow-plain-http", *allow_plain_http,
                    "serve plain HTTP on an address other than loopback (behind a TLS proxy only)");
  command->add_option("--trusted-key", *trusted,
                      "publisher public key whose signed packages are accepted (repeatable)");
  set_action(command, exit_code, [&globals, trusted, self_signed, allow_plain_http, &exit_code]() -> Status {
    server::ServerOptions options;
    options.data_dir = globals.config.get("data", "canopy-data");
    CANOPY_ASSIGN_OR_RETURN(auto listen, parse_listen(globals.config.get("listen", "127.0.0.1:8080")));
    options.host = listen.first;
    options.port = listen.second;
    CANOPY_ASSIGN_OR_RETURN(long long max_upload, globals.config.get_int("max_upload_bytes", 4ll << 30));
    if (max_upload <= 0)
      return make_error(ErrorCode::kInvalidArgument, "--max-upload-bytes must be positive");
    options.max_upload_bytes = static_cast<std::uint64_t>(max_upload);
    options.limits.max_total_bytes = options.max_upload_bytes * 4;
    CANOPY_ASSIGN_OR_RETURN(long long ratio, globals.config.get_int("max_compression_ratio", 100));
    options.limits.max_compression_ratio = static_cast<double>(ratio);
    for (const auto& file : *trusted) options.trusted_key_files.emplace_back(file);
    options.admin_key = globals.config.get("admin_key");
    CANOPY_ASSIGN_OR_RETURN(long long poll_interval, globals.config.get_int("poll_interval_s", 30));
    if (poll_interval < 1 || poll_interval > 86400)
      return make_error(ErrorCode::kInvalidArgument, "--poll-interval must be between 1 and 86400 seconds");
    options.poll_interval_s = poll_interval;
    options.web_dir = globals.config.get("web_dir");
    // Without --web-dir, the pages of the source tree when it is still there
    // (an installed server without them serves the API alone).
    if (options.web_dir.empty() &&
        std::filesystem::is_directory(std::filesystem::path(CANOPY_WEB_DIR) / "label"))
      options.web_dir = CANOPY_WEB_DIR;
    CANOPY_ASSIGN_OR_RETURN(options.sample_days, globals.config.get_int("sample_days", 90));
    CANOPY_ASSIGN_OR_RETURN(options.samples_max_bytes,
                            globals.config.get_int("samples_max_bytes", 50ll << 30));
    CANOPY_ASSIGN_OR_RETURN(options.samples_device_max_bytes,
                            globals.config.get_int("samples_device_max_bytes", 2ll << 30));
    CANOPY_ASSIGN_OR_RETURN(options.samples_per_device, globals.config.get_int("samples_per_device", 50'000));
    // The upper bound on days keeps the retention time in milliseconds far from overflowing.
    if (options.sample_days < 1 || options.sample_days > 36'500)
      return make_error(ErrorCode::kInvalidArgument, "--sample-days must be between 1 and 36500");
    if (options.samples_max_bytes <= 0 || options.samples_device_max_bytes <= 0 ||
        options.samples_per_device <= 0)
      return make_error(ErrorCode::kInvalidArgument,
                        "--samples-max-bytes, --samples-device-max-bytes and "
                        "--samples-per-device must be positive");
    CANOPY_ASSIGN_OR_RETURN(options.drift_window_s, globals.config.get_int("drift_window_s", 86'400));
    if (options.drift_window_s < 3600 || options.drift_window_s > 90 * 86'400)
      return make_error(ErrorCode::kInvalidArgument,
                        "--drift-window must be between 3600 and 7776000 seconds");
    CANOPY_ASSIGN_OR_RETURN(options.job_lease_s, globals.config.get_int("job_lease_s", 60));
    if (options.job_lease_s < 3 || options.job_lease_s > 86'400)
      return make_error(ErrorCode::kInvalidArgument, "--job-lease must be between 3 and 86400 seconds");
    CANOPY_ASSIGN_OR_RETURN(options.request_timeout_s, globals.config.get_int("request_timeout_s", 10));
    if (options.request_timeout_s < 1 || options.request_timeout_s > 3600)
      return make_error(ErrorCode::kInvalidArgument, "--request-timeout must be between 1 and 3600 seconds");
    CANOPY_ASSIGN_OR_RETURN(options.min_upload_rate, globals.config.get_int("min_upload_rate", 1024));
    if (options.min_upload_rate < 1)
      return make_error(ErrorCode::kInvalidArgument, "--min-upload-rate must be at least 1 byte a second");
    CANOPY_ASSIGN_OR_RETURN(options.min_download_rate, globals.config.get_int("min_download_rate", 1024));
    if (options.min_download_rate < 1)
      return make_error(ErrorCode::kInvalidArgument, "--min-download-rate must be at least 1 byte a second");
    options.tls_cert_file = globals.config.get("tls_cert");
    options.tls_key_file = globals.config.get("tls_key");
    options.self_signed = *self_signed;
    options.allow_plain_http = *allow_plain_http;
    const std::string device_certificates = globals.config.get("device_certificates", "off");
    CANOPY_ASSIGN_OR_RETURN(options.device_certificates,
                            server::parse_device_certificates(device_certificates));
    if (options.tls_cert_file.empty() != options.tls_key_file.empty() && !options.self_signed)
      return make_error(ErrorCode::kInvalidArgument, "--tls-cert and --tls-key go together");
    exit_code = server::run_server(options);
    return {};
  });

  auto* publishing =
      app.add_subcommand("publishing-key", "The server's key that signs packages uploaded unsigned");
  publishing->require_subcommand(1);
  auto* rotate = publishing->add_subcommand(
      "rotate",
      "Replace the publishing key with a new one endorsed by it (the server stopped); devices trust the new "
      "key "
      "from their next poll, and what the old key signed stays valid (docs/security.md)");
  rotate->add_option_function<std::string>(
      "--data", [&globals](const std::string& v) { globals.flags["data"] = v; },
      "the server's data directory (also CANOPY_DATA; default ./canopy-data)");
  set_action(rotate, exit_code, [&globals]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(std::string key_id,
                            server::rotate_publishing_key_of(globals.config.get("data", "canopy-data")));
    std::printf("publishing key rotated: new key %s; start the server again\n", key_id.c_str());
    return {};
  });
}

}  // namespace canopy::cli
