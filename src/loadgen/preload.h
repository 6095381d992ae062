// Preloading the scenario's dataset before the measured phase, and proving it arrived.
//
// The earlier system never loaded its "100K" dataset (LESSONS.md). Here the nodes of
// DatasetGenerator are stored through the bulk API in batches (several in flight, nodes
// generated on the loading threads), with the graph's edges as links, and afterwards the
// server's per-space episode counts must equal what was loaded, or the run does not start.
//
// Edges: the bulk API links a batch's episodes to each other or to episodes already stored.
// An edge whose far end is in a batch still in flight waits, and rides with a later batch of
// its space once both ends are stored; the last batch of each space is sent after all the
// others of that space are stored, so it can carry every edge still waiting. Edges between
// nodes of different memory spaces cannot exist (spaces are isolated) and are counted in
// edges_skipped.
//
// Leftover data (episodes already in a target space) is reported; loading on top of it is an
// error unless allowed, because a run against a store with unknown contents is not the run the
// scenario describes.
//
// Threading: Preload() blocks the caller and runs `concurrency` loader threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "loadgen/driver.h"
#include "workload/dataset.h"

namespace engram::loadgen {

// Embeddings of the loaded nodes, kept for the exact search the recall check needs. Node i of
// a dataset with S spaces sits in space i % S at row i / S.
struct EmbeddingTable {
  uint32_t dim = 0;
  uint32_t num_spaces = 1;
  std::map<std::string, std::vector<float>> rows;  // space name -> row-major rows
};

struct PreloadOptions {
  size_t batch_size = 500;
  int concurrency = 4;
  bool tty = false;             // an updating progress line on stderr
  bool quiet = false;           // no progress at all
  bool allow_leftover = false;  // load on top of existing episodes instead of failing
  // Keep the embeddings for the recall check when they fit in this many bytes.
  uint64_t keep_embeddings_bytes = uint64_t{2} << 30;
};

struct PreloadReport {
  bool preloaded = false;
  uint64_t nodes_requested = 0;
  uint64_t nodes_loaded = 0;
  uint64_t edges_loaded = 0;
  uint64_t edges_skipped = 0;    // cross-space edges
  uint64_t verified_count = 0;   // episodes the server reports in the dataset's spaces
  uint64_t leftover_episodes = 0;
  double load_seconds = 0;
  std::vector<std::string> spaces;
  std::vector<std::string> warnings;
};

// Nodes of the dataset in space s of S: the i < n with i % S == s.
uint64_t NodesInSpace(uint64_t num_nodes, uint32_t num_spaces, uint32_t s);

// Creates the spaces, loads every node and edge, verifies the counts. FailedPrecondition for
// leftover data (unless allowed) or a space of the wrong dimension; DataLoss when the counts
// do not verify; the driver's error when a batch fails. `keep` (may be null) receives the
// embeddings when they fit the budget (keep->rows stays empty otherwise).
Result<PreloadReport> Preload(Driver* driver, const workload::DatasetGenerator& data,
                              const PreloadOptions& options, EmbeddingTable* keep);

// The episodes the server holds in the dataset's spaces (missing spaces count 0), for runs
// that do not preload. Waits up to `wait_seconds` for each space to hold at least its share of
// the dataset (another shard may still be loading); returns what it found either way.
Result<uint64_t> CountDataset(Driver* driver, const workload::DatasetGenerator& data,
                              double wait_seconds, bool* complete);

}  // namespace engram::loadgen
