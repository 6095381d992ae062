#include "benchgate/libraries.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>

#include "benchgate/json_util.h"
#include "benchgate/process.h"

namespace engram::benchgate {

namespace {

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

// "x.y.z" with at least one digit and only digits and dots.
bool IsDottedNumber(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789.") == std::string_view::npos &&
         s.find_first_of("0123456789") != std::string_view::npos;
}

}  // namespace

std::vector<SharedLibrary> ParseLddOutput(std::string_view text) {
  std::vector<SharedLibrary> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    // "\tlibhwy.so.1 => /lib/x86_64-linux-gnu/libhwy.so.1 (0x...)", "\t/lib64/ld-linux-x86-64.so.2
    // (0x...)"; the vDSO and "libfoo.so => not found" have no file.
    std::string head = line.substr(0, line.find(" ("));
    const size_t arrow = head.find("=>");
    SharedLibrary lib;
    if (arrow != std::string::npos) {
      lib.name = Trim(std::string_view(head).substr(0, arrow));
      lib.path = Trim(std::string_view(head).substr(arrow + 2));
    } else {
      lib.path = Trim(head);
      lib.name = std::filesystem::path(lib.path).filename().string();
    }
    if (lib.name.empty() || lib.path.empty() || lib.path[0] != '/') continue;
    out.push_back(std::move(lib));
  }
  return out;
}

Result<std::vector<SharedLibrary>> ListSharedLibraries(const std::string& binary) {
  auto ldd = CaptureOutput({"ldd", binary});
  if (!ldd) return ldd.error().WithContext("listing the shared libraries of " + binary);
  return ParseLddOutput(*ldd);
}

std::string VersionFromFileName(std::string_view soname, std::string_view real_name) {
  const size_t at = real_name.find(".so.");
  if (at == std::string_view::npos) return "";
  const std::string_view version = real_name.substr(at + 4);
  const size_t so_at = soname.find(".so.");
  const std::string_view so_version =
      so_at == std::string_view::npos ? std::string_view() : soname.substr(so_at + 4);
  if (!IsDottedNumber(version) || version == so_version) return "";
  return std::string(version);
}

bool IsGlibcLibrary(std::string_view soname) {
  for (std::string_view prefix : {"libc.so.", "libm.so.", "libmvec.so.", "libpthread.so.",
                                  "libdl.so.", "librt.so.", "libresolv.so.", "libutil.so.",
                                  "ld-linux", "ld64.so."}) {
    if (soname.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

std::string GlibcReleaseFromImage(std::string_view image) {
  constexpr std::string_view kBanner = "release version ";
  for (size_t at = image.find(kBanner); at != std::string_view::npos;
       at = image.find(kBanner, at + 1)) {
    std::string_view rest = image.substr(at + kBanner.size());
    const size_t end = rest.find_first_not_of("0123456789.");
    std::string_view version = rest.substr(0, end);
    while (!version.empty() && version.back() == '.') version.remove_suffix(1);
    if (IsDottedNumber(version)) return std::string(version);
  }
  return "";
}

Result<std::vector<std::string>> VersionLibraries(const std::vector<SharedLibrary>& libraries) {
  std::string glibc;  // read once, from libc itself
  for (const SharedLibrary& lib : libraries) {
    if (lib.name.rfind("libc.so.", 0) != 0) continue;
    ENGRAM_ASSIGN_OR_RETURN(std::string image, ReadFile(lib.path));
    glibc = GlibcReleaseFromImage(image);
  }
  std::vector<std::string> out;
  for (const SharedLibrary& lib : libraries) {
    std::error_code ec;
    std::filesystem::path real = std::filesystem::canonical(lib.path, ec);
    if (ec) real = lib.path;
    std::string version = VersionFromFileName(lib.name, real.filename().string());
    if (version.empty() && IsGlibcLibrary(lib.name)) version = glibc;
    if (version.empty()) {
      ENGRAM_ASSIGN_OR_RETURN(std::string image, ReadFile(lib.path));
      char buf[32];
      std::snprintf(buf, sizeof(buf), "fnv:%016" PRIx64, Fnv1a64(image));
      version = buf;
    }
    out.push_back(lib.name + " " + version);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> LibraryVersions(const std::vector<std::string>& binaries) {
  std::set<std::string> all;
  for (const std::string& binary : binaries) {
    ENGRAM_ASSIGN_OR_RETURN(std::vector<SharedLibrary> libs, ListSharedLibraries(binary));
    ENGRAM_ASSIGN_OR_RETURN(std::vector<std::string> versions, VersionLibraries(libs));
    all.insert(versions.begin(), versions.end());
  }
  return std::vector<std::string>(all.begin(), all.end());
}

}  // namespace engram::benchgate
