// Instruction counts from callgrind, and a workaround that lets Valgrind run our binaries on
// virtual machines that hide RDTSCP.
//
// The workaround: Valgrind decodes RDTSCP only when CPUID advertises it. Some hypervisors
// (this project's build VM among them) execute RDTSCP but do not advertise it, and libhwy's
// load-time timer calibration uses it, so every binary linking Highway dies with SIGILL under
// Valgrind before main(). PrepareValgrindLibraries copies each shared library the binary loads
// that contains RDTSCP, rewrites each RDTSCP (0F 01 F9, found in executable sections and
// confirmed by objdump) as RDTSC; NOP (0F 31 90), and returns a directory to put first in
// LD_LIBRARY_PATH for the Valgrind run only. RDTSC differs from RDTSCP only in not writing
// ECX and not waiting for earlier instructions, which libhwy's timer does not rely on for
// correctness; and the timer runs once at load time, outside anything measured.
//
// Threading: plain functions; PrepareValgrindLibraries writes files under `dir`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace engram::benchgate {

// The total of `event` (default instructions, "Ir") in a callgrind output file's text: the
// "totals:" line, or "summary:" when there is none.
Result<uint64_t> ParseCallgrindTotal(std::string_view text, std::string_view event = "Ir");

// True when /proc/cpuinfo lists the rdtscp flag (Valgrind will then decode RDTSCP itself).
bool HostAdvertisesRdtscp();

// Offsets of RDTSCP instructions in the executable sections of an ELF64 file image.
Result<std::vector<uint64_t>> FindRdtscpOffsets(std::string_view elf_image);

// See the file comment. Returns "" when no library the binary loads contains RDTSCP.
Result<std::string> PrepareValgrindLibraries(const std::string& binary, const std::string& dir);

}  // namespace engram::benchgate
