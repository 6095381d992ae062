// The byte layout of stored record values: compact, little-endian, versioned.
//
// Every value starts with a format version byte. Integers are fixed-width little-endian;
// floats are their IEEE-754 bits, little-endian (so -0.0f and NaN payloads round-trip exactly);
// a string is a u32 byte length then the bytes; a list is a u32 count then its elements; an
// embedding is a u32 count then the raw floats.
//
// Decoding trusts nothing: every length is checked against the bytes that remain before it is
// used, trailing bytes are an error, and any failure is Status::DataLoss naming the field. RocksDB
// checksums blocks and WAL records, so a DataLoss here means a bug or a foreign writer, not bit rot.
//
// Pure functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "storage/records.h"

namespace engram::storage {

// The version byte this build writes. Decoders accept exactly this version today; a later format
// adds a branch, not a new meaning for an old byte.
inline constexpr uint8_t kRecordFormatVersion = 1;

std::string EncodeEpisode(const EpisodeRecord& episode);
Result<EpisodeRecord> DecodeEpisode(std::string_view bytes);

std::string EncodeSpace(const SpaceRecord& space);
Result<SpaceRecord> DecodeSpace(std::string_view bytes);

// An edge's endpoints live in its key; the value carries only the weight.
std::string EncodeEdgeWeight(float weight);
Result<float> DecodeEdgeWeight(std::string_view bytes);

}  // namespace engram::storage
