#include "benchgate/callgrind.h"

#include <elf.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "benchgate/json_util.h"
#include "benchgate/libraries.h"
#include "benchgate/process.h"

namespace engram::benchgate {

Result<uint64_t> ParseCallgrindTotal(std::string_view text, std::string_view event) {
  std::istringstream in{std::string(text)};
  std::string line;
  int index = -1;
  std::string totals, summary;
  while (std::getline(in, line)) {
    if (line.rfind("events:", 0) == 0) {
      std::istringstream names(line.substr(7));
      std::string name;
      for (int i = 0; names >> name; ++i) {
        if (name == event) index = i;
      }
    } else if (line.rfind("totals:", 0) == 0) {
      totals = line.substr(7);
    } else if (line.rfind("summary:", 0) == 0) {
      summary = line.substr(8);
    }
  }
  if (index < 0) return Status::InvalidArgument("callgrind output has no event ", event);
  const std::string& values = !totals.empty() ? totals : summary;
  if (values.empty()) return Status::InvalidArgument("callgrind output has no totals or summary");
  std::istringstream nums(values);
  uint64_t v = 0;
  for (int i = 0; i <= index; ++i) {
    if (!(nums >> v)) return Status::InvalidArgument("callgrind totals line too short");
  }
  return v;
}

bool HostAdvertisesRdtscp() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) == 0) return line.find(" rdtscp") != std::string::npos;
  }
  return true;  // not x86 / unknown: nothing to work around
}

Result<std::vector<uint64_t>> FindRdtscpOffsets(std::string_view image) {
  if (image.size() < sizeof(Elf64_Ehdr) || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0 ||
      image[EI_CLASS] != ELFCLASS64) {
    return Status::InvalidArgument("not an ELF64 file");
  }
  Elf64_Ehdr eh;
  std::memcpy(&eh, image.data(), sizeof(eh));
  if (eh.e_shoff == 0 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
      eh.e_shoff + static_cast<uint64_t>(eh.e_shnum) * sizeof(Elf64_Shdr) > image.size()) {
    return Status::InvalidArgument("ELF section headers out of range");
  }
  std::vector<uint64_t> offsets;
  for (int i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, image.data() + eh.e_shoff + static_cast<uint64_t>(i) * sizeof(sh), sizeof(sh));
    if (sh.sh_type != SHT_PROGBITS || (sh.sh_flags & SHF_EXECINSTR) == 0) continue;
    if (sh.sh_offset + sh.sh_size > image.size()) return Status::InvalidArgument("section out of range");
    for (uint64_t off = sh.sh_offset; off + 3 <= sh.sh_offset + sh.sh_size; ++off) {
      if (static_cast<unsigned char>(image[off]) == 0x0F &&
          static_cast<unsigned char>(image[off + 1]) == 0x01 &&
          static_cast<unsigned char>(image[off + 2]) == 0xF9) {
        // Store the virtual address too, for the objdump cross-check: off -> addr.
        offsets.push_back(off);
        offsets.push_back(sh.sh_addr + (off - sh.sh_offset));
      }
    }
  }
  return offsets;
}

namespace {

// Addresses objdump disassembles as rdtscp: the byte pattern can also occur inside other
// instructions, and only real instruction starts may be rewritten.
Result<std::set<uint64_t>> ObjdumpRdtscpAddresses(const std::string& lib) {
  ENGRAM_ASSIGN_OR_RETURN(std::string listing, CaptureOutput({"objdump", "-d", "--no-show-raw-insn", lib}));
  std::set<uint64_t> out;
  std::istringstream in(listing);
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos || line.find("rdtscp", colon) == std::string::npos) continue;
    out.insert(std::strtoull(line.c_str(), nullptr, 16));
  }
  return out;
}

}  // namespace

Result<std::string> PrepareValgrindLibraries(const std::string& binary, const std::string& dir) {
  ENGRAM_ASSIGN_OR_RETURN(std::vector<SharedLibrary> libraries, ListSharedLibraries(binary));
  bool any = false;
  for (const SharedLibrary& lib : libraries) {
    const std::string& soname = lib.name;
    const std::string& path = lib.path;
    if (soname.rfind("libc.so", 0) == 0 || soname.rfind("ld-linux", 0) == 0) continue;
    ENGRAM_ASSIGN_OR_RETURN(std::string image, ReadFile(path));
    auto found = FindRdtscpOffsets(image);
    if (!found || found->empty()) continue;
    ENGRAM_ASSIGN_OR_RETURN(std::set<uint64_t> confirmed, ObjdumpRdtscpAddresses(path));
    int patched = 0;
    for (size_t i = 0; i + 1 < found->size(); i += 2) {
      const uint64_t off = (*found)[i], addr = (*found)[i + 1];
      if (confirmed.count(addr) == 0) continue;
      image[off] = 0x0F;
      image[off + 1] = 0x31;
      image[off + 2] = static_cast<char>(0x90);
      ++patched;
    }
    if (patched == 0) continue;
    std::filesystem::create_directories(dir);
    ENGRAM_RETURN_IF_ERROR(WriteFileAtomic(dir + "/" + soname, image));
    any = true;
  }
  return any ? dir : std::string();
}

}  // namespace engram::benchgate
