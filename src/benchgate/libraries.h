// The shared libraries a benchmark binary loads, and their versions. They are part of the
// fingerprint because the code a benchmark runs is partly theirs: libc's memset and memcpy,
// libstdc++'s allocator, Google Benchmark's per-iteration bookkeeping, Highway's dispatch. Under
// callgrind every instruction they execute inside the benchmark body is counted.
//
// A library's version is, in this order:
//   * the version its real file name carries beyond the soname: libhwy.so.1, a link to
//     libhwy.so.1.0.3, is "1.0.3"; libbenchmark.so.1debian -> libbenchmark.so.1.7.1 is "1.7.1";
//   * for glibc's own libraries (libc, libm, libmvec, libpthread, libdl, librt, libresolv,
//     libutil and the dynamic loader), which glibc installs together under names without it,
//     glibc's release from libc's banner ("... stable release version 2.36."): "2.36";
//   * otherwise "fnv:" and the FNV-1a 64 of the file (libgcc_s.so.1): with no version to read,
//     the file's identity stands in.
// Upstream versions, not distribution revisions (Debian's "2.36-9+deb12u4"): a point release of
// the same upstream version keeps the fingerprint, so a CI container refreshed with security
// updates still compares against a baseline recorded before them.
//
// Threading: plain functions; ListSharedLibraries runs ldd, LibraryVersions reads the files.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace engram::benchgate {

struct SharedLibrary {
  std::string name;  // as ldd prints it: the soname ("libhwy.so.1", "ld-linux-x86-64.so.2")
  std::string path;  // where it resolved ("/lib/x86_64-linux-gnu/libhwy.so.1")
};

// The libraries in the text `ldd BINARY` prints, in its order. The vDSO (no file) and
// libraries ldd could not find are left out.
std::vector<SharedLibrary> ParseLddOutput(std::string_view text);

// Runs `ldd binary`.
Result<std::vector<SharedLibrary>> ListSharedLibraries(const std::string& binary);

// The version `real_name` (a file name, no directory) carries beyond `soname`, or "" when it
// carries none: ("libhwy.so.1", "libhwy.so.1.0.3") -> "1.0.3"; ("libc.so.6", "libc.so.6") -> "".
std::string VersionFromFileName(std::string_view soname, std::string_view real_name);

// True for the libraries glibc installs (see the file comment).
bool IsGlibcLibrary(std::string_view soname);

// glibc's release in libc's file image ("2.36"), or "" when the banner is not there.
std::string GlibcReleaseFromImage(std::string_view libc_image);

// "name version" for each library `libraries` lists, by the rules above, sorted.
Result<std::vector<std::string>> VersionLibraries(const std::vector<SharedLibrary>& libraries);

// The libraries all of `binaries` load, as VersionLibraries gives them, sorted and without
// repeats.
Result<std::vector<std::string>> LibraryVersions(const std::vector<std::string>& binaries);

}  // namespace engram::benchgate
