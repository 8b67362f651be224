#include "server/labeling/label_queue.h"

#include <algorithm>
#include <map>

#include "common/time.h"
#include "server/labeling/corrections.h"
#include "server/storage/migrations.h"

namespace canopy::server {

namespace {

const AreaSchema kSchema{"labeling", {R"sql(
CREATE TABLE label_tasks (
  sample_id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  field TEXT NOT NULL,
  camera TEXT NOT NULL,
  model TEXT NOT NULL,
  top_class TEXT NOT NULL,
  strategies TEXT NOT NULL,
  priority_milli INTEGER NOT NULL,
  captured_ms INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'unlabeled',
  lease_holder TEXT NOT NULL DEFAULT '',
  lease_until_ms INTEGER NOT NULL DEFAULT 0,
  revision INTEGER NOT NULL DEFAULT 0,
  labels TEXT NOT NULL DEFAULT '[]',
  labeled_by TEXT NOT NULL DEFAULT '',
  accepted INTEGER NOT NULL DEFAULT 0,
  moved INTEGER NOT NULL DEFAULT 0,
  relabeled INTEGER NOT NULL DEFAULT 0,
  deleted INTEGER NOT NULL DEFAULT 0,
  added INTEGER NOT NULL DEFAULT 0,
  spent_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX label_tasks_open ON label_tasks(state, top_class, priority_milli DESC, captured_ms);
CREATE INDEX label_tasks_by_camera ON label_tasks(device_id, camera, captured_ms);
CREATE INDEX label_tasks_by_holder ON label_tasks(lease_holder, state);
CREATE TABLE label_revisions (
  sample_id TEXT NOT NULL,
  revision INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (sample_id, revision)
);
CREATE TABLE label_class_counts (
  label TEXT PRIMARY KEY,
  boxes INTEGER NOT NULL
);
CREATE TABLE label_cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  sequence INTEGER NOT NULL
);
INSERT INTO label_cursor VALUES (1, 0);
)sql"}};

constexpr int kSyncBatch = 1000;
// The most a class no label shows yet adds to a task's priority (0-1000).
constexpr std::int64_t kClassBalanceBoostMilli = 300;

constexpr const char* kTaskColumns =
    "sample_id, state, lease_holder, lease_until_ms, revision, labels, labeled_by, device_id, camera, "
    "captured_ms";

std::string top_class(const api::Sample& sample) {
  const auto top = std::max_element(sample.predictions.begin(), sample.predictions.end(),
                                    [](const auto& a, const auto& b) { return a.score < b.score; });
  return top == sample.predictions.end() ? "none" : top->label;
}

std::int64_t priority_milli(const api::Sample& sample) {
  double best = 0;
  for (const api::SampleReason& reason : sample.reasons) best = std::max(best, reason.score);
  return static_cast<std::int64_t>(best * 1000 + 0.5);
}

std::string strategies(const api::Sample& sample) {
  std::string out = ",";
  for (const api::SampleReason& reason : sample.reasons) out += reason.strategy + ",";
  return out;
}

Result<std::vector<api::SampleBox>> parse_labels(const std::string& text) {
  CANOPY_ASSIGN_OR_RETURN(Json json, parse_json(text, "stored labels"));
  return api::boxes_from_json(Json{{"labels", json}}, "labels");
}

Status add_class_counts(Database& db, const std::vector<api::SampleBox>& boxes, std::int64_t sign) {
  std::map<std::string, std::int64_t> counts;
  for (const api::SampleBox& box : boxes) counts[box.label] += sign;
  for (const auto& [label, count] : counts)
    CANOPY_TRY(
        db.run("INSERT INTO label_class_counts(label, boxes) VALUES(?, ?) "
               "ON CONFLICT(label) DO UPDATE SET boxes = boxes + excluded.boxes",
               {label, count}));
  return {};
}

// The class-balance boost of a task whose top pre-label is each class: the
// rarer the class in the labels so far, the larger; a class no label shows
// gets the whole boost.
Result<std::map<std::string, std::int64_t>> class_boosts(Database& db) {
  CANOPY_ASSIGN_OR_RETURN(Statement select,
                          db.prepare("SELECT label, boxes FROM label_class_counts WHERE boxes > 0"));
  std::map<std::string, std::int64_t> counts;
  std::int64_t most = 0;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    counts[select.column_text(0)] = select.column_int(1);
    most = std::max(most, select.column_int(1));
  }
  for (auto& [label, count] : counts) count = kClassBalanceBoostMilli * (most - count) / most;
  return counts;
}

}  // namespace

Result<std::unique_ptr<LabelQueue>> LabelQueue::open(Database db, SampleSource& source, Clock& clock,
                                                     LabelQueueOptions options) {
  CANOPY_TRY(migrate(db, kSchema));
  std::unique_ptr<LabelQueue> queue(new LabelQueue(std::move(db), source, clock, options));
  CANOPY_ASSIGN_OR_RETURN(Statement classes,
                          queue->db_.prepare("SELECT DISTINCT top_class FROM label_tasks"));
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, classes.step());
    if (!row) break;
    queue->top_classes_.insert(classes.column_text(0));
  }
  return queue;
}

