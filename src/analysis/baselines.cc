#include "analysis/baselines.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace engram::analysis {

namespace json = boost::json;

namespace {

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

std::vector<CompetitiveBaseline> BaselineFile::Find(const std::string& scenario_stem,
                                                    const std::string& metric) const {
  std::vector<CompetitiveBaseline> out;
  if (scenario_stem.empty()) return out;
  for (const CompetitiveBaseline& b : baselines) {
    if (!b.value || b.metric != metric) continue;
    if (std::find(b.scenarios.begin(), b.scenarios.end(), scenario_stem) != b.scenarios.end()) {
      out.push_back(b);
    }
  }
  return out;
}

Result<BaselineFile> ParseBaselines(std::string_view json_text, std::string_view name) {
  boost::system::error_code ec;
  json::value doc = json::parse(json_text, ec);
  if (ec) return Status::InvalidArgument(name, ": not valid JSON (", ec.message(), ")");
  if (!doc.is_object() || !doc.get_object().contains("baselines") ||
      !doc.get_object().at("baselines").is_array()) {
    return Status::InvalidArgument(name, ": expected an object with a 'baselines' array");
  }
  BaselineFile file;
  file.path = std::string(name);
  const json::array& entries = doc.get_object().at("baselines").get_array();
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string at = std::string(name) + ": baselines[" + std::to_string(i) + "]";
    if (!entries[i].is_object()) return Status::InvalidArgument(at, " must be an object");
    const json::object& o = entries[i].get_object();
    CompetitiveBaseline b;
    b.system = StringField(o, "system");
    b.workload = StringField(o, "workload");
    b.metric = StringField(o, "metric");
    b.unit = StringField(o, "unit");
    b.dataset = StringField(o, "dataset");
    b.hardware = StringField(o, "hardware");
    b.source = StringField(o, "source");
    b.date = StringField(o, "date");
    b.note = StringField(o, "note");
    if (b.system.empty() || b.metric.empty() || b.source.empty()) {
      return Status::InvalidArgument(at, " needs 'system', 'metric' and 'source'");
    }
    if (const json::value* v = o.if_contains("value"); v != nullptr && !v->is_null()) {
      if (v->is_double()) {
        b.value = v->get_double();
      } else if (v->is_int64()) {
        b.value = static_cast<double>(v->get_int64());
      } else if (v->is_uint64()) {
        b.value = static_cast<double>(v->get_uint64());
      } else {
        return Status::InvalidArgument(at, ".value must be a number or null");
      }
      if (!(*b.value > 0)) return Status::InvalidArgument(at, ".value must be positive");
    }
    const json::value* sc = o.if_contains("scenario");
    if (sc != nullptr && sc->is_string()) {
      b.scenarios.emplace_back(sc->get_string());
    } else if (sc != nullptr && sc->is_array()) {
      for (const json::value& s : sc->get_array()) {
        if (!s.is_string()) return Status::InvalidArgument(at, ".scenario must hold strings");
        b.scenarios.emplace_back(s.get_string());
      }
    } else if (sc == nullptr || !sc->is_null()) {
      return Status::InvalidArgument(at, " needs 'scenario' (a string, an array or null)");
    }
    file.baselines.push_back(std::move(b));
  }
  return file;
}

Result<BaselineFile> LoadBaselines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path, ": cannot read (", std::strerror(errno), ")");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseBaselines(text.str(), path);
}

}  // namespace engram::analysis
