// The server-saturation rule (src/loadgen/saturation.h): synthetic timelines for each of its
// rules and for healthy runs, its place in the result file (written, read back, merged, old
// files), shed answers counted apart by the HTTP driver, and two real runs: one a server keeps
// up with, one it cannot.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "loadgen/http_driver.h"
#include "loadgen/report.h"
#include "loadgen/saturation.h"
#include "test_util.h"

namespace engram::loadgen {
namespace {

namespace json = boost::json;

// `seconds` of a constant `rate` whose completions keep pace (each second completes what was
// due in it), schedule lag 0.04 ms, the generator's own lag 0.03 ms.
SaturationInput Healthy(int seconds = 60, uint64_t rate = 1000) {
  SaturationInput in;
  in.target_ops_per_sec = static_cast<double>(rate);
  in.connections = 32;
  in.schedule_lag_p99_ms = 0.04;
  in.generator_lag_p99_ms = 0.03;
  for (int s = 0; s < seconds; ++s) {
    in.target_ops.push_back(rate);
    in.completed.push_back(rate);
    in.lag_p99_ms.push_back(0.04);
  }
  in.operations = rate * static_cast<uint64_t>(seconds);
  return in;
}

TEST(SaturationTest, AHealthyRunKeptUpAndIsSustainable) {
  SaturationInput in = Healthy();
  // A few requests always in flight: completions trail the schedule by a handful.
  in.completed[0] -= 3;
  in.completed.back() += 3;
  const SaturationAssessment a = AssessSaturation(in);
  EXPECT_FALSE(a.server_saturated) << a.Summary();
  EXPECT_TRUE(a.sustainable());
  EXPECT_TRUE(a.reasons.empty());
  EXPECT_EQ(a.backlog_end, 0);
  EXPECT_EQ(a.backlog_peak, 3);
  EXPECT_DOUBLE_EQ(a.backlog_limit, 100.0 + 1000 * 0.03 / 1000);  // 0.1 s of the rate + generator lag
  EXPECT_NE(a.Summary().find("kept up"), std::string::npos);
}

TEST(SaturationTest, SteadyScheduleLagWhileWaitingForConnectionsIsSaturation) {
  SaturationInput in = Healthy();
  in.schedule_lag_p99_ms = 1470;  // the run that reached P99 1.5 s
  for (size_t s = 20; s < in.lag_p99_ms.size(); ++s) in.lag_p99_ms[s] = 300;
  const SaturationAssessment a = AssessSaturation(in);
  EXPECT_TRUE(a.server_saturated);
  EXPECT_TRUE(a.lag_from_server);
  EXPECT_FALSE(a.sustainable());
  EXPECT_EQ(a.seconds_lag_over_limit, 40);
  EXPECT_EQ(a.first_second_lag_over_limit, 20);
  ASSERT_EQ(a.reasons.size(), 1u);
  EXPECT_NE(a.reasons[0].find("waiting for a connection"), std::string::npos) << a.reasons[0];
  EXPECT_NE(a.reasons[0].find("first in second 20"), std::string::npos) << a.reasons[0];
}

TEST(SaturationTest, LagJustAboveTheLimitCountsAndJustBelowDoesNot) {
  SaturationInput in = Healthy();
  in.schedule_lag_p99_ms = 1.01;
  EXPECT_TRUE(AssessSaturation(in).server_saturated);
  in.schedule_lag_p99_ms = 0.99;
  EXPECT_FALSE(AssessSaturation(in).server_saturated);
  EXPECT_TRUE(AssessSaturation(in).sustainable());
}

TEST(SaturationTest, ALateGeneratorIsNotTheServerButProvesNoSustainableRate) {
  SaturationInput in = Healthy();
  in.schedule_lag_p99_ms = 3.3;  // a busy neighbour on the generator's core
  in.generator_lag_p99_ms = 3.2;
  const SaturationAssessment a = AssessSaturation(in);
  EXPECT_TRUE(a.lag_over_limit);
  EXPECT_FALSE(a.lag_from_server);
  EXPECT_FALSE(a.server_saturated) << a.Summary();
  EXPECT_FALSE(a.sustainable());
  EXPECT_NE(a.Summary().find("generator's own lag"), std::string::npos) << a.Summary();
}

TEST(SaturationTest, AGrowingBacklogIsSaturationEvenWithoutScheduleLag) {
  // Many connections, so sends leave on time, but the server completes 900 of 1000 a second:
  // the queue sits in the server and grows by 100 a second.
  SaturationInput in = Healthy();
  in.connections = 4096;
  for (uint64_t& c : in.completed) c = 900;
  const SaturationAssessment a = AssessSaturation(in);
  EXPECT_TRUE(a.backlog_growing);
  EXPECT_TRUE(a.server_saturated);
  EXPECT_FALSE(a.lag_over_limit);
  EXPECT_EQ(a.backlog_end, 6000);
  EXPECT_NEAR(a.backlog_slope_per_sec, 100.0, 1e-9);
  EXPECT_DOUBLE_EQ(a.backlog_limit, 4096 + 1000 * 0.03 / 1000);
  ASSERT_EQ(a.reasons.size(), 1u);
  EXPECT_NE(a.reasons[0].find("backlog grew: 6000"), std::string::npos) << a.reasons[0];
}

TEST(SaturationTest, ASmallSteadyBacklogIsNotGrowth) {
  // 25 requests in flight the whole run (long service times, 32 connections): steady.
  SaturationInput in = Healthy(60, 100);
  in.completed[0] -= 25;
  const SaturationAssessment a = AssessSaturation(in);
  EXPECT_EQ(a.backlog_end, 25);
  EXPECT_FALSE(a.backlog_growing);
  EXPECT_FALSE(a.server_saturated);
}

TEST(SaturationTest, AStallInTheLastSecondIsNotAGrowingBacklog) {
  SaturationInput in = Healthy();
  in.completed.back() = 500;  // 500 still due at the end, but nothing grew before
  const SaturationAssessment a = AssessSaturation(in);
  EXPECT_EQ(a.backlog_end, 500);
  EXPECT_FALSE(a.backlog_growing) << a.Summary();
}

TEST(SaturationTest, TheDrainAfterTheScheduleIsNotPartOfTheTrend) {
  SaturationInput in = Healthy(10, 1000);
  in.target_ops.push_back(0);  // the drain second: completions only
  in.completed.push_back(0);
  const SaturationAssessment a = AssessSaturation(in);
  EXPECT_EQ(a.scheduled_seconds, 10);
  EXPECT_FALSE(a.server_saturated);
}

TEST(SaturationTest, ShedAnswersAndTimeoutsAboveATenthOfAPercentAreSaturation) {
  SaturationInput in = Healthy();  // 60 000 operations
  in.shed = 59;
  in.timeouts = 1;  // 0.1% exactly: at the limit, not above
  EXPECT_FALSE(AssessSaturation(in).server_saturated);
  in.shed = 100;
  const SaturationAssessment a = AssessSaturation(in);
  EXPECT_TRUE(a.overloaded);
  EXPECT_TRUE(a.server_saturated);
  ASSERT_EQ(a.reasons.size(), 1u);
  EXPECT_NE(a.reasons[0].find("100 shed"), std::string::npos) << a.reasons[0];
  in.shed = 0;
  in.timeouts = 120;
  EXPECT_TRUE(AssessSaturation(in).overloaded);
}

TEST(SaturationTest, EveryRuleThatFiresGivesItsReason) {
  SaturationInput in = Healthy();
  in.schedule_lag_p99_ms = 900;
  for (uint64_t& c : in.completed) c = 800;
  in.timeouts = 5000;
  const SaturationAssessment a = AssessSaturation(in);
  EXPECT_EQ(a.reasons.size(), 3u);
  EXPECT_EQ(a.Summary().rfind("SATURATED: ", 0), 0u);
}

TEST(SaturationTest, LimitsAreParameters) {
  SaturationInput in = Healthy();
  in.schedule_lag_p99_ms = 1.5;
  SaturationLimits loose;
  loose.lag_p99_ms = 2.0;
  EXPECT_FALSE(AssessSaturation(in, loose).server_saturated);
  EXPECT_TRUE(AssessSaturation(in).server_saturated);
}

TEST(SaturationTest, ShedMeansFourTwentyNineOrFiveOhThreeWithRetryAfter) {
  EXPECT_TRUE(IsShed(503, true));
  EXPECT_TRUE(IsShed(429, true));
  EXPECT_FALSE(IsShed(503, false));
  EXPECT_FALSE(IsShed(500, true));
  EXPECT_FALSE(IsShed(200, true));
}

// A RunReport whose timeline has `completed[s]` completions of 100 due each second.
RunReport ReportWithTimeline(const std::vector<uint64_t>& completed) {
  RunReport r;
  r.config_name = "t";
  r.target_ops_per_sec = 100;
  r.context["connections"] = 4;
  r.context["scenario_hash"] = "h";
  r.context["shard"] = "0/1";
  for (size_t s = 0; s < completed.size(); ++s) {
    TimelineEntry t;
    t.second = static_cast<int64_t>(s);
    t.target_ops = 100;
    t.sent_ops = 100;
    t.ops = completed[s];
    Histogram lag;
    lag.Record(50'000);  // 0.05 ms
    t.lag_histogram = lag.Encode();
    t.latency_histogram = Histogram().Encode();
    r.timeline.push_back(t);
    r.schedule_lag.Merge(lag);
    r.generator_lag.Record(40'000);
    r.kinds[static_cast<size_t>(workload::OpKind::kHealth)].count += completed[s];
    r.kinds[static_cast<size_t>(workload::OpKind::kHealth)].latency.Record(1'000'000);
  }
  r.scheduled = 100 * completed.size();
  r.elapsed_seconds = static_cast<double>(completed.size());
  return r;
}

TEST(SaturationTest, AReportIsJudgedFromItsOwnTimeline) {
  const RunReport ok = ReportWithTimeline(std::vector<uint64_t>(10, 100));
  EXPECT_FALSE(AssessSaturation(ok, 4).server_saturated);
  const SaturationInput in = SaturationInputOf(ok, 4);
  EXPECT_EQ(in.target_ops.size(), 10u);
  EXPECT_NEAR(in.lag_p99_ms[3], 0.05, 0.001);
  EXPECT_NEAR(in.schedule_lag_p99_ms, 0.05, 0.001);
  const RunReport behind = ReportWithTimeline(std::vector<uint64_t>(10, 50));
  EXPECT_TRUE(AssessSaturation(behind, 4).backlog_growing);
}

TEST(SaturationTest, TheResultFileCarriesItAndReadsItBack) {
  RunReport r = ReportWithTimeline(std::vector<uint64_t>(10, 50));
  r.errors_by_kind[static_cast<size_t>(ErrorKind::kShed)] = 7;
  r.saturation = AssessSaturation(r, 4);
  const json::value v = ToJson(r);
  const json::object& o = v.as_object();
  EXPECT_TRUE(o.at("rate").as_object().at("server_saturated").as_bool());
  EXPECT_TRUE(o.at("rate").as_object().at("generator_saturated").is_bool());
  const json::object& sat = o.at("saturation").as_object();
  EXPECT_TRUE(sat.at("backlog_growing").as_bool());
  EXPECT_FALSE(sat.at("sustainable").as_bool());
  EXPECT_EQ(sat.at("backlog_end").as_int64(), 500);
  EXPECT_DOUBLE_EQ(sat.at("limits").as_object().at("schedule_lag_p99_ms").as_double(), 1.0);
  EXPECT_EQ(o.at("timeline").as_array()[9].as_object().at("backlog").as_int64(), 500);
  EXPECT_EQ(o.at("errors_by_kind").as_object().at("shed").as_uint64(), 7u);

  auto back = FromJson(v);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_TRUE(back->saturation.server_saturated);
  EXPECT_EQ(back->saturation.backlog_end, 500);
  EXPECT_EQ(back->errors_by_kind[static_cast<size_t>(ErrorKind::kShed)], 7u);
  EXPECT_EQ(json::serialize(ToJson(*back)), json::serialize(v));
}

TEST(SaturationTest, AFileFromBeforeTheFieldIsReadAndJudgedFromItsTimeline) {
  RunReport r = ReportWithTimeline(std::vector<uint64_t>(10, 50));
  json::value v = ToJson(r);
  json::object& o = v.as_object();
  o.erase("saturation");
  o.at("rate").as_object().erase("server_saturated");
  o.at("errors_by_kind").as_object().erase("shed");
  for (auto& t : o.at("timeline").as_array()) t.as_object().erase("backlog");
  auto back = FromJson(v);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_TRUE(back->saturation.backlog_growing);
  EXPECT_EQ(back->errors_by_kind[static_cast<size_t>(ErrorKind::kShed)], 0u);
}

TEST(SaturationTest, MergedShardsAreJudgedTogether) {
  // Each shard alone is 50 behind per second against 4 connections; together 8 connections.
  RunReport a = ReportWithTimeline(std::vector<uint64_t>(10, 100));
  RunReport b = ReportWithTimeline(std::vector<uint64_t>(10, 95));
  a.context["shard"] = "0/2";
  b.context["shard"] = "1/2";
  auto m = MergeReports({a, b}, {"a.json", "b.json"});
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->saturation.backlog_end, 50);
  EXPECT_DOUBLE_EQ(m->saturation.backlog_limit, std::max(8.0, 0.1 * 200) + 200 * 0.04 / 1000);
  EXPECT_TRUE(m->saturation.backlog_growing);
  EXPECT_EQ(ContextConnections(*m), 8);
}

// A minimal HTTP/1.1 server on 127.0.0.1: the first request gets 200, every later one 503
// with Retry-After (a server shedding load). One thread per connection, keep-alive.
class SheddingServer {
 public:
  SheddingServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] {
      for (;;) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        conns_.emplace_back([this, c] { Serve(c); });
      }
    });
  }
  ~SheddingServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    for (auto& t : conns_) t.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void Serve(int c) {
    std::string buf;
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::recv(c, chunk, sizeof(chunk), 0);
      if (n <= 0) break;
      buf.append(chunk, static_cast<size_t>(n));
      for (size_t end; (end = buf.find("\r\n\r\n")) != std::string::npos;) {
        buf.erase(0, end + 4);
        const char* ok = "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}";
        const char* shed = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n";
        const char* answer = served_.fetch_add(1) == 0 ? ok : shed;
        if (::send(c, answer, std::strlen(answer), MSG_NOSIGNAL) < 0) break;
      }
    }
    ::close(c);
  }
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> served_{0};
  std::thread acceptor_;
  std::vector<std::thread> conns_;  // touched by the acceptor thread only, joined after it
};