Status LabelQueue::sync_locked() {
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(Statement cursor, db_.prepare("SELECT sequence FROM label_cursor"));
    CANOPY_ASSIGN_OR_RETURN(bool row, cursor.step());
    const std::int64_t after = row ? cursor.column_int(0) : 0;
    CANOPY_ASSIGN_OR_RETURN(std::vector<SampleSource::Sequenced> fresh,
                            source_.stored_after(after, kSyncBatch));
    if (fresh.empty()) return {};
    CANOPY_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
    CANOPY_ASSIGN_OR_RETURN(
        Statement insert,
        db_.prepare(
            "INSERT INTO label_tasks(sample_id, device_id, field, camera, model, top_class, strategies, "
            "priority_milli, captured_ms) VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(sample_id) DO NOTHING"));
    for (const SampleSource::Sequenced& item : fresh) {
      const api::Sample& s = item.sample.sample;
      insert.bind(1, s.id).bind(2, item.sample.device_id).bind(3, s.field).bind(4, s.camera).bind(5, s.model);
      insert.bind(6, top_class(s)).bind(7, strategies(s)).bind(8, priority_milli(s)).bind(9, s.captured_ms);
      top_classes_.insert(top_class(s));
      CANOPY_TRY(insert.step());
      insert.reset();
    }
    CANOPY_TRY(db_.run("UPDATE label_cursor SET sequence = ?", {fresh.back().sequence}));
    CANOPY_TRY(tx.commit());
    if (fresh.size() < static_cast<std::size_t>(kSyncBatch)) return {};
  }
}

Result<api::LabelTask> LabelQueue::task_locked(const std::string& sample_id) {
  CANOPY_ASSIGN_OR_RETURN(Statement select, db_.prepare(std::string("SELECT ") + kTaskColumns +
                                                        " FROM label_tasks WHERE sample_id = ?"));
  select.bind(1, sample_id);
  CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
  if (!row) return make_error(ErrorCode::kNotFound, "no labeling task for sample " + sample_id);
  api::LabelTask task;
  task.sample_id = select.column_text(0);
  task.state = select.column_text(1);
  const std::int64_t lease_until_ms = select.column_int(3);
  if (task.state == api::kTaskInProgress) {
    if (lease_until_ms > clock_.wall_ms()) {
      task.leased_by = select.column_text(2);
      task.lease_expires_at = format_utc(lease_until_ms);
    } else {
      task.state = api::kTaskUnlabeled;  // the lease ran out
    }
  }
  task.revision = select.column_int(4);
  CANOPY_ASSIGN_OR_RETURN(task.labels, parse_labels(select.column_text(5)));
  task.labeled_by = select.column_text(6);
  const std::string device_id = select.column_text(7), camera = select.column_text(8);
  const std::int64_t captured_ms = select.column_int(9);

  CANOPY_ASSIGN_OR_RETURN(task.sample, source_.sample(sample_id));
  CANOPY_ASSIGN_OR_RETURN(
      Statement previous,
      db_.prepare("SELECT sample_id, labels FROM label_tasks WHERE device_id = ? AND camera = ? "
                  "AND captured_ms < ? AND state IN ('labeled', 'reviewed') "
                  "ORDER BY captured_ms DESC LIMIT 1"));
  previous.bind(1, device_id).bind(2, camera).bind(3, captured_ms);
  CANOPY_ASSIGN_OR_RETURN(bool found, previous.step());
  if (found) {
    task.previous_sample_id = previous.column_text(0);
    CANOPY_ASSIGN_OR_RETURN(task.previous_labels, parse_labels(previous.column_text(1)));
  }
  return task;
}

