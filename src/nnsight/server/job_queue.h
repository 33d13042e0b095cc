#pragma once
/// @file
/// Jobs and the queue that runs them: one worker thread per hosted model, so a
/// model runs one request at a time while different models run in parallel.
/// Finished jobs are kept (results, errors, logs) for GET /v1/jobs/{id} until
/// `max_finished` newer ones have finished, or their results together exceed
/// `max_finished_bytes` (oldest forgotten first).
///
/// ```
///   JobQueue queue(models, {.wall_time = 30s});
///   auto job = queue.submit(std::move(request), "alice");   // ApiError 429 when full
///   queue.wait(job, 10s);
///   nlohmann::json status = job->to_json();
/// ```

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "nnsight/server/served_model.h"
#include "nnsight/server/trace_request.h"

namespace nnsight::server {

/// Where a job is in its life: waiting, running, finished with a result or with an error.
enum class JobStatus { Queued, Running, Done, Failed };
/// "queued", "running", "done", "failed" (as in the job JSON).
const char* status_name(JobStatus s);

/// One trace request submitted to a JobQueue, and its outcome. Thread-safe.
class Job {
 public:
  /// A queued job of `owner` (an API key name) running `request` on model `model`.
  Job(std::string id, std::string model, std::string owner, TraceRequest request);

  const std::string& id() const { return id_; }        ///< the job id clients poll
  const std::string& model() const { return model_; }  ///< the name of the model it runs on
  /// The API key name that submitted it ("" without keys): only it may read the job.
  const std::string& owner() const { return owner_; }
  JobStatus status() const;  ///< where it is now
  bool finished() const;     ///< Done or Failed
  /// The HTTP status of a failed job's error (0 otherwise).
  int error_status() const;
  /// {"id", "model", "status", "logs", "queue_ms", "run_ms", "result" | "error"}.
  nlohmann::json to_json() const;

 private:
  friend class JobQueue;
  const std::string id_, model_, owner_;
  std::optional<TraceRequest> request_;  ///< dropped once run (its graph holds values)
  std::chrono::steady_clock::time_point created_, started_, ended_;
  mutable std::mutex mutex_;
  std::condition_variable done_;
  JobStatus status_ = JobStatus::Queued;
  std::vector<std::string> logs_;
  nlohmann::json result_;
  std::size_t result_bytes_ = 0;  ///< estimated memory of result_ (tensor elements as JSON numbers)
  nlohmann::json error_;
  int error_status_ = 0;
};

/// Limits of a JobQueue.
struct JobQueueOptions {
  std::chrono::milliseconds wall_time{60'000};  ///< per job, from when it starts running
  std::size_t max_queued = 64;                  ///< waiting jobs per model
  std::size_t max_finished = 1000;              ///< finished jobs kept for polling
  std::size_t max_finished_bytes = 256u << 20;  ///< and at most this much of their results (estimated)
  std::size_t max_log_lines = 1000;             ///< print lines kept per job
};

/// Runs jobs, one worker thread per model (see the file comment).
class JobQueue {
 public:
  /// Starts one worker per model.
  JobQueue(std::vector<std::shared_ptr<ServedModel>> models, JobQueueOptions options);
  /// Cancels the running jobs, fails the queued ones and joins the workers.
  ~JobQueue();
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  /// Queues `request` on its model (which must exist). Throws ApiError 429
  /// when the model's queue is full.
  std::shared_ptr<Job> submit(TraceRequest request, const std::string& owner);
  /// The job `id`, or null (unknown or forgotten).
  std::shared_ptr<Job> find(const std::string& id) const;
  /// Waits until `job` finished or `timeout` passed; true when finished.
  bool wait(const std::shared_ptr<Job>& job, std::chrono::milliseconds timeout) const;

  /// The model called `name`, or null.
  const ServedModel* model(const std::string& name) const;
  /// Every hosted model.
  const std::vector<std::shared_ptr<ServedModel>>& models() const { return models_; }
  /// Jobs waiting or running, over all models.
  std::size_t pending() const;

 private:
  struct Lane {
    std::shared_ptr<ServedModel> model;
    std::deque<std::shared_ptr<Job>> queue;
    bool busy = false;
    std::thread worker;
  };
  void work(Lane& lane);
  void run(Lane& lane, Job& job);
  void finish(const std::shared_ptr<Job>& job);

  JobQueueOptions options_;
  std::vector<std::shared_ptr<ServedModel>> models_;
  std::map<std::string, std::unique_ptr<Lane>> lanes_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::string> finished_order_;
  std::size_t finished_bytes_ = 0;  ///< result_bytes_ of the kept finished jobs
  std::atomic<bool> stopping_{false};
};

/// A fresh unguessable job id (32 hex digits).
std::string new_job_id();

}  // namespace nnsight::server
