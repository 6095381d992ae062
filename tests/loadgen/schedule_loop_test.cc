// The HTTP driver's schedule loop (Driver::RunSchedule, one io thread): the io thread keeps the
// schedule and does the I/O. Driven here through a hand-made ScheduleSource, so each test sets
// the intended starts, deadlines, the generator's readiness and the abort itself, and checks
// what the driver did with every request. Timing is only asserted as lower bounds the design
// guarantees (a request is never sent before its intended start, a server delay is never
// shorter than asked), never as "fast enough".
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "loadgen/runner.h"
#include "test_util.h"

namespace engram::loadgen {
namespace {

using testing::TestServer;

// Requests handed out in order. `not_ready_before_each` calls of TryNext() answer "not generated
// yet" before each request (a generator that is behind); Aborted() turns true once
// `abort_after` requests were dispatched (-1: never).
class VectorSource : public ScheduleSource {
 public:
  explicit VectorSource(std::vector<RequestPtr> requests) : requests_(std::move(requests)) {}

  RequestPtr TryNext(bool* over) override {
    *over = false;
    if (next_ == requests_.size()) {
      *over = true;
      return nullptr;
    }
    if (withheld_ < not_ready_before_each) {
      ++withheld_;
      ++not_ready_answers;
      return nullptr;
    }
    withheld_ = 0;
    ++handed_out;
    return std::move(requests_[next_++]);
  }
  bool Aborted() override { return abort_after >= 0 && dispatched >= abort_after; }
  void Dispatched(const Request& r) override {
    EXPECT_NE(r.dispatch_ns, 0);
    ++dispatched;
  }
  int64_t SpinNanos(int64_t gap_ns) const override { return std::clamp<int64_t>(gap_ns / 4, 0, 50'000); }

  int not_ready_before_each = 0;
  int64_t abort_after = -1;
  int64_t dispatched = 0, handed_out = 0, not_ready_answers = 0;

 private:
  std::vector<RequestPtr> requests_;
  size_t next_ = 0;
  int withheld_ = 0;
};

// Collects done() callbacks; every request must come back exactly once.
class Completions {
 public:
  DriverCallbacks Callbacks() {
    DriverCallbacks c;
    c.done = [this](RequestPtr r) {
      std::lock_guard lock(mu_);
      done_.push_back(std::move(r));
      cv_.notify_all();
    };
    return c;
  }
  // Waits (up to a minute, then fails) for `n` completions; returns them by request index.
  std::vector<RequestPtr> WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(60), [&] { return done_.size() >= n; }))
        << done_.size() << " of " << n << " completed";
    std::vector<RequestPtr> out = std::move(done_);
    done_.clear();
    std::sort(out.begin(), out.end(), [](const RequestPtr& a, const RequestPtr& b) { return a->index < b->index; });
    for (size_t i = 1; i < out.size(); ++i) EXPECT_NE(out[i - 1]->index, out[i]->index) << "completed twice";
    return out;
  }
 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<RequestPtr> done_;
};

// `n` GET /health requests, request i intended at start_ns + i * gap_ns, deadline timeout_ns later.
std::vector<RequestPtr> HealthRequests(const std::string& url, int n, int64_t start_ns, int64_t gap_ns,
                                       int64_t timeout_ns) {
  auto e = ParseEndpoint(url);
  EXPECT_TRUE(e.ok());
  const std::string wire = HttpWire(*e, "GET", "/health", "", "");
  std::vector<RequestPtr> out;
  for (int i = 0; i < n; ++i) {
    auto r = std::make_unique<Request>();
    r->index = static_cast<uint64_t>(i);
    r->kind = workload::OpKind::kHealth;
    r->intended_ns = start_ns + i * gap_ns;
    r->offset_ns = r->intended_ns - start_ns;
    r->deadline_ns = r->intended_ns + timeout_ns;
    r->wire = wire;
    out.push_back(std::move(r));
  }
  return out;
}

constexpr int64_t kMs = 1'000'000;

// What one RunSchedule() through a fresh one-io-thread driver did.
struct LoopRun {
  bool aborted = false;
  std::vector<RequestPtr> done;  // the completions, by request index
  int64_t peak_inflight = 0;
};

// Runs `source` through a one-io-thread driver with `connections` connections and waits for
// `completions` done() callbacks (Completions::WaitFor fails the test if they do not come).
LoopRun RunLoop(const TestServer& server, int connections, VectorSource* source, size_t completions) {
  auto driver = server.Driver(1);
  Completions done;
  LoopRun run;
  if (!driver->Begin(connections, done.Callbacks()).ok()) {
    ADD_FAILURE() << "Begin failed";
    return run;
  }
  run.aborted = driver->RunSchedule(source);
  run.done = done.WaitFor(completions);
  driver->End();
  run.peak_inflight = driver->peak_inflight();
  return run;
}

TEST(ScheduleLoopTest, OnlyTheDriverWithOneIoThreadKeepsTheSchedule) {
  TestServer server(8);
  EXPECT_TRUE(server.Driver(1)->RunsSchedule());
  EXPECT_FALSE(server.Driver(2)->RunsSchedule());
  EXPECT_FALSE(testing::InProcess(8)->RunsSchedule());
}

TEST(ScheduleLoopTest, EveryRequestIsSentNoEarlierThanItsIntendedStartAndCompletesOnce) {
  TestServer server(8);
  // 600 requests at 3000/s (200 ms), starting 20 ms from now.
  const int64_t start = MonoNanos() + 20 * kMs;
  VectorSource source(HealthRequests(server.url(), 600, start, 333'333, 10'000 * kMs));
  LoopRun run = RunLoop(server, 4, &source, 600);
  EXPECT_FALSE(run.aborted);
  const std::vector<RequestPtr>& all = run.done;
  ASSERT_EQ(all.size(), 600u);
  EXPECT_EQ(source.dispatched, 600);
  for (size_t i = 0; i < all.size(); ++i) {
    const Request& r = *all[i];
    ASSERT_EQ(r.index, i);
    EXPECT_EQ(r.error, ErrorKind::kNone) << r.error_detail;
    EXPECT_EQ(r.http_status, 200);
    EXPECT_GE(r.dispatch_ns, r.intended_ns) << "request " << i << " sent early";
    EXPECT_GE(r.sent_ns, r.dispatch_ns);
    EXPECT_GE(r.done_ns, r.sent_ns);
    if (i > 0) {
      EXPECT_GE(r.dispatch_ns, all[i - 1]->dispatch_ns) << "out of schedule order at " << i;
    }
  }
  EXPECT_LE(run.peak_inflight, 4);
}

TEST(ScheduleLoopTest, RequestsBeyondTheConnectionsWaitInOneFifoQueueWithTheirLatencyClockRunning) {
  // Ten requests due at once, two connections, the server holds each answer 30 ms: two go on
  // the wire, eight queue, and each pair waits for the pair before it.
  TestServer server(8, "health=30ms");
  const int64_t start = MonoNanos() + 10 * kMs;
  VectorSource source(HealthRequests(server.url(), 10, start, 0, 10'000 * kMs));
  LoopRun run = RunLoop(server, 2, &source, 10);
  EXPECT_FALSE(run.aborted);
  const std::vector<RequestPtr>& all = run.done;
  ASSERT_EQ(all.size(), 10u);
  std::vector<int64_t> done_at;
  for (const auto& r : all) done_at.push_back(r->done_ns);
  std::sort(done_at.begin(), done_at.end());
  int queued = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const Request& r = *all[i];
    EXPECT_EQ(r.error, ErrorKind::kNone) << r.error_detail;
    queued += r.queued ? 1 : 0;
    // Latency from the intended start includes the queue: request i is answered after
    // (i / 2 + 1) server delays at the earliest.
    EXPECT_GE(r.done_ns - r.intended_ns, static_cast<int64_t>(i / 2 + 1) * 30 * kMs) << "request " << i;
    if (i >= 2) {
      EXPECT_TRUE(r.queued) << "request " << i;
      // Sent only once i - 1 requests had completed and freed a connection.
      EXPECT_GE(r.sent_ns, done_at[i - 2]) << "request " << i << " sent before a connection was free";
      // Queued in dispatch order, sent in the same order (FIFO).
      EXPECT_GE(r.sent_ns, all[i - 1]->sent_ns) << "request " << i;
      // Its generator lag ends when it was queued, long before it was sent.
      EXPECT_LT(r.dispatch_ns, r.sent_ns);
    }
  }
  EXPECT_EQ(queued, 8);
  EXPECT_EQ(run.peak_inflight, 2);
}

TEST(ScheduleLoopTest, DeadlinesFailRequestsOnTheWireAndInTheQueueAsTimeouts) {
  // One connection, answers held 200 ms, deadlines 50 ms after the intended start: the first
  // request times out on the wire, the four queued behind it in the queue. A sixth, later and
  // with a long deadline, then succeeds on the reopened connection.
  TestServer server(8, "health=200ms");
  const int64_t start = MonoNanos() + 10 * kMs;
  std::vector<RequestPtr> requests = HealthRequests(server.url(), 6, start, 0, 50 * kMs);
  requests[5]->intended_ns = start + 100 * kMs;
  requests[5]->deadline_ns = start + 5'000 * kMs;
  VectorSource source(std::move(requests));
  LoopRun run = RunLoop(server, 1, &source, 6);
  EXPECT_FALSE(run.aborted);
  const std::vector<RequestPtr>& all = run.done;
  ASSERT_EQ(all.size(), 6u);
  for (size_t i = 0; i < 5; ++i) {
    const Request& r = *all[i];
    EXPECT_EQ(r.error, ErrorKind::kTimeout) << "request " << i << ": " << r.error_detail;
    EXPECT_GE(r.done_ns, r.deadline_ns) << "request " << i;
    EXPECT_EQ(r.sent_ns != 0, i == 0) << "request " << i;
  }
  EXPECT_EQ(all[5]->error, ErrorKind::kNone) << all[5]->error_detail;
  EXPECT_GE(all[5]->done_ns - all[5]->sent_ns, 200 * kMs);
}

TEST(ScheduleLoopTest, AbortStopsTakingRequestsAndEveryDispatchedOneStillCompletes) {
  TestServer server(8);
  const int64_t start = MonoNanos() + 10 * kMs;
  VectorSource source(HealthRequests(server.url(), 100, start, kMs, 10'000 * kMs));
  source.abort_after = 10;
  LoopRun run = RunLoop(server, 4, &source, 10);
  EXPECT_TRUE(run.aborted);
  const std::vector<RequestPtr>& all = run.done;
  EXPECT_EQ(source.dispatched, 10);
  EXPECT_EQ(all.size(), 10u);  // the one held when the abort came was never sent
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i]->index, i);
    EXPECT_EQ(all[i]->error, ErrorKind::kNone) << all[i]->error_detail;
  }
  EXPECT_LE(source.handed_out, 11);
}

TEST(ScheduleLoopTest, AGeneratorThatFallsBehindDelaysSendsButLosesNone) {
  TestServer server(8);
  // All due at once, but the generator has each one ready only on the third look.
  const int64_t start = MonoNanos();
  VectorSource source(HealthRequests(server.url(), 50, start, 0, 10'000 * kMs));
  source.not_ready_before_each = 2;
  LoopRun run = RunLoop(server, 4, &source, 50);
  EXPECT_FALSE(run.aborted);
  const std::vector<RequestPtr>& all = run.done;
  ASSERT_EQ(all.size(), 50u);
  EXPECT_EQ(source.not_ready_answers, 100);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i]->index, i);
    EXPECT_EQ(all[i]->error, ErrorKind::kNone) << all[i]->error_detail;
    if (i > 0) {
      EXPECT_GT(all[i]->dispatch_ns, all[i - 1]->dispatch_ns);
    }
  }
}