Result<std::optional<std::string>> LabelQueue::best_open_locked(const api::TaskFilter& filter) {
  CANOPY_ASSIGN_OR_RETURN(auto boosts, class_boosts(db_));
  // One walk down the index per class, since the boost is the class's: a
  // few indexed reads instead of sorting every open task.
  std::string sql =
      "SELECT sample_id, priority_milli, captured_ms FROM label_tasks WHERE state = 'unlabeled' AND "
      "top_class = ?";
  std::vector<SqlValue> binds;
  if (!filter.field.empty()) sql += " AND field = ?", binds.emplace_back(filter.field);
  if (!filter.device_id.empty()) sql += " AND device_id = ?", binds.emplace_back(filter.device_id);
  if (!filter.strategy.empty())
    sql += " AND instr(strategies, ?) > 0", binds.emplace_back("," + filter.strategy + ",");
  CANOPY_ASSIGN_OR_RETURN(Statement select,
                          db_.prepare(sql + " ORDER BY priority_milli DESC, captured_ms ASC LIMIT 1"));
  std::optional<std::string> best;
  std::int64_t best_score = 0, best_captured_ms = 0;
  for (const std::string& top : top_classes_) {
    if (!filter.predicted_class.empty() && top != filter.predicted_class) continue;
    select.bind(1, top);
    for (std::size_t i = 0; i < binds.size(); ++i) select.bind(static_cast<int>(i) + 2, binds[i]);
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (row) {
      const auto boost = boosts.find(top);
      const std::int64_t score =
          select.column_int(1) + (boost == boosts.end() ? kClassBalanceBoostMilli : boost->second);
      const std::int64_t captured_ms = select.column_int(2);
      if (!best || score > best_score || (score == best_score && captured_ms < best_captured_ms)) {
        best = select.column_text(0);
        best_score = score;
        best_captured_ms = captured_ms;
      }
    }
    select.reset();
  }
  return best;
}

Result<std::optional<api::LabelTask>> LabelQueue::next(const std::string& actor,
                                                       const api::TaskFilter& filter) {
  std::lock_guard guard(mutex_);
  CANOPY_TRY(sync_locked());
  const std::int64_t now = clock_.wall_ms();
  // Leases that ran out give their tasks back (few rows: the index starts with the state).
  CANOPY_TRY(
      db_.run("UPDATE label_tasks SET state = 'unlabeled', lease_holder = '', lease_until_ms = 0 "
              "WHERE state = 'in_progress' AND lease_until_ms <= ?",
              {now}));
  while (true) {
    // A task this caller already holds comes first: a reloaded page resumes it.
    CANOPY_ASSIGN_OR_RETURN(Statement held,
                            db_.prepare("SELECT sample_id FROM label_tasks WHERE lease_holder = ? AND "
                                        "state = 'in_progress' AND lease_until_ms > ? LIMIT 1"));
    held.bind(1, actor).bind(2, now);
    CANOPY_ASSIGN_OR_RETURN(bool holding, held.step());
    std::string sample_id;
    if (holding) {
      sample_id = held.column_text(0);
    } else {
      CANOPY_ASSIGN_OR_RETURN(std::optional<std::string> best, best_open_locked(filter));
      if (!best) return std::optional<api::LabelTask>();
      sample_id = *best;
    }
    CANOPY_TRY(
        db_.run("UPDATE label_tasks SET state = 'in_progress', lease_holder = ?, lease_until_ms = ? "
                "WHERE sample_id = ?",
                {actor, now + options_.lease_ms, sample_id}));
    auto task = task_locked(sample_id);
    if (task.ok()) return std::optional<api::LabelTask>(std::move(*task));
    if (task.error().code != ErrorCode::kNotFound) return task.error();
    // Retention removed the sample: its task goes too, and the next one is taken.
    CANOPY_TRY(db_.run("DELETE FROM label_tasks WHERE sample_id = ?", {sample_id}));
  }
}

