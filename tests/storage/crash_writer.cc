// The process the crash test kills: opens a store and writes one episode (with the edge from its
// predecessor) per PutEpisodes call, acknowledging each seq on a pipe only after the call
// returned OK. The test SIGKILLs it mid-stream and then checks every acknowledged seq survived.
//
// Usage: storage_crash_writer DATA_DIR process|fsync ACK_FD MAX_WRITES
// Exit: 0 after MAX_WRITES writes, 2 on a store error, 3 if the pipe broke, 64 on bad usage.
#include <errno.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "storage/store.h"
#include "test_util.h"

namespace {

bool WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using engram::storage::EdgeRecord;
  using engram::storage::EpisodeRecord;
  using engram::storage::Store;
  using engram::storage::StoreOptions;
  using engram::storage::SyncPolicy;
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DATA_DIR process|fsync ACK_FD MAX_WRITES\n", argv[0]);
    return 64;
  }
  StoreOptions options;
  options.data_dir = argv[1];
  options.sync = std::strcmp(argv[2], "fsync") == 0 ? SyncPolicy::kFsync : SyncPolicy::kProcess;
  const int ack_fd = std::atoi(argv[3]);
  const uint64_t max_writes = std::strtoull(argv[4], nullptr, 10);

  auto store = Store::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "crash_writer: %s\n", store.error().ToString().c_str());
    return 2;
  }
  engram::Status s = (*store)->PutSpace({"crash", 768, 1, "{}"});
  for (uint64_t seq = 0; s.ok() && seq < max_writes; ++seq) {
    const EpisodeRecord episode = engram::storage::test_util::MakeEpisode(seq);
    const EdgeRecord edge{seq == 0 ? 0 : seq - 1, seq, 0.5f};
    s = (*store)->PutEpisodes("crash", std::span(&episode, 1),
                              std::span(&edge, seq == 0 ? 0 : 1));
    if (s.ok() && !WriteAll(ack_fd, &seq, sizeof seq)) return 3;
  }
  if (!s.ok()) {
    std::fprintf(stderr, "crash_writer: %s\n", s.ToString().c_str());
    return 2;
  }
  return 0;
}
