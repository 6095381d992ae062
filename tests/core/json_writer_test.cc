#include "core/json_writer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace engram {
namespace {

TEST(JsonWriterTest, NestedValuesGetTheirCommasAndParseBack) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("id").String("a\"b\\c\n\x01").Key("n").Int(-3).Key("u").Uint(7);
  w.Key("hits").BeginArray();
  for (int i = 0; i < 3; ++i) w.BeginObject().Key("i").Int(i).Key("f").Float(0.5f * i).EndObject();
  w.EndArray().Key("empty").BeginArray().EndArray().Key("o").BeginObject().EndObject();
  w.Key("ok").Bool(true).Key("none").Null().Key("tags").StringArray({"x", "y"}).EndObject();
  EXPECT_EQ(out,
            R"({"id":"a\"b\\c\n\u0001","n":-3,"u":7,"hits":[{"i":0,"f":0},{"i":1,"f":0.5},{"i":2,"f":1}],)"
            R"("empty":[],"o":{},"ok":true,"none":null,"tags":["x","y"]})");
  const boost::json::value v = boost::json::parse(out);
  EXPECT_EQ(v.at("id").as_string(), "a\"b\\c\n\x01");
  EXPECT_EQ(v.at("hits").as_array().size(), 3u);
}

TEST(JsonWriterTest, FloatsAreShortestRoundTripAndNonFiniteIsNull) {
  for (float f : {0.1f, 1.0f / 3.0f, 1e-7f, 123456.78f, -2.5e30f, std::numeric_limits<float>::denorm_min()}) {
    std::string out;
    JsonWriter(&out).Float(f);
    EXPECT_EQ(std::strtof(out.c_str(), nullptr), f) << out;
    EXPECT_LE(out.size(), 15u) << out;
  }
  std::string out;
  JsonWriter(&out).BeginArray().Float(std::nanf("")).Double(INFINITY).EndArray();
  EXPECT_EQ(out, "[null,null]");
  out.clear();
  AppendFloatArray(&out, std::vector<float>{0.25f, std::nanf(""), -1.0f});
  EXPECT_EQ(out, "[0.25,0,-1]");
}

}  // namespace
}  // namespace engram