Result<api::LabelTask> LabelQueue::task(const std::string& sample_id) {
  std::lock_guard guard(mutex_);
  CANOPY_TRY(sync_locked());
  return task_locked(sample_id);
}

Status LabelQueue::check_not_held_by_other_locked(const api::LabelTask& task, const std::string& actor) {
  if (!task.leased_by.empty() && task.leased_by != actor)
    return make_error(ErrorCode::kConflict, "sample " + task.sample_id + " is being labeled by " +
                                                task.leased_by + " until " + task.lease_expires_at);
  return {};
}

Result<api::LabelTask> LabelQueue::change_locked(const api::LabelTask& before, api::LabelRevision revision,
                                                 const std::string& state) {
  const std::string& sample_id = before.sample_id;
  revision.revision = before.revision + 1;
  revision.at = format_utc(clock_.wall_ms());
  CANOPY_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  CANOPY_TRY(db_.run("INSERT INTO label_revisions(sample_id, revision, body) VALUES(?,?,?)",
                     {sample_id, revision.revision, revision.to_json().dump()}));
  CANOPY_TRY(
      db_.run("UPDATE label_tasks SET state = ?, revision = ?, lease_holder = '', lease_until_ms = 0 "
              "WHERE sample_id = ?",
              {state, revision.revision, sample_id}));
  if (revision.kind == "submit") {
    const api::Corrections& c = revision.corrections;
    CANOPY_TRY(add_class_counts(db_, before.labels, -1));
    CANOPY_TRY(add_class_counts(db_, revision.boxes, +1));
    CANOPY_TRY(
        db_.run("UPDATE label_tasks SET labels = ?, labeled_by = ?, accepted = ?, moved = ?, relabeled = ?, "
                "deleted = ?, added = ?, spent_ms = ? WHERE sample_id = ?",
                {api::boxes_to_json(revision.boxes).dump(), revision.actor, c.accepted, c.moved, c.relabeled,
                 c.deleted, c.added, revision.spent_ms, sample_id}));
  }
  CANOPY_TRY(tx.commit());
  // The store keeps what people have looked at; a failure here only leaves
  // the sample to retention, so it does not undo the labels.
  (void)source_.set_label_state(sample_id, state == api::kTaskUnlabeled ? "unlabeled" : state);
  return task_locked(sample_id);
}

Result<api::LabelTask> LabelQueue::submit(const std::string& sample_id, const std::string& actor,
                                          const api::LabelSubmission& submission) {
  std::lock_guard guard(mutex_);
  CANOPY_TRY(sync_locked());
  CANOPY_ASSIGN_OR_RETURN(api::LabelTask task, task_locked(sample_id));
  CANOPY_TRY(check_not_held_by_other_locked(task, actor));
  api::LabelRevision revision;
  revision.kind = "submit";
  revision.actor = actor;
  revision.started_from = submission.started_from;
  revision.threshold = submission.threshold;
  revision.boxes = submission.boxes;
  revision.corrections =
      compare_boxes(task.sample.sample.predictions, submission.threshold, submission.boxes);
  revision.spent_ms = submission.spent_ms;
  return change_locked(task, std::move(revision), api::kTaskLabeled);
}

Result<api::LabelTask> LabelQueue::skip(const std::string& sample_id, const std::string& actor) {
  std::lock_guard guard(mutex_);
  CANOPY_TRY(sync_locked());
  CANOPY_ASSIGN_OR_RETURN(api::LabelTask task, task_locked(sample_id));
  CANOPY_TRY(check_not_held_by_other_locked(task, actor));
  api::LabelRevision revision;
  revision.kind = "skip";
  revision.actor = actor;
  return change_locked(task, std::move(revision), api::kTaskSkipped);
}

