// Small helpers shared by the benchgate readers and writers: files, JSON parsing that returns a
// Status instead of throwing, field access with defaults, a diff-friendly pretty printer, and
// the one hash benchgate uses for stable ids and seeds.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/files.h"
#include "core/status.h"

namespace engram::benchgate {

using engram::ReadFile;  // core/files.h
// Writes through a temporary file and rename, so a reader never sees half a file
// (core/files.h's WriteFileAtomically).
Status WriteFileAtomic(const std::string& path, std::string_view content);

Result<boost::json::value> ParseJson(std::string_view text);

std::string StringOr(const boost::json::object& o, std::string_view key, std::string_view fallback);
double NumberOr(const boost::json::object& o, std::string_view key, double fallback);

// Two-space indented JSON; arrays of numbers stay on one line so sample lists do not take a
// line per value in a reviewed diff.
std::string PrettyJson(const boost::json::value& v);

// "2025-10-23T12:00:00Z" for now.
std::string UtcTimestamp();

// FNV-1a 64 of `bytes`, continuing from `h` (the standard offset basis by default). Not
// cryptographic: stable ids (fingerprint keys, file identities) and per-name seeds.
inline constexpr uint64_t kFnv1a64Basis = 1469598103934665603ULL;
uint64_t Fnv1a64(std::string_view bytes, uint64_t h = kFnv1a64Basis);

}  // namespace engram::benchgate