// Counts which way the runner handed the schedule over.
class CountingHttpDriver : public HttpDriver {
 public:
  using HttpDriver::HttpDriver;
  void Submit(RequestPtr r) override {
    submits.fetch_add(1);
    HttpDriver::Submit(std::move(r));
  }
  bool RunSchedule(ScheduleSource* source) override {
    run_schedules.fetch_add(1);
    return HttpDriver::RunSchedule(source);
  }
  std::atomic<int> submits{0}, run_schedules{0};
};

std::unique_ptr<CountingHttpDriver> Counting(const TestServer& server, int io_threads) {
  return std::make_unique<CountingHttpDriver>(server.DriverOptions(io_threads));
}

const std::string kHealth = testing::HealthScenario(500);

TEST(ScheduleLoopTest, TheRunnerHandsTheWholeScheduleToADriverThatKeepsIt) {
  TestServer server(8);
  for (int io_threads : {1, 2}) {
    auto driver = Counting(server, io_threads);
    auto r = testing::RunScenario(kHealth, driver.get());
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->scheduled, 500u);
    EXPECT_EQ(r->sent, 500u);
    EXPECT_EQ(r->total_operations(), 500u);
    EXPECT_EQ(r->total_errors(), 0u);
    EXPECT_EQ(r->schedule_lag.count(), 500u);
    EXPECT_EQ(r->generator_lag.count(), 500u);
    EXPECT_EQ(driver->run_schedules.load(), io_threads == 1 ? 1 : 0) << io_threads << " io threads";
    EXPECT_EQ(driver->submits.load(), io_threads == 1 ? 0 : 500) << io_threads << " io threads";
  }
}

TEST(ScheduleLoopTest, AnAbortedRunStopsSendingAndAccountsForEverySentOperation) {
  TestServer server(8);
  auto driver = server.Driver(1);
  std::atomic<bool> abort{false};
  RunOptions o = testing::Quiet();
  o.abort = &abort;
  o.duration_seconds = 30.0;
  // Abort once the server has answered 200 of the run's requests (the reachability check is one more).
  std::atomic<bool> stop_watch{false};
  std::thread watcher([&] {
    while (!stop_watch.load()) {
      if (server.HealthOkCount() >= 201) {
        abort.store(true);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  auto r = testing::RunScenario(kHealth, driver.get(), o);
  stop_watch.store(true);
  watcher.join();
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(abort.load());
  EXPECT_EQ(r->scheduled, 15'000u);
  EXPECT_GE(r->sent, 200u);
  EXPECT_LT(r->sent, r->scheduled);
  EXPECT_EQ(r->total_operations(), r->sent);  // every sent operation completed, none twice
  EXPECT_EQ(r->total_errors(), 0u);
  EXPECT_LT(r->elapsed_seconds, 29.0);
}

}  // namespace
}  // namespace engram::loadgen