Result<api::LabelTask> LabelQueue::reject(const std::string& sample_id, const std::string& actor,
                                          const std::string& why) {
  std::lock_guard guard(mutex_);
  CANOPY_TRY(sync_locked());
  CANOPY_ASSIGN_OR_RETURN(api::LabelTask task, task_locked(sample_id));
  CANOPY_TRY(check_not_held_by_other_locked(task, actor));
  api::LabelRevision revision;
  revision.kind = "reject";
  revision.actor = actor;
  revision.note = why;
  return change_locked(task, std::move(revision), api::kTaskRejected);
}

Result<api::LabelTask> LabelQueue::release(const std::string& sample_id, const std::string& actor) {
  std::lock_guard guard(mutex_);
  CANOPY_TRY(sync_locked());
  CANOPY_ASSIGN_OR_RETURN(api::LabelTask task, task_locked(sample_id));
  if (task.leased_by != actor)
    return make_error(ErrorCode::kConflict, "sample " + sample_id + " is not leased to " + actor);
  CANOPY_TRY(
      db_.run("UPDATE label_tasks SET state = 'unlabeled', lease_holder = '', lease_until_ms = 0 "
              "WHERE sample_id = ?",
              {sample_id}));
  return task_locked(sample_id);
}

Result<api::LabelTask> LabelQueue::review(const std::string& sample_id, const std::string& actor, bool accept,
                                          const std::string& note) {
  std::lock_guard guard(mutex_);
  CANOPY_TRY(sync_locked());
  CANOPY_ASSIGN_OR_RETURN(api::LabelTask task, task_locked(sample_id));
  if (task.state != api::kTaskLabeled)
    return make_error(ErrorCode::kConflict,
                      "sample " + sample_id + " is " + task.state + "; only labeled samples are reviewed");
  if (task.labeled_by == actor)
    return make_error(ErrorCode::kPermissionDenied,
                      "labels are reviewed by someone other than their labeler (" + actor + ")");
  api::LabelRevision revision;
  revision.kind = accept ? "review_accept" : "review_return";
  revision.actor = actor;
  revision.note = note;
  revision.boxes = task.labels;
  return change_locked(task, std::move(revision), accept ? api::kTaskReviewed : api::kTaskUnlabeled);
}

Result<std::vector<api::LabelRevision>> LabelQueue::revisions(const std::string& sample_id) {
  std::lock_guard guard(mutex_);
  CANOPY_TRY(sync_locked());
  CANOPY_ASSIGN_OR_RETURN(
      Statement select,
      db_.prepare("SELECT body FROM label_revisions WHERE sample_id = ? ORDER BY revision"));
  select.bind(1, sample_id);
  std::vector<api::LabelRevision> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    CANOPY_ASSIGN_OR_RETURN(Json body, parse_json(select.column_text(0), "a stored revision"));
    CANOPY_ASSIGN_OR_RETURN(api::LabelRevision revision, api::LabelRevision::from_json(body));
    out.push_back(std::move(revision));
  }
  if (out.empty()) {
    CANOPY_TRY(task_locked(sample_id));  // kNotFound for an unknown sample
  }
  return out;
}

Result<std::map<std::string, std::int64_t>> LabelQueue::count_by_state() {
  std::lock_guard guard(mutex_);
  CANOPY_TRY(sync_locked());
  return count_by_state_locked();
}

Result<std::map<std::string, std::int64_t>> LabelQueue::count_by_state_locked() {
  // A task whose lease ran out is waiting again, whatever its row says.
  CANOPY_ASSIGN_OR_RETURN(
      Statement states,
      db_.prepare(
          "SELECT CASE WHEN state = 'in_progress' AND lease_until_ms <= ? THEN 'unlabeled' ELSE state END "
          "AS shown, COUNT(*) FROM label_tasks GROUP BY shown"));
  states.bind(1, clock_.wall_ms());
  std::map<std::string, std::int64_t> counts;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, states.step());
    if (!row) return counts;
    counts[states.column_text(0)] = states.column_int(1);
  }
}

