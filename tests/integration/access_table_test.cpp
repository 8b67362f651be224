// Who may call each route (docs/api.md, "Access"). The real server, started
// in this process so that it can be asked for every route it registered
// (HttpServer::routes()), is sent a request on every route by every kind of
// caller over real HTTP, and each answer must be the status this file's
// table holds. A route the table lacks fails, and so does a row without its
// route: adding a route means deciding here who may call it.
//
// The callers are no credentials, a real enrolled device's token, and an API
// key of each role; a publisher's session goes through the table too. 401
// answers no or unknown credentials (an API key on a device route, a device
// token anywhere else), 403 a caller known but without the role; any other
// status is the handler's answer to the sample request. The samples name
// nothing that exists and send empty bodies, so a caller let through gets a
// 404 or a 400 rather than a change another row would see.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <regex>
#include <thread>

#include "common/http_client.h"
#include "common/json.h"
#include "fleet_fixture.h"
#include "server/http/http_server.h"
#include "server/server.h"
#include "test_support.h"

namespace canopy::testing {
namespace {

using server::RouteAccess;
using server::RouteInfo;

// The table's columns.
enum Caller { kNone, kDevice, kReader, kLabeler, kPublisher, kOperator, kAdmin, kCallerCount };
constexpr const char* kCallerNames[kCallerCount] = {"none",      "device",   "reader", "labeler",
                                                    "publisher", "operator", "admin"};
// The role of each key column (none and device have none: refusal() decides for them first).
constexpr server::Role kRoleOf[kCallerCount] = {
    server::Role::kReader,    server::Role::kReader,   server::Role::kReader, server::Role::kLabeler,
    server::Role::kPublisher, server::Role::kOperator, server::Role::kAdmin};

struct Row {
  const char* method;
  const char* pattern;      // as the server registers it
  const char* sample_path;  // a path the pattern matches, and a query when the route needs one
  std::array<int, kCallerCount> expected;
};

// clang-format off
const Row kAccessTable[] = {
  //                                                                                                                            none dev  read lab  pub  oper admin
  {"GET",    "/api/v1/health",                                                 "/api/v1/health",                               {200, 200, 200, 200, 200, 200, 200}},
  // Registry
  {"PUT",    R"(/(?:repository/)?([^/]+\.zip))",                               "/repository/model.zip",                        {401, 401, 403, 403, 400, 400, 400}},
  {"POST",   R"(/api/v1/models/([^/]+)/versions)",                             "/api/v1/models/m/versions",                    {401, 401, 403, 403, 400, 400, 400}},
  {"GET",    "/api/v1/models",                                                 "/api/v1/models",                               {401, 401, 200, 403, 200, 200, 200}},
  {"GET",    R"(/api/v1/models/([^/]+))",                                      "/api/v1/models/m",                             {401, 401, 404, 403, 404, 404, 404}},
  {"GET",    R"(/api/v1/models/([^/]+)/versions/([^/]+))",                     "/api/v1/models/m/versions/1",                  {401, 401, 404, 403, 404, 404, 404}},
  {"GET",    R"(/api/v1/models/([^/]+)/versions/([^/]+)/package)",             "/api/v1/models/m/versions/1/package",          {401, 401, 404, 403, 404, 404, 404}},
  {"DELETE", R"(/api/v1/models/([^/]+)/versions/([^/]+))",                     "/api/v1/models/m/versions/1",                  {401, 401, 403, 403, 403, 403, 404}},
  {"GET",    R"(/api/v1/models/([^/]+)/aliases/([^/]+))",                      "/api/v1/models/m/aliases/production",          {401, 401, 404, 403, 404, 404, 404}},
  {"PUT",    R"(/api/v1/models/([^/]+)/aliases/([^/]+))",                      "/api/v1/models/m/aliases/production",          {401, 401, 403, 403, 400, 400, 400}},
  {"DELETE", R"(/api/v1/models/([^/]+)/aliases/([^/]+))",                      "/api/v1/models/m/aliases/production",          {401, 401, 403, 403, 404, 404, 404}},
  {"GET",    R"(/api/v1/models/([^/]+)/aliases/([^/]+)/history)",              "/api/v1/models/m/aliases/production/history",  {401, 401, 404, 403, 404, 404, 404}},
  {"GET",    "/api/v1/publisher-key",                                          "/api/v1/publisher-key",                        {401, 401, 200, 403, 200, 200, 200}},
  // API keys
  {"GET",    "/api/v1/keys",                                                   "/api/v1/keys",                                 {401, 401, 403, 403, 403, 403, 200}},
  {"GET",    "/api/v1/audit",                                                  "/api/v1/audit",                                {401, 401, 403, 403, 403, 403, 200}},
  {"POST",   "/api/v1/keys",                                                   "/api/v1/keys",                                 {401, 401, 403, 403, 403, 403, 400}},
  {"DELETE", R"(/api/v1/keys/([^/]+))",                                        "/api/v1/keys/000000000000",                    {401, 401, 403, 403, 403, 403, 404}},
  // Sessions and users
  {"POST",   "/api/v1/session",                                                "/api/v1/session",                              {400, 400, 400, 400, 400, 400, 400}},
  {"GET",    "/api/v1/session",                                                "/api/v1/session",                              {200, 200, 200, 200, 200, 200, 200}},
  {"DELETE", "/api/v1/session",                                                "/api/v1/session",                              {401, 401, 401, 401, 401, 401, 401}},
  {"GET",    "/api/v1/users",                                                  "/api/v1/users",                                {401, 401, 403, 403, 403, 403, 200}},
  {"POST",   "/api/v1/users",                                                  "/api/v1/users",                                {401, 401, 403, 403, 403, 403, 400}},
  {"PATCH",  R"(/api/v1/users/([^/]+))",                                       "/api/v1/users/nobody",                         {401, 401, 403, 403, 403, 403, 400}},
  {"DELETE", R"(/api/v1/users/([^/]+))",                                       "/api/v1/users/nobody",                         {401, 401, 403, 403, 403, 403, 404}},
  // Pipeline runs
  {"POST",   "/api/v1/runs",                                                   "/api/v1/runs",                                 {401, 401, 403, 403, 400, 400, 400}},
  {"GET",    "/api/v1/runs",                                                   "/api/v1/runs",                                 {401, 401, 200, 403, 200, 200, 200}},
  {"GET",    R"(/api/v1/runs/([^/]+))",                                        "/api/v1/runs/r",                               {401, 401, 404, 403, 404, 404, 404}},
  // The fleet: enrollment, the device API, and its operators
  {"POST",   "/api/v1/enroll",                                                 "/api/v1/enroll",                               {400, 400, 400, 400, 400, 400, 400}},
  {"GET",    "/api/v1/device/desired",                                         "/api/v1/device/desired",                       {401, 200, 401, 401, 401, 401, 401}},
  {"POST",   "/api/v1/device/token",                                           "/api/v1/device/token",                         {401, 201, 401, 401, 401, 401, 401}},
  {"GET",    R"(/api/v1/device/packages/([^/]+)/([^/]+))",                     "/api/v1/device/packages/m/1",                  {401, 404, 401, 401, 401, 401, 401}},
  {"POST",   "/api/v1/device/status",                                          "/api/v1/device/status",                        {401, 400, 401, 401, 401, 401, 401}},
  {"POST",   "/api/v1/enrollment-tokens",                                      "/api/v1/enrollment-tokens",                    {401, 401, 403, 403, 403, 400, 400}},
  {"GET",    "/api/v1/enrollment-tokens",                                      "/api/v1/enrollment-tokens",                    {401, 401, 403, 403, 403, 200, 200}},
  {"GET",    "/api/v1/devices",                                                "/api/v1/devices",                              {401, 401, 200, 403, 200, 200, 200}},
  {"GET",    "/api/v1/fleet/summary",                                          "/api/v1/fleet/summary",                        {401, 401, 200, 403, 200, 200, 200}},
  {"GET",    "/api/v1/events",                                                 "/api/v1/events?after=0",                       {401, 401, 200, 403, 200, 200, 200}},
  {"GET",    R"(/api/v1/devices/([^/]+))",                                     "/api/v1/devices/unknown",                      {401, 401, 404, 403, 404, 404, 404}},
  {"POST",   R"(/api/v1/devices/([^/]+)/(approve|revoke|decommission))",       "/api/v1/devices/unknown/approve",              {401, 401, 403, 403, 403, 404, 404}},
  {"PUT",    R"(/api/v1/devices/([^/]+)/field-config)",                        "/api/v1/devices/unknown/field-config",         {401, 401, 403, 403, 400, 400, 400}},
  {"GET",    R"(/api/v1/devices/([^/]+)/field-config)",                        "/api/v1/devices/unknown/field-config",         {401, 401, 404, 403, 404, 404, 404}},
  {"POST",   "/api/v1/deployments",                                            "/api/v1/deployments",                          {401, 401, 403, 403, 400, 400, 400}},
  {"GET",    "/api/v1/deployments",                                            "/api/v1/deployments",                          {401, 401, 200, 403, 200, 200, 200}},
  {"GET",    R"(/api/v1/deployments/([^/]+))",                                 "/api/v1/deployments/1",                        {401, 401, 404, 403, 404, 404, 404}},
  {"POST",   R"(/api/v1/deployments/([^/]+)/(pause|resume|abort|rollback))",   "/api/v1/deployments/1/pause",                  {401, 401, 403, 403, 404, 404, 404}},
  // Field data
  {"POST",   "/api/v1/device/records",                                         "/api/v1/device/records",                       {401, 400, 401, 401, 401, 401, 401}},
  {"GET",    R"(/api/v1/devices/([^/]+)/readings)",                            "/api/v1/devices/unknown/readings",             {401, 401, 404, 403, 404, 404, 404}},
  {"GET",    R"(/api/v1/devices/([^/]+)/telemetry)",                           "/api/v1/devices/unknown/telemetry",            {401, 401, 404, 403, 404, 404, 404}},
  {"GET",    R"(/api/v1/devices/([^/]+)/irrigation)",                          "/api/v1/devices/unknown/irrigation",           {401, 401, 404, 403, 404, 404, 404}},
  {"GET",    R"(/api/v1/devices/([^/]+)/plants)",                              "/api/v1/devices/unknown/plants",               {401, 401, 404, 403, 404, 404, 404}},
  {"GET",    "/api/v1/alerts",                                                 "/api/v1/alerts",                               {401, 401, 200, 403, 200, 200, 200}},
  {"POST",   R"(/api/v1/alerts/([^/]+)/ack)",                                  "/api/v1/alerts/1/ack",                         {401, 401, 403, 403, 404, 404, 404}},
  // Samples
  {"GET",    "/api/v1/samples",                                                "/api/v1/samples",                              {401, 401, 200, 403, 200, 200, 200}},
  {"GET",    "/api/v1/samples/stats",                                          "/api/v1/samples/stats",                        {401, 401, 200, 403, 200, 200, 200}},
  {"GET",    R"(/api/v1/samples/([^/]+/[^/]+/[0-9]+)/(image|thumbnail))",      "/api/v1/samples/dev/cam/1/image",              {401, 401, 404, 403, 404, 404, 404}},
  {"GET",    R"(/api/v1/samples/([^/]+/[^/]+/[0-9]+))",                        "/api/v1/samples/dev/cam/1",                    {401, 401, 404, 403, 404, 404, 404}},
  // Labeling
  {"POST",   "/api/v1/labeling/next",                                          "/api/v1/labeling/next",                        {401, 401, 403, 200, 200, 200, 200}},
  {"GET",    "/api/v1/labeling/stats",                                         "/api/v1/labeling/stats",                       {401, 401, 403, 200, 200, 200, 200}},
  {"GET",    R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+)/image)",           "/api/v1/labeling/tasks/dev/cam/1/image",       {401, 401, 403, 404, 404, 404, 404}},
  {"GET",    R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+)/revisions)",       "/api/v1/labeling/tasks/dev/cam/1/revisions",   {401, 401, 403, 404, 404, 404, 404}},
  {"GET",    R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+))",                 "/api/v1/labeling/tasks/dev/cam/1",             {401, 401, 403, 404, 404, 404, 404}},
  {"POST",   R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+)/submit)",          "/api/v1/labeling/tasks/dev/cam/1/submit",      {401, 401, 403, 400, 400, 400, 400}},
  {"POST",   R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+)/(skip|release))",  "/api/v1/labeling/tasks/dev/cam/1/skip",        {401, 401, 403, 404, 404, 404, 404}},
  {"POST",   R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+)/reject)",          "/api/v1/labeling/tasks/dev/cam/1/reject",      {401, 401, 403, 400, 400, 400, 400}},
  {"POST",   R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+)/predict)",         "/api/v1/labeling/tasks/dev/cam/1/predict",     {401, 401, 403, 404, 404, 404, 404}},
  {"POST",   R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+)/review)",          "/api/v1/labeling/tasks/dev/cam/1/review",      {401, 401, 403, 403, 400, 400, 400}},
  // Datasets
  {"GET",    "/api/v1/datasets",                                               "/api/v1/datasets",                             {401, 401, 200, 403, 200, 200, 200}},
  {"POST",   R"(/api/v1/datasets/([^/]+)/versions)",                           "/api/v1/datasets/d/versions",                  {401, 401, 403, 403, 400, 400, 400}},
  {"GET",    R"(/api/v1/datasets/([^/]+)/versions/([0-9]+))",                  "/api/v1/datasets/d/versions/1",                {401, 401, 404, 403, 404, 404, 404}},
  {"PUT",    R"(/api/v1/datasets/images/([0-9a-f]{64}))",                      "/api/v1/datasets/images/0000000000000000000000000000000000000000000000000000000000000000", {401, 401, 403, 403, 400, 400, 400}},
  {"GET",    R"(/api/v1/datasets/images/([0-9a-f]{64}))",                      "/api/v1/datasets/images/0000000000000000000000000000000000000000000000000000000000000000", {401, 401, 404, 403, 404, 404, 404}},
  {"POST",   R"(/api/v1/datasets/([^/]+)/imports)",                            "/api/v1/datasets/d/imports",                   {401, 401, 403, 403, 400, 400, 400}},
  // The closed loop
  {"GET",    "/api/v1/retrain/policies",                                       "/api/v1/retrain/policies",                     {401, 401, 200, 403, 200, 200, 200}},
  {"GET",    R"(/api/v1/retrain/policies/([^/]+))",                            "/api/v1/retrain/policies/m",                   {401, 401, 404, 403, 404, 404, 404}},
  {"PUT",    R"(/api/v1/retrain/policies/([^/]+))",                            "/api/v1/retrain/policies/m",                   {401, 401, 403, 403, 403, 403, 400}},
  {"DELETE", R"(/api/v1/retrain/policies/([^/]+))",                            "/api/v1/retrain/policies/m",                   {401, 401, 403, 403, 403, 403, 404}},
  {"GET",    "/api/v1/retrain/jobs",                                           "/api/v1/retrain/jobs",                         {401, 401, 200, 403, 200, 200, 200}},
  {"POST",   "/api/v1/retrain/jobs",                                           "/api/v1/retrain/jobs",                         {401, 401, 403, 403, 400, 400, 400}},
  {"POST",   "/api/v1/retrain/jobs/claim",                                     "/api/v1/retrain/jobs/claim",                   {401, 401, 403, 403, 400, 400, 400}},
  {"GET",    R"(/api/v1/retrain/jobs/([0-9]+))",                               "/api/v1/retrain/jobs/1",                       {401, 401, 404, 403, 404, 404, 404}},
  {"POST",   R"(/api/v1/retrain/jobs/([0-9]+)/heartbeat)",                     "/api/v1/retrain/jobs/1/heartbeat",             {401, 401, 403, 403, 400, 400, 400}},
  {"POST",   R"(/api/v1/retrain/jobs/([0-9]+)/complete)",                      "/api/v1/retrain/jobs/1/complete",              {401, 401, 403, 403, 400, 400, 400}},
  {"POST",   R"(/api/v1/retrain/jobs/([0-9]+)/cancel)",                        "/api/v1/retrain/jobs/1/cancel",                {401, 401, 403, 403, 404, 404, 404}},
  {"POST",   R"(/api/v1/retrain/jobs/([0-9]+)/approve)",                       "/api/v1/retrain/jobs/1/approve",               {401, 401, 403, 403, 404, 404, 404}},
  {"POST",   R"(/api/v1/retrain/jobs/([0-9]+)/decline)",                       "/api/v1/retrain/jobs/1/decline",               {401, 401, 403, 403, 404, 404, 404}},
  {"GET",    "/api/v1/drift",                                                  "/api/v1/drift",                                {401, 401, 200, 403, 200, 200, 200}},
  {"GET",    "/api/v1/drift/history",                                          "/api/v1/drift/history?model=m:1&field=f",      {401, 401, 404, 403, 404, 404, 404}},
  {"GET",    R"(/api/v1/lineage/models/([^/]+)/versions/([0-9]+))",            "/api/v1/lineage/models/m/versions/1",          {401, 401, 404, 403, 404, 404, 404}},
  {"GET",    R"(/api/v1/lineage/samples/(.+))",                                "/api/v1/lineage/samples/dev/cam/1",            {401, 401, 200, 403, 200, 200, 200}},
  // Monitoring
  {"GET",    "/metrics",                                                       "/metrics",                                     {401, 401, 200, 403, 200, 200, 200}},
  // The web pages
  {"GET",    "/dashboard/.*",                                                  "/dashboard/",                                  {200, 200, 200, 200, 200, 200, 200}},
  {"GET",    "/label/.*",                                                      "/label/",                                      {200, 200, 200, 200, 200, 200, 200}},
  {"GET",    "/assets/.*",                                                     "/assets/canopy.css",                           {200, 200, 200, 200, 200, 200, 200}},
  {"GET",    "/vendor/htm/.*",                                                 "/vendor/htm/standalone.module.js",             {200, 200, 200, 200, 200, 200, 200}},
  {"GET",    "/vendor/uplot/.*",                                               "/vendor/uplot/uPlot.min.css",                  {200, 200, 200, 200, 200, 200, 200}},
  {"GET",    "/",                                                              "/",                                            {302, 302, 302, 302, 302, 302, 302}},
  {"GET",    "/dashboard",                                                     "/dashboard",                                   {302, 302, 302, 302, 302, 302, 302}},
  {"GET",    "/label",                                                         "/label",                                       {302, 302, 302, 302, 302, 302, 302}},
};
// clang-format on