HttpDriverOptions DriverAt(const std::string& url) {
  auto e = ParseEndpoint(url);
  EXPECT_TRUE(e.ok());
  EXPECT_TRUE(Resolve(&*e, false).ok());
  HttpDriverOptions o;
  o.endpoint = std::move(e).value();
  return o;
}

TEST(SaturationRunTest, ShedAnswersAreCountedApartAndMarkTheServerSaturated) {
  SheddingServer server;
  HttpDriver driver(DriverAt(server.url()));
  auto r = testing::RunScenario(testing::HealthScenario(200), &driver);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->errors_by_kind[static_cast<size_t>(ErrorKind::kShed)], r->total_operations());
  EXPECT_EQ(r->errors_by_kind[static_cast<size_t>(ErrorKind::kHttp5xx)], 0u);
  EXPECT_TRUE(r->saturation.overloaded);
  EXPECT_TRUE(r->saturation.server_saturated);
  EXPECT_NE(FormatSummary(*r).find("shed " + std::to_string(r->total_operations())), std::string::npos);
}

TEST(SaturationRunTest, AServerThatKeepsUpIsNotSaturatedAndOneThatCannotIs) {
  // Each answer held 20 ms (an asynchronous timer, not a thread) over 4 connections: at most
  // 200 answers a second. 50 ops/s fits; 500 ops/s queues behind the connections.
  testing::TestServer server(8, "health=20ms");
  auto slow = server.Driver(1);
  auto fits = testing::RunScenario(testing::HealthScenario(50), slow.get());
  ASSERT_TRUE(fits.ok()) << fits.error().ToString();
  EXPECT_FALSE(fits->saturation.server_saturated) << fits->saturation.Summary();
  auto overload = testing::RunScenario(testing::HealthScenario(500), slow.get());
  ASSERT_TRUE(overload.ok()) << overload.error().ToString();
  EXPECT_TRUE(overload->saturation.server_saturated) << overload->saturation.Summary();
  EXPECT_TRUE(overload->saturation.lag_from_server) << overload->saturation.Summary();
  EXPECT_FALSE(overload->generator_saturated);
}

}  // namespace
}  // namespace engram::loadgen
