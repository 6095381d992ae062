// Whole-file reads and atomic writes, once for every component.
//
// Threading: free functions; concurrent writers of one path race (the last rename wins).
#pragma once

#include <string>

#include "core/status.h"

namespace engram {

// The file's bytes; NotFound naming the path when it cannot be opened.
Result<std::string> ReadFile(const std::string& path);
// Writes `content` to a temporary file beside `path` and renames it over `path`, so a reader
// sees the old file or the new one, never a part. IOError naming the file on failure.
Status WriteFileAtomically(const std::string& path, const std::string& content);

}  // namespace engram
