// kill -9 during a write load: every acknowledged episode survives the restart, with its
// content, its edges and a working index.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/random.h"
#include "engram_process.h"
#include "http_client.h"

namespace engram {
namespace {

using testing_util::EngramProcess;
using testing_util::HttpClient;

std::string EpisodeJson(const std::string& id, uint64_t seed) {
  Rng rng(seed);
  std::string emb;
  for (int i = 0; i < 16; ++i) emb += (i ? "," : "") + std::to_string(rng.Normal());
  return R"({"id":")" + id + R"(","what":"text of )" + id + R"(","embedding":[)" + emb + "]}";
}

void KillDuringWritesThenRecover(const std::vector<std::string>& extra_flags, size_t acked_target) {
  const std::string dir = testing::TempDir() + "/engram_crash_" + std::to_string(getpid()) + "_" + std::to_string(acked_target);
  std::filesystem::remove_all(dir);
  std::vector<std::string> flags = {"--data-dir", dir, "--dim", "16", "--threads", "2"};
  flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());

  std::mutex mu;
  std::vector<std::string> acked;
  {
    EngramProcess server(flags);
    std::atomic<bool> stop{false};
    auto writer = [&](int t) {
      HttpClient client(server.port());
      for (int i = 0; i < 100000 && !stop.load(); ++i) {
        const std::string id = "w" + std::to_string(t) + "-" + std::to_string(i);
        auto r = client.Request("POST", "/api/v1/episodes", EpisodeJson(id, Mix64(t, i)));
        if (r.status == 201) {
          std::lock_guard lock(mu);
          acked.push_back(id);
        } else if (r.status == 0) {
          return;  // the server is gone
        } else {
          ADD_FAILURE() << "unexpected status " << r.status << ": " << r.body;
          return;
        }
      }
    };
    std::thread a(writer, 0), b(writer, 1);
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (acked.size() >= acked_target) break;
      }
      std::this_thread::yield();
    }
    const int status = server.Kill(SIGKILL);  // mid-stream: writers are still sending
    EXPECT_TRUE(WIFSIGNALED(status));
    stop = true;
    a.join();
    b.join();
  }
  ASSERT_GE(acked.size(), acked_target);

  EngramProcess restarted(flags);
  HttpClient client(restarted.port());
  for (const auto& id : acked) {
    auto r = client.Request("GET", "/api/v1/episodes/" + id + "?embedding=false");
    ASSERT_EQ(r.status, 200) << "acknowledged episode " << id << " lost: " << r.body;
    EXPECT_NE(r.body.find("text of " + id), std::string::npos);
  }
  // The index answers for recovered episodes: a search with an episode's own embedding finds it.
  for (size_t i = 0; i < acked.size(); i += acked.size() / 10 + 1) {
    const std::string& id = acked[i];
    const int t = id[1] - '0';
    const int n = std::stoi(id.substr(3));
    std::string emb_json = EpisodeJson(id, Mix64(t, n));
    const size_t at = emb_json.find("\"embedding\"");
    auto r = client.Request("POST", "/api/v1/search", "{" + emb_json.substr(at, emb_json.size() - at - 1) + ",\"k\":1}");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("\"" + id + "\""), std::string::npos) << r.body;
  }
  restarted.Kill(SIGTERM);
  std::filesystem::remove_all(dir);
}

TEST(CrashRecoveryTest, KillNineDuringWritesKeepsEveryAcknowledgedEpisode) {
  KillDuringWritesThenRecover({}, 600);
}

TEST(CrashRecoveryTest, KillNineWithFsyncKeepsEveryAcknowledgedEpisode) {
  KillDuringWritesThenRecover({"--fsync"}, 150);
}

}  // namespace
}  // namespace engram