constexpr const char* kAdminKey = "access-table-admin-key-0123456789";
constexpr const char* kPassword = "correct horse battery";

std::string route_name(const std::string& method, const std::string& pattern) {
  return method + " " + pattern;
}

const Row* row_of(const RouteInfo& route) {
  for (const Row& row : kAccessTable)
    if (route.method == row.method && route.pattern == row.pattern) return &row;
  return nullptr;
}

// The status a caller must get on a route that declares `access`, when the
// declaration alone decides: 401 or 403; 0 when the caller is let through.
int refusal(const RouteAccess& access, Caller caller) {
  switch (access.kind) {
    case RouteAccess::Kind::kPublic:
      return 0;
    case RouteAccess::Kind::kDeviceToken:
      return caller == kDevice ? 0 : 401;
    case RouteAccess::Kind::kSignedIn:
      return 401;  // none of the table's callers brings a session
    case RouteAccess::Kind::kRole:
      if (caller == kNone || caller == kDevice) return 401;
      return server::role_allows(kRoleOf[caller], access.least_role) ? 0 : 403;
  }
  return 0;
}

class AccessTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::ServerOptions options;
    options.data_dir = work_ / "data";
    options.port = 0;
    options.admin_key = kAdminKey;
    options.web_dir = web_pages_dir();
    auto opened = server::Server::open(options);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    server_ = std::move(*opened);
    serving_ = std::thread([this] { server_->serve(); });
    url_ = "http://127.0.0.1:" + std::to_string(server_->http().port());
    // stop() before the listener runs would leave serve() waiting for ever.
    int status = 0;
    for (int i = 0; i < 200 && status != 200; ++i) {
      if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      status = send("GET", "/api/v1/health", {}).status;
    }
    ASSERT_EQ(status, 200) << "the server did not start serving";
  }

  void TearDown() override {
    if (!server_) return;
    server_->http().stop();
    serving_.join();
  }

  HttpResponse send(const std::string& method, const std::string& path, std::vector<std::string> headers,
                    const std::string& body = "") {
    HttpOptions options;
    options.max_attempts = 1;
    options.headers = std::move(headers);
    HttpClient client(url_, options);
    auto response = method == "GET" ? client.get(path) : client.send(method, path, body, "application/json");
    EXPECT_TRUE(response.ok()) << method << " " << path << ": " << response.error().message;
    return response.ok() ? *response : HttpResponse{};
  }

  Json admin(const std::string& method, const std::string& path, const Json& body, int expected_status) {
    HttpResponse response = send(method, path, {std::string("X-API-KEY: ") + kAdminKey}, body.dump());
    EXPECT_EQ(response.status, expected_status) << method << " " << path << ": " << response.body;
    auto json = parse_json(response.body);
    return json.ok() ? *json : Json();
  }

  // Each column's credentials as request headers: a real device's token, and
  // a key of each role (sent the way most clients send it).
  std::array<std::vector<std::string>, kCallerCount> make_callers() {
    std::array<std::vector<std::string>, kCallerCount> headers;
    for (Caller caller : {kReader, kLabeler, kPublisher, kOperator, kAdmin}) {
      const Json key = admin("POST", "/api/v1/keys",
                             {{"role", server::role_name(kRoleOf[caller])}, {"name", "access"}}, 201);
      headers[caller] = {"X-API-KEY: " + key.value("key", "")};
    }
    const Json token = admin("POST", "/api/v1/enrollment-tokens", {{"group", "access"}}, 201);
    SimDevice device{KeyPair::generate(), "access-cam", "", ""};
    HttpResponse enrolled =
        send("POST", "/api/v1/enroll", {},
             enroll_request(device, token.value("token", ""), Json::object(), device.key, utc_now()).dump());
    EXPECT_EQ(enrolled.status, 201) << enrolled.body;
    const auto enrollment = parse_json(enrolled.body);
    headers[kDevice] = {"Authorization: Bearer " +
                        (enrollment.ok() ? enrollment->value("device_token", "") : std::string())};
    return headers;
  }

  // A publisher's session: its cookie, and its CSRF token for changes.
  std::vector<std::string> publisher_session() {
    admin("POST", "/api/v1/users", {{"name", "pat"}, {"role", "publisher"}, {"password", kPassword}}, 201);
    HttpResponse signed_in =
        send("POST", "/api/v1/session", {}, Json{{"user", "pat"}, {"password", kPassword}}.dump());
    EXPECT_EQ(signed_in.status, 201) << signed_in.body;
    const std::string cookie = signed_in.header("set-cookie");
    const auto session = parse_json(signed_in.body);
    return {"Cookie: " + cookie.substr(0, cookie.find(';')),
            "X-CSRF-Token: " + (session.ok() ? session->value("csrf_token", "") : std::string())};
  }

  TempDir work_;
  std::unique_ptr<server::Server> server_;
  std::thread serving_;
  std::string url_;
};

