// Durability under kill -9: a writer process acknowledges each write on a pipe after the store
// returned OK; the test SIGKILLs it mid-stream, reopens the directory and checks that every
// acknowledged write is there, intact, and that the writes that made it form a gap-free prefix.
//
// The writer is a separate executable started with fork() + exec(), not a bare fork() of the
// test: RocksDB keeps process-wide background threads (Env::Default()'s pools), and a forked
// child of a process that already used RocksDB would inherit none of those threads and possibly
// a locked mutex. exec() gives the writer a clean process, as a real engram server has.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "storage/store.h"
#include "test_util.h"

namespace engram::storage {
namespace {

using test_util::MakeEpisode;
using test_util::SameBits;
using test_util::ScratchDir;
using Clock = std::chrono::steady_clock;

// The whole test's budget; reached only if the writer hangs.
constexpr auto kTimeLimit = std::chrono::seconds(60);

class Writer {
 public:
  Writer(const std::string& dir, SyncPolicy sync, uint64_t max_writes) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) std::abort();
    // Everything the child needs is built before fork(): after it, only async-signal-safe calls.
    const std::string fd_arg = std::to_string(fds[1]);
    const std::string max_arg = std::to_string(max_writes);
    const char* policy = sync == SyncPolicy::kFsync ? "fsync" : "process";
    const char* args[] = {ENGRAM_CRASH_WRITER, dir.c_str(), policy, fd_arg.c_str(),
                          max_arg.c_str(), nullptr};
    pid_ = fork();
    if (pid_ < 0) std::abort();
    if (pid_ == 0) {
      fcntl(fds[1], F_SETFD, 0);  // the ack pipe survives exec
      execv(args[0], const_cast<char* const*>(args));
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
  }
  ~Writer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      Wait();
    }
    if (fd_ >= 0) close(fd_);
  }

  // The next acknowledged seq; nullopt at EOF (the writer is gone) or at the deadline.
  std::optional<uint64_t> NextAck(Clock::time_point deadline) {
    uint64_t seq = 0;
    size_t got = 0;
    while (got < sizeof seq) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      const int ready = poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return std::nullopt;
      const ssize_t n = read(fd_, reinterpret_cast<char*>(&seq) + got, sizeof seq - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      got += static_cast<size_t>(n);
    }
    return seq;
  }

  void Kill() { kill(pid_, SIGKILL); }
  // Reaps the writer; returns its wait status.
  int Wait() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
};

std::string Describe(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return std::string("killed by ") + strsignal(WTERMSIG(wait_status));
  return "stopped";
}

void KillMidStreamAndVerify(SyncPolicy sync, uint64_t acks_before_kill) {
  ScratchDir dir;
  const auto start = Clock::now();
  const auto deadline = start + kTimeLimit;
  std::vector<uint64_t> acked;
  {
    // The bound is never reached: the pipe holds a few thousand acks, so the writer blocks long
    // before it, and it exists only so a runaway writer cannot fill the disk.
    Writer writer(dir.path(), sync, acks_before_kill + 100'000);
    while (acked.size() < acks_before_kill) {
      std::optional<uint64_t> seq = writer.NextAck(deadline);
      if (!seq) {
        writer.Kill();
        FAIL() << "writer stopped acknowledging after " << acked.size() << " writes ("
               << Describe(writer.Wait()) << ")";
      }
      acked.push_back(*seq);
    }
    writer.Kill();
    // Acks already in the pipe were sent after their write returned: they count too.
    while (std::optional<uint64_t> seq = writer.NextAck(deadline)) acked.push_back(*seq);
    const int status = writer.Wait();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << Describe(status);
  }
  const auto killed = Clock::now();
  for (size_t i = 0; i < acked.size(); ++i) ASSERT_EQ(acked[i], i) << "acks out of order";

  StoreOptions options;
  options.data_dir = dir.path();
  options.sync = sync;
  Result<std::unique_ptr<Store>> store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.error().ToString();

  uint64_t next = 0;
  Status s = (*store)->ForEachEpisode("crash", 0, [&](EpisodeRecord&& e) {
    if (e.seq != next) return Status::DataLoss("found seq ", e.seq, " where ", next, " belongs");
    if (!SameBits(e, MakeEpisode(e.seq))) return Status::DataLoss("seq ", e.seq, " is damaged");
    ++next;
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  const uint64_t recovered = next;
  EXPECT_GE(recovered, acked.size()) << "acknowledged writes were lost";

  // Each episode was written with the edge from its predecessor in one batch: every recovered
  // episode has its edge, and no edge outlived its episode.
  uint64_t edges = 0;
  s = (*store)->ForEachEdge("crash", [&](const EdgeRecord& e) {
    if (e.to != edges + 1 || e.from != edges || e.weight != 0.5f) {
      return Status::DataLoss("unexpected edge ", e.from, " -> ", e.to);
    }
    ++edges;
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(edges, recovered == 0 ? 0 : recovered - 1);

  Result<std::vector<SpaceRecord>> spaces = (*store)->ListSpaces();
  ASSERT_TRUE(spaces.ok());
  ASSERT_EQ(spaces->size(), 1u);
  EXPECT_EQ((*spaces)[0].name, "crash");

  // The recovered store takes writes again.
  EpisodeRecord more = MakeEpisode(recovered);
  EXPECT_TRUE((*store)->PutEpisodes("crash", std::span(&more, 1)).ok());

  const auto ms = [](auto d) {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  std::printf("[   INFO   ] %zu acknowledged, %llu recovered (%llu unacknowledged extra); "
              "writing+kill %lld ms, recovery+verify %lld ms\n",
              acked.size(), static_cast<unsigned long long>(recovered),
              static_cast<unsigned long long>(recovered - acked.size()), ms(killed - start),
              ms(Clock::now() - killed));
}

TEST(StoreCrashTest, KillNineKeepsEveryAcknowledgedWriteWithProcessSync) {
  KillMidStreamAndVerify(SyncPolicy::kProcess, 2000);
}

TEST(StoreCrashTest, KillNineKeepsEveryAcknowledgedWriteWithFsync) {
  KillMidStreamAndVerify(SyncPolicy::kFsync, 200);
}

TEST(StoreCrashTest, OpenFailsWhileAnotherProcessHoldsTheDirectory) {
  ScratchDir dir;
  Writer writer(dir.path(), SyncPolicy::kProcess, 100'000);
  ASSERT_TRUE(writer.NextAck(Clock::now() + kTimeLimit).has_value());  // it has the store open

  StoreOptions options;
  options.data_dir = dir.path();
  Result<std::unique_ptr<Store>> store = Store::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.error().message().find("data directory '" + dir.path() +
                                         "' is in use by another engram process"),
            std::string::npos)
      << store.error().message();

  writer.Kill();
  writer.Wait();
  store = Store::Open(options);  // the lock dies with its process
  EXPECT_TRUE(store.ok()) << store.error().ToString();
}

}  // namespace
}  // namespace engram::storage
