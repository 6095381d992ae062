#include "core/files.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace engram {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot read ", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return Status::IOError("reading ", path, " failed");
  return ss.str();
}

Status WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Status::IOError("cannot write ", tmp);
    f << content;
    f.flush();
    if (!f) return Status::IOError("writing ", tmp, " failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::IOError("cannot rename ", tmp, " to ", path);
  }
  return Status::Ok();
}

}  // namespace engram