TEST_F(AccessTableTest, EveryRouteHasARowAndEveryRowARoute) {
  const std::vector<RouteInfo>& routes = server_->http().routes();
  ASSERT_FALSE(routes.empty());
  for (const RouteInfo& route : routes)
    EXPECT_NE(row_of(route), nullptr)
        << "route " << route_name(route.method, route.pattern) << " (" << route.access.describe()
        << ") has no row in the access table: decide who may call it";
  for (const Row& row : kAccessTable) {
    const bool registered = std::any_of(routes.begin(), routes.end(), [&row](const RouteInfo& route) {
      return route.method == row.method && route.pattern == row.pattern;
    });
    EXPECT_TRUE(registered) << "the access table's row " << route_name(row.method, row.pattern)
                            << " names no route the server registers: remove it, or fix its pattern";
    const std::string sample_path = row.sample_path;
    EXPECT_TRUE(std::regex_match(sample_path.substr(0, sample_path.find('?')), std::regex(row.pattern)))
        << "the sample path " << row.sample_path << " does not match " << row.pattern;
  }
}

// The table is written by hand; here each row is held to what its route
// declares, so the table, the declarations (and the docs that list them)
// and the server's answers all have to agree.
TEST_F(AccessTableTest, EachRowRefusesWhomItsRouteDeclarationRefuses) {
  for (const RouteInfo& route : server_->http().routes()) {
    const Row* row = row_of(route);
    if (row == nullptr) continue;  // EveryRouteHasARowAndEveryRowARoute names it
    for (int caller = 0; caller < kCallerCount; ++caller) {
      const int expected = row->expected[caller];
      const int refused = refusal(route.access, static_cast<Caller>(caller));
      if (refused != 0)
        EXPECT_EQ(expected, refused) << route_name(route.method, route.pattern) << " ("
                                     << route.access.describe() << "), caller " << kCallerNames[caller];
      else
        EXPECT_TRUE(expected != 401 && expected != 403)
            << route_name(route.method, route.pattern) << " (" << route.access.describe() << ") lets "
            << kCallerNames[caller] << " through, but the table refuses it with " << expected;
    }
  }
  // Device tokens only on the device API, and the device API only for them.
  for (const RouteInfo& route : server_->http().routes())
    EXPECT_EQ(route.pattern.starts_with("/api/v1/device/"),
              route.access.kind == RouteAccess::Kind::kDeviceToken)
        << route_name(route.method, route.pattern) << " (" << route.access.describe() << ")";
}

