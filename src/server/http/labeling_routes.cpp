// The labeling routes (docs/labeling.md): people (a session of the labeling
// page) and programs (an API key) take tasks, submit their boxes, skip or
// reject; reviewers accept or send back. Labelers, publishers, operators
// and admins label; publishers, operators and admins review. Sample ids ("DEVICE/CAMERA/MS") hold
// slashes and nothing a URL path has to escape, so they are the path itself.
#include "api/fields.h"
#include "server/http/middleware.h"
#include "server/http/routes.h"

namespace canopy::server {

namespace {

using httplib::Request;
using httplib::Response;

constexpr std::size_t kMaxLabelBody = 256 << 10;

void send_task(Response& res, const Result<api::LabelTask>& task) {
  if (!task.ok()) return send_error(res, task.error());
  send_json(res, 200, task->to_json());
}

}  // namespace

void install_labeling_routes(Routes& routes, LabelQueue& queue, SampleStore& samples,
                             Prelabeler& prelabeler) {
  routes.post("/api/v1/labeling/next", Role::kLabeler,
              [&queue](const Request& req, Response& res, const ApiKeyRecord& caller) {
                auto body = optional_json_body(req, kMaxLabelBody);
                if (!body.ok()) return send_error(res, body.error());
                auto filter = api::TaskFilter::from_json(*body);
                if (!filter.ok()) return send_error(res, filter.error());
                auto task = queue.next(caller.display_name(), *filter);
                if (!task.ok()) return send_error(res, task.error());
                send_json(res, 200, {{"task", *task ? (*task)->to_json() : Json(nullptr)}});
              });

  routes.get("/api/v1/labeling/stats", Role::kLabeler,
             [&queue](const Request&, Response& res, const ApiKeyRecord&) {
               auto stats = queue.stats();
               if (!stats.ok()) return send_error(res, stats.error());
               send_json(res, 200, stats->to_json());
             });

  routes.get(R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+)/image)", Role::kLabeler,
             [&samples](const Request& req, Response& res, const ApiKeyRecord&) {
               auto jpeg = samples.image(req.matches[1].str(), false);
               if (!jpeg.ok()) return send_error(res, jpeg.error());
               res.set_header("Cache-Control", "private, max-age=86400, immutable");
               res.set_content(std::move(*jpeg), "image/jpeg");
             });

  routes.get(R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+)/revisions)", Role::kLabeler,
             [&queue](const Request& req, Response& res, const ApiKeyRecord&) {
               auto revisions = queue.revisions(req.matches[1].str());
               if (!revisions.ok()) return send_error(res, revisions.error());
               Json rows = Json::array();
               for (const api::LabelRevision& revision : *revisions) rows.push_back(revision.to_json());
               send_json(res, 200, {{"revisions", rows}});
             });

  routes.get(R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+))", Role::kLabeler,
             [&queue](const Request& req, Response& res, const ApiKeyRecord&) {
               send_task(res, queue.task(req.matches[1].str()));
             });

  routes.post(R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+)/submit)", Role::kLabeler,
              [&queue](const Request& req, Response& res, const ApiKeyRecord& caller) {
                auto body = optional_json_body(req, kMaxLabelBody);
                if (!body.ok()) return send_error(res, body.error());
                auto submission = api::LabelSubmission::from_json(*body);
                if (!submission.ok()) return send_error(res, submission.error());
                send_task(res, queue.submit(req.matches[1].str(), caller.display_name(), *submission));
              });

  routes.post(R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+)/(skip|release))", Role::kLabeler,
              [&queue](const Request& req, Response& res, const ApiKeyRecord& caller) {
                const std::string id = req.matches[1].str();
                send_task(res, req.matches[2].str() == "skip" ? queue.skip(id, caller.display_name())
                                                              : queue.release(id, caller.display_name()));
              });

  routes.post(R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+)/reject)", Role::kLabeler,
              [&queue](const Request& req, Response& res, const ApiKeyRecord& caller) {
                auto body = optional_json_body(req, kMaxLabelBody);
                if (!body.ok()) return send_error(res, body.error());
                auto why = api::read_string(*body, "reason", 1024);
                if (!why.ok()) return send_error(res, why.error());
                send_task(res, queue.reject(req.matches[1].str(), caller.display_name(), *why));
              });

  // The production model of the sample's model name, run now on the sample.
  routes.post(
      R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+)/predict)", Role::kLabeler,
      [&samples, &prelabeler](const Request& req, Response& res, const ApiKeyRecord&) {
        const std::string id = req.matches[1].str();
        auto sample = samples.get(id);
        if (!sample.ok()) return send_error(res, sample.error());
        const std::string model = sample->sample.model.substr(0, sample->sample.model.find(':'));
        if (model.empty())
          return send_error(
              res, make_error(ErrorCode::kNotFound, "sample " + id + " names no model to ask again"));
        auto jpeg = samples.image(id, false);
        if (!jpeg.ok()) return send_error(res, jpeg.error());
        auto predicted = prelabeler.predict(model, *jpeg);
        if (!predicted.ok()) return send_error(res, predicted.error());
        send_json(res, 200, {{"model", predicted->model}, {"boxes", api::boxes_to_json(predicted->boxes)}});
      });

  // Reviewing takes more trust than labeling: publishers and above.
  routes.post(R"(/api/v1/labeling/tasks/([^/]+/[^/]+/[0-9]+)/review)", Role::kPublisher,
              [&queue](const Request& req, Response& res, const ApiKeyRecord& caller) {
                auto body = optional_json_body(req, kMaxLabelBody);
                if (!body.ok()) return send_error(res, body.error());
                auto accept = json_get<bool>(*body, "accept");
                if (!accept.ok()) return send_error(res, accept.error().with_context("request body"));
                auto note = api::read_string(*body, "note", 1024, "");
                if (!note.ok()) return send_error(res, note.error());
                send_task(res, queue.review(req.matches[1].str(), caller.display_name(), *accept, *note));
              });
}

}  // namespace canopy::server
