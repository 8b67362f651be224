// Failed authentications slowed per address (docs/security.md, "Brute
// force"), against the real server: the limit engages after the free
// failures, refuses even a valid key while it lasts, releases on time, and
// counts only guesses: not requests without credentials, nor credentials
// that were issued and revoked since.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/http_client.h"
#include "common/json.h"
#include "test_support.h"

namespace canopy::testing {
namespace {

HttpResponse get(const ServerProcess& server, const std::string& path, const std::string& header) {
  HttpOptions options;
  options.max_attempts = 1;
  if (!header.empty()) options.headers = {header};
  auto response = HttpClient(server.url(), options).get(path);
  EXPECT_TRUE(response.ok()) << response.error().message;
  return response.ok() ? *response : HttpResponse{};
}

TEST(BruteForceTest, FailedKeysFromOneAddressAreSlowedAndReleasedOnTime) {
  TempDir work;
  ServerProcess server(work / "data");
  const std::string admin = std::string("X-API-KEY: ") + ServerProcess::kAdminKey;
  const std::string wrong = "X-API-KEY: cnp_000000000000_guess";

  // Requests without credentials are no guesses, however many.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(get(server, "/api/v1/models", "").status, 401);
  EXPECT_EQ(get(server, "/api/v1/models", admin).status, 200);

  // Nor is a key that was issued and revoked since: a forgotten script
  // retrying it must not shut out everyone behind its address.
  HttpOptions as_admin;
  as_admin.max_attempts = 1;
  as_admin.headers = {admin};
  auto created = HttpClient(server.url(), as_admin)
                     .send("POST", "/api/v1/keys", R"({"role": "reader"})", "application/json");
  ASSERT_TRUE(created.ok());
  const Json key = *parse_json(created->body);
  ASSERT_EQ(HttpClient(server.url(), as_admin)
                .send("DELETE", "/api/v1/keys/" + key.value("id", ""), "", "")
                ->status,
            200);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(get(server, "/api/v1/models", "X-API-KEY: " + key.value("key", "")).status, 401);
  EXPECT_EQ(get(server, "/api/v1/models", admin).status, 200);

  // Nor is a credential sent where it is not taken: an API key to the device API.
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(get(server, "/api/v1/device/desired",
                  std::string("Authorization: Bearer ") + ServerProcess::kAdminKey)
                  .status,
              401);
  EXPECT_EQ(get(server, "/api/v1/models", admin).status, 200);

  // Ten failures are free; the eleventh shuts the address out.
  for (int i = 0; i < 10; ++i) ASSERT_EQ(get(server, "/api/v1/models", wrong).status, 401) << i;
  EXPECT_EQ(get(server, "/api/v1/models", admin).status, 200) << "ten mistakes cost nothing";
  const auto blocked_at = std::chrono::steady_clock::now();
  EXPECT_EQ(get(server, "/api/v1/device/desired", "Authorization: Bearer cdt_000000_guess").status, 401)
      << "a device token guess is the eleventh failure";

  const HttpResponse refused = get(server, "/api/v1/models", admin);
  EXPECT_EQ(refused.status, 429) << "even a valid key waits: its answer would tell a guess from a hit";
  EXPECT_EQ(refused.header("retry-after"), "1");
  EXPECT_NE(refused.body.find("\"rate_limited\""), std::string::npos) << refused.body;

  // Released when its time is up, not before.
  int status = 429;
  while (status == 429 && std::chrono::steady_clock::now() - blocked_at < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = get(server, "/api/v1/models", admin).status;
  }
  EXPECT_EQ(status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - blocked_at, std::chrono::milliseconds(900));

  // The count is not forgotten yet: the next failure shuts it out for twice as long.
  EXPECT_EQ(get(server, "/api/v1/models", wrong).status, 401);
  EXPECT_EQ(get(server, "/api/v1/models", admin).header("retry-after"), "2");
  EXPECT_NE(server.log().find("auth.address_blocked"), std::string::npos) << server.log();
}

}  // namespace
}  // namespace canopy::testing