TEST_F(AccessTableTest, EveryCallerGetsTheTablesStatusOnEveryRoute) {
  const auto callers = make_callers();
  const std::vector<std::string> session = publisher_session();
  std::vector<const Row*> signed_in_rows;  // answered with the session last: they end it
  for (const RouteInfo& route : server_->http().routes()) {
    const Row* row = row_of(route);
    if (row == nullptr) continue;  // EveryRouteHasARowAndEveryRowARoute names it
    for (int caller = 0; caller < kCallerCount; ++caller) {
      const HttpResponse response = send(row->method, row->sample_path, callers[caller]);
      EXPECT_EQ(response.status, row->expected[caller])
          << route_name(row->method, row->pattern) << " (" << route.access.describe() << ") as "
          << kCallerNames[caller] << ": " << response.body;
    }
    // The device API refuses a key in the device token's own header too.
    if (route.access.kind == RouteAccess::Kind::kDeviceToken) {
      const HttpResponse refused =
          send(row->method, row->sample_path, {std::string("Authorization: Bearer ") + kAdminKey});
      EXPECT_EQ(refused.status, 401) << route_name(row->method, row->pattern)
                                     << " with an API key as a bearer token";
    }
    if (route.access.kind == RouteAccess::Kind::kSignedIn) {
      signed_in_rows.push_back(row);
      continue;
    }
    // A session is judged by its role, as its user's key would be.
    const HttpResponse response = send(row->method, row->sample_path, session);
    EXPECT_EQ(response.status, row->expected[kPublisher])
        << route_name(row->method, row->pattern) << " (" << route.access.describe()
        << ") with a publisher's session: " << response.body;
  }
  ASSERT_EQ(signed_in_rows.size(), 1u) << "signing out is the one route for any session";
  const HttpResponse signed_out = send(signed_in_rows[0]->method, signed_in_rows[0]->sample_path, session);
  EXPECT_EQ(signed_out.status, 200) << signed_out.body;
  EXPECT_EQ(send("GET", "/api/v1/models", session).status, 401) << "the session ended";
}

}  // namespace
}  // namespace canopy::testing