Result<api::LabelingStats> LabelQueue::stats() {
  std::lock_guard guard(mutex_);
  CANOPY_TRY(sync_locked());
  api::LabelingStats stats;
  CANOPY_ASSIGN_OR_RETURN(stats.by_state, count_by_state_locked());
  CANOPY_ASSIGN_OR_RETURN(Statement classes,
                          db_.prepare("SELECT label, boxes FROM label_class_counts WHERE boxes > 0"));
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, classes.step());
    if (!row) break;
    stats.boxes_by_class[classes.column_text(0)] = classes.column_int(1);
  }
  CANOPY_ASSIGN_OR_RETURN(Statement accuracy,
                          db_.prepare("SELECT model, field, COUNT(*), SUM(accepted), SUM(moved), "
                                      "SUM(relabeled), SUM(deleted), SUM(added) "
                                      "FROM label_tasks WHERE state IN ('labeled', 'reviewed') GROUP BY "
                                      "model, field ORDER BY model, field"));
  std::int64_t labeled = 0;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, accuracy.step());
    if (!row) break;
    api::ModelAccuracy a;
    a.model = accuracy.column_text(0);
    a.field = accuracy.column_text(1);
    a.samples = accuracy.column_int(2);
    a.corrections = {accuracy.column_int(3), accuracy.column_int(4), accuracy.column_int(5),
                     accuracy.column_int(6), accuracy.column_int(7)};
    labeled += a.samples;
    stats.accuracy.push_back(std::move(a));
  }
  if (labeled > 0) {
    CANOPY_ASSIGN_OR_RETURN(
        Statement median,
        db_.prepare("SELECT spent_ms FROM label_tasks WHERE state IN ('labeled', 'reviewed') "
                    "ORDER BY spent_ms LIMIT 1 OFFSET ?"));
    median.bind(1, labeled / 2);
    CANOPY_ASSIGN_OR_RETURN(bool row, median.step());
    if (row) stats.median_spent_ms = median.column_int(0);
  }
  return stats;
}

namespace {

// The WHERE clause of labeled() and labeled_count(); binds the field as ?1.
std::string labeled_condition(const std::string& field, bool reviewed_only) {
  std::string sql = reviewed_only ? " WHERE state = 'reviewed'" : " WHERE state IN ('reviewed', 'labeled')";
  if (!field.empty()) sql += " AND field = ?1";
  return sql;
}

}  // namespace

Result<std::int64_t> LabelQueue::labeled_count(const std::string& field, bool reviewed_only) {
  std::lock_guard guard(mutex_);
  CANOPY_TRY(sync_locked());
  CANOPY_ASSIGN_OR_RETURN(Statement select, db_.prepare("SELECT COUNT(*) FROM label_tasks" +
                                                        labeled_condition(field, reviewed_only)));
  if (!field.empty()) select.bind(1, field);
  CANOPY_TRY(select.step());
  return select.column_int(0);
}

Result<std::vector<LabeledTask>> LabelQueue::labeled(const std::string& field, bool reviewed_only) {
  std::lock_guard guard(mutex_);
  CANOPY_TRY(sync_locked());
  CANOPY_ASSIGN_OR_RETURN(
      Statement select,
      db_.prepare("SELECT sample_id, state, labels, labeled_by, device_id, field FROM label_tasks" +
                  labeled_condition(field, reviewed_only) + " ORDER BY sample_id"));
  if (!field.empty()) select.bind(1, field);
  std::vector<LabeledTask> out;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(bool row, select.step());
    if (!row) break;
    LabeledTask task;
    task.sample_id = select.column_text(0);
    task.state = select.column_text(1);
    CANOPY_ASSIGN_OR_RETURN(task.labels, parse_labels(select.column_text(2)));
    task.labeled_by = select.column_text(3);
    task.device_id = select.column_text(4);
    task.field = select.column_text(5);
    out.push_back(std::move(task));
  }
  return out;
}

}  // namespace canopy::server
