// Job queue: one worker per model, jobs kept for polling.

#include "nnsight/server/job_queue.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <random>

#include "nnsight/api/document_runner.h"
#include "nnsight/server/api_error.h"
#include "nnsight/server/results.h"

namespace nnsight::server {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

const char* status_name(JobStatus s) {
  switch (s) {
    case JobStatus::Queued: return "queued";
    case JobStatus::Running: return "running";
    case JobStatus::Done: return "done";
    case JobStatus::Failed: return "failed";
  }
  return "?";
}

std::string new_job_id() {
  static std::mutex m;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(m);
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

Job::Job(std::string id, std::string model, std::string owner, TraceRequest request)
    : id_(std::move(id)), model_(std::move(model)), owner_(std::move(owner)), request_(std::move(request)) {
  created_ = Clock::now();
}

JobStatus Job::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

bool Job::finished() const {
  const JobStatus s = status();
  return s == JobStatus::Done || s == JobStatus::Failed;
}

int Job::error_status() const {
  std::lock_guard lock(mutex_);
  return error_status_;
}

json Job::to_json() const {
  std::lock_guard lock(mutex_);
  json j = {{"id", id_}, {"model", model_}, {"status", status_name(status_)}, {"logs", logs_}};
  const Clock::time_point now = Clock::now();
  if (status_ == JobStatus::Queued) {
    j["queue_ms"] = ms_between(created_, now);
  } else {
    j["queue_ms"] = ms_between(created_, started_);
    j["run_ms"] = ms_between(started_, status_ == JobStatus::Running ? now : ended_);
  }
  if (status_ == JobStatus::Done) j["result"] = result_;
  if (status_ == JobStatus::Failed) j["error"] = error_;
  return j;
}

JobQueue::JobQueue(std::vector<std::shared_ptr<ServedModel>> models, JobQueueOptions options)
    : options_(options), models_(std::move(models)) {
  for (const auto& m : models_) {
    auto lane = std::make_unique<Lane>();
    lane->model = m;
    lanes_[m->name] = std::move(lane);
  }
  for (auto& [name, lane] : lanes_) lane->worker = std::thread([this, l = lane.get()] { work(*l); });
}

JobQueue::~JobQueue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& [name, lane] : lanes_)
    if (lane->worker.joinable()) lane->worker.join();
}

std::shared_ptr<Job> JobQueue::submit(TraceRequest request, const std::string& owner) {
  std::lock_guard lock(mutex_);
  auto it = lanes_.find(request.model);
  if (it == lanes_.end())
    throw ApiError(404, "unknown_model", "no model called '" + request.model + "'", "request at model",
                   "GET /v1/models lists the models");
  Lane& lane = *it->second;
  if (stopping_) throw ApiError(503, "shutting_down", "the server is shutting down");
  if (lane.queue.size() >= options_.max_queued)
    throw ApiError(429, "queue_full",
                   "model '" + lane.model->name + "' has " + std::to_string(lane.queue.size()) + " jobs waiting",
                   "request at model", "retry later");
  const std::string model = request.model;
  auto job = std::make_shared<Job>(new_job_id(), model, owner, std::move(request));
  jobs_[job->id()] = job;
  lane.queue.push_back(job);
  wake_.notify_all();
  return job;
}

std::shared_ptr<Job> JobQueue::find(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second;
}

bool JobQueue::wait(const std::shared_ptr<Job>& job, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(job->mutex_);
  return job->done_.wait_for(lock, timeout,
                             [&] { return job->status_ == JobStatus::Done || job->status_ == JobStatus::Failed; });
}

const ServedModel* JobQueue::model(const std::string& name) const {
  auto it = lanes_.find(name);
  return it == lanes_.end() ? nullptr : it->second->model.get();
}

std::size_t JobQueue::pending() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [name, lane] : lanes_) n += lane->queue.size() + (lane->busy ? 1 : 0);
  return n;
}

void JobQueue::work(Lane& lane) {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !lane.queue.empty(); });
      if (stopping_) break;
      job = lane.queue.front();
      lane.queue.pop_front();
      lane.busy = true;
    }
    run(lane, *job);
    finish(job);
    std::lock_guard lock(mutex_);
    lane.busy = false;
  }
  // Shutting down: whatever still waits fails.
  std::deque<std::shared_ptr<Job>> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(lane.queue);
  }
  for (auto& job : left) {
    {
      std::lock_guard lock(job->mutex_);
      job->started_ = job->ended_ = Clock::now();
      job->status_ = JobStatus::Failed;
      job->error_status_ = 503;
      job->error_ = {{"code", "shutting_down"}, {"message", "the server shut down before the job ran"}};
      job->request_.reset();
    }
    job->done_.notify_all();
  }
}

void JobQueue::run(Lane& lane, Job& job) {
  {
    std::lock_guard lock(job.mutex_);
    job.status_ = JobStatus::Running;
    job.started_ = Clock::now();
  }
  TraceRequest& request = *job.request_;
  DocumentRunOptions run_options;
  run_options.deadline = job.started_ + options_.wall_time;
  run_options.cancel = &stopping_;
  run_options.log = [&job, this](const std::string& line) {
    std::lock_guard lock(job.mutex_);
    if (job.logs_.size() < options_.max_log_lines) job.logs_.push_back(line);
  };
  json result, error;
  int status = 0;
  try {
    DocumentResult r = run_document(*lane.model->model, request.doc, run_options);
    r.logs.clear();  // already in the job's logs
    // A kept result holds every element as a JSON number (a node of ~16 bytes plus the map around it).
    for (const auto& [id, value] : r.saved)
      for_each_tensor(value,
                      [&](const at::Tensor& t) { job.result_bytes_ += 32 * static_cast<std::size_t>(t.numel()); });
    result = results_to_json(request, r);
    result.erase("logs");
  } catch (const RunInterrupted& e) {
    status = e.deadline() ? 422 : 503;
    error = error_to_json(e.deadline() ? "wall_time_exceeded" : "cancelled", e, &request.doc);
    if (e.deadline())
      error["message"] =
          "the run took longer than the wall-time limit of " + std::to_string(options_.wall_time.count()) + " ms";
  } catch (const Error& e) {
    status = 422;
    error = error_to_json("run_failed", e, &request.doc);
  } catch (const c10::Error& e) {
    status = 422;
    error = error_to_json("run_failed", Error(e.what_without_backtrace()), &request.doc);
  } catch (const std::exception& e) {
    status = 500;
    error = {{"code", "internal_error"}, {"message", e.what()}};
  }
  std::lock_guard lock(job.mutex_);
  job.ended_ = Clock::now();
  job.request_.reset();  // frees the graph and its values
  if (status == 0) {
    job.status_ = JobStatus::Done;
    job.result_ = std::move(result);
  } else {
    job.status_ = JobStatus::Failed;
    job.error_status_ = status;
    job.error_ = std::move(error);
  }
}

void JobQueue::finish(const std::shared_ptr<Job>& job) {
  job->done_.notify_all();
  std::lock_guard lock(mutex_);
  finished_order_.push_back(job->id());
  finished_bytes_ += job->result_bytes_;
  // A waiting client holds its job, so even a job forgotten at once can still be answered.
  while (finished_order_.size() > options_.max_finished ||
         (finished_bytes_ > options_.max_finished_bytes && !finished_order_.empty())) {
    auto it = jobs_.find(finished_order_.front());
    if (it != jobs_.end()) {
      finished_bytes_ -= std::min(finished_bytes_, it->second->result_bytes_);
      jobs_.erase(it);
    }
    finished_order_.pop_front();
  }
}

}  // namespace nnsight::server
