#include "server/api.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <set>

#include "core/random.h"
#include "server/fault_injection.h"

namespace engram::server {
namespace {

namespace json = boost::json;

class ApiTest : public testing::Test {
 protected:
  void SetUp() override {
    EngineOptions o;
    o.default_space.dim = 8;
    o.background_consolidation = false;
    engine_ = Engine::Open(o).value();
    api_ = std::make_unique<Api>(engine_.get(), &metrics_, ApiOptions{});
  }

  ApiResponse Call(std::string_view method, std::string_view target, std::string_view body = "",
                   std::string_view space = "") {
    ApiRequest r{method, target, space, body};
    ApiResponse resp = api_->Handle(r, api_->Classify(method, target));
    metrics_.Record(api_->Classify(method, target), resp.status, 1000);
    return resp;
  }

  static json::value Parse(const ApiResponse& r) { return json::parse(r.body); }
  static std::string ErrorCode(const ApiResponse& r) {
    return std::string(Parse(r).at("error").at("code").as_string());
  }

  std::string Episode(std::string id, int seed, std::string what = "") {
    Rng rng(seed);
    json::array emb;
    for (int i = 0; i < 8; ++i) emb.push_back(rng.Normal());
    json::object o{{"id", id}, {"what", what}, {"embedding", emb}};
    return json::serialize(o);
  }

  std::unique_ptr<Engine> engine_;
  Metrics metrics_;
  std::unique_ptr<Api> api_;
};

TEST_F(ApiTest, RememberGetRecallSearchRoundTrip) {
  auto r = Call("POST", "/api/v1/episodes", Episode("a", 1, "alpha text"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Parse(r).at("id").as_string(), "a");
  r = Call("GET", "/api/v1/episodes/a");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Parse(r).at("what").as_string(), "alpha text");
  EXPECT_EQ(Parse(r).at("embedding").as_array().size(), 8u);
  r = Call("GET", "/api/v1/episodes/a?embedding=false");
  EXPECT_FALSE(Parse(r).as_object().contains("embedding"));

  json::value ep = json::parse(Episode("x", 1));
  json::object recall{{"cue", ep.at("embedding")}, {"k", 5}, {"mode", "blended"}};
  r = Call("POST", "/api/v1/recall", json::serialize(recall));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r).at("hits").as_array()[0].at("id").as_string(), "a");
  EXPECT_EQ(Parse(r).at("mode").as_string(), "blended");
  json::object search{{"embedding", ep.at("embedding")}, {"k", 1}};
  r = Call("POST", "/api/v1/search", json::serialize(search));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Parse(r).at("hits").as_array()[0].at("id").as_string(), "a");
}

TEST_F(ApiTest, BatchLinksNeighborsActivateConsolidateComplete) {
  json::array eps;
  for (int i = 0; i < 5; ++i) eps.push_back(json::parse(Episode("n" + std::to_string(i), 10 + i, "note " + std::to_string(i))));
  json::array links{json::object{{"from", "n0"}, {"to", "n4"}, {"weight", 0.9}}};
  auto r = Call("POST", "/api/v1/episodes/batch", json::serialize(json::object{{"episodes", eps}, {"links", links}}));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Parse(r).at("count").as_int64(), 5);
  r = Call("GET", "/api/v1/episodes/n0/neighbors?hops=1&limit=100");
  ASSERT_EQ(r.status, 200) << r.body;
  bool found = false;
  const json::value neighbors = Parse(r);
  for (const auto& n : neighbors.at("neighbors").as_array()) found |= n.at("id").as_string() == "n4";
  EXPECT_TRUE(found);
  r = Call("POST", "/api/v1/neighbors", R"({"id":"n0","hops":2,"limit":10})");
  EXPECT_EQ(r.status, 200) << r.body;
  r = Call("POST", "/api/v1/activate", R"({"seeds":["n0"],"hops":2,"limit":10})");
  ASSERT_EQ(r.status, 200) << r.body;
  // The strong explicit link carries activation to n4 (0.7 * 0.9 after one step, above the
  // seed's retained 0.5), so both lead the list.
  const json::value activated = Parse(r);
  std::set<std::string> top;
  for (size_t i = 0; i < 2; ++i) top.insert(std::string(activated.at("activated").as_array()[i].at("id").as_string()));
  EXPECT_EQ(top, (std::set<std::string>{"n0", "n4"}));
  r = Call("POST", "/api/v1/links", R"({"from":"n1","to":"n2","weight":0.5})");
  EXPECT_EQ(r.status, 201) << r.body;
  r = Call("POST", "/api/v1/consolidate", R"({"full":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r).at("episodes_processed").as_int64(), 5);
  r = Call("POST", "/api/v1/complete", R"({"what":"note 3","k":2})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse(r).at("sources").as_array()[0].at("id").as_string(), "n3");
  r = Call("DELETE", "/api/v1/episodes/n3");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/episodes/n3").status, 404);
}

TEST_F(ApiTest, BadInputGetsJsonErrorsWithTheRightStatus) {
  struct Case {
    std::string method, target, body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"POST", "/api/v1/episodes", "{not json", 400, "INVALID_ARGUMENT"},
      {"POST", "/api/v1/episodes", "", 400, "INVALID_ARGUMENT"},
      {"POST", "/api/v1/episodes", "[1,2]", 400, "INVALID_ARGUMENT"},
      {"POST", "/api/v1/episodes", R"({"id":"z"})", 400, "INVALID_ARGUMENT"},                        // no embedding
      {"POST", "/api/v1/episodes", R"({"embedding":[1,2,3]})", 400, "INVALID_ARGUMENT"},            // wrong dim
      {"POST", "/api/v1/episodes", R"({"embedding":[1,2,3,4,5,6,7,NaN]})", 400, "INVALID_ARGUMENT"},
      {"POST", "/api/v1/episodes", R"({"embedding":[1,2,3,4,5,6,7,1e999]})", 400, "INVALID_ARGUMENT"},
      {"POST", "/api/v1/episodes", R"({"embedding":[1,2,3,4,5,6,7,"8"]})", 400, "INVALID_ARGUMENT"},
      {"POST", "/api/v1/episodes", R"({"embedding":[0,0,0,0,0,0,0,0]})", 400, "INVALID_ARGUMENT"},
      {"POST", "/api/v1/episodes", R"({"embedding":[1,2,3,4,5,6,7,8],"confidence":2})", 400, "INVALID_ARGUMENT"},
      {"POST", "/api/v1/episodes", R"({"embedding":[1,2,3,4,5,6,7,8],"embeding":[]})", 400, "INVALID_ARGUMENT"},
      {"POST", "/api/v1/recall", R"({"cue":[1,2,3,4,5,6,7,8],"mode":"psychic"})", 400, "INVALID_ARGUMENT"},
      {"POST", "/api/v1/recall", R"({"cue":[1,2,3,4,5,6,7,8],"k":0})", 400, "INVALID_ARGUMENT"},
      {"GET", "/api/v1/episodes/missing", "", 404, "NOT_FOUND"},
      {"DELETE", "/api/v1/episodes/missing", "", 404, "NOT_FOUND"},
      {"GET", "/api/v1/nowhere", "", 404, "NOT_FOUND"},
      {"GET", "/api/v1/recall", "", 405, "METHOD_NOT_ALLOWED"},
      {"POST", "/api/v1/spaces", R"({"name":"default"})", 409, "ALREADY_EXISTS"},
      {"POST", "/api/v1/spaces", R"({"name":"a/b"})", 400, "INVALID_ARGUMENT"},
      {"POST", "/api/v1/complete", R"({})", 400, "INVALID_ARGUMENT"},
  };
  for (const auto& c : cases) {
    ApiResponse r = Call(c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << " " << c.body << " -> " << r.body;
    EXPECT_EQ(ErrorCode(r), c.code) << r.body;
    EXPECT_FALSE(std::string(Parse(r).at("error").at("message").as_string()).empty());
  }
  ASSERT_EQ(Call("POST", "/api/v1/episodes", Episode("dup", 3)).status, 201);
  EXPECT_EQ(Call("POST", "/api/v1/episodes", Episode("dup", 4)).status, 409);
  // Nothing above changed what is stored.
  EXPECT_EQ(engine_->GetSpace("default").value()->Stats().episodes, 1u);
}

TEST_F(ApiTest, SpaceHeaderAndQuerySelectIsolatedSpaces) {
  ASSERT_EQ(Call("POST", "/api/v1/spaces", R"({"name":"tenant_a","dim":8})").status, 201);
  ASSERT_EQ(Call("POST", "/api/v1/spaces", R"({"name":"tenant_b","dim":8})").status, 201);
  ASSERT_EQ(Call("POST", "/api/v1/episodes", Episode("secret", 5, "a's"), "tenant_a").status, 201);
  EXPECT_EQ(Call("GET", "/api/v1/episodes/secret", "", "tenant_a").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/episodes/secret?space=tenant_a").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/episodes/secret", "", "tenant_b").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/episodes/secret").status, 404);
  EXPECT_EQ(Call("DELETE", "/api/v1/episodes/secret", "", "tenant_b").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/episodes/secret", "", "tenant_a").status, 200);
  auto r = Call("POST", "/api/v1/episodes", Episode("x", 6), "no_such_space");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("no_such_space"), std::string::npos);
  EXPECT_EQ(Parse(Call("GET", "/api/v1/spaces")).at("spaces").as_array().size(), 3u);
}

TEST_F(ApiTest, MetricsExpositionCountsRequestsAndHasHistograms) {
  ASSERT_EQ(Call("POST", "/api/v1/episodes", Episode("m", 7)).status, 201);
  Call("GET", "/api/v1/episodes/nothing");
  ApiResponse r = Call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type.rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_NE(r.body.find("engram_requests_total{op=\"remember\",code=\"201\"} 1\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("engram_requests_total{op=\"get\",code=\"404\"} 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("engram_request_duration_seconds_bucket{op=\"remember\",le=\"+Inf\"} 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("engram_episodes{space=\"default\"} 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("# TYPE engram_request_duration_seconds histogram\n"), std::string::npos);
  // Every sample line is "name{labels} value" or "name value".
  std::istringstream lines(r.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    EXPECT_NO_THROW((void)std::stod(line.substr(space + 1))) << line;
  }
}

TEST(FaultInjectionTest, ParsesDelaysAndStalls) {
  auto f = FaultInjector::Parse("recall=200us,search=1ms~3ms", "").value();
  EXPECT_TRUE(f.enabled());
  EXPECT_EQ(f.DelayFor(Op::kRecall, 0), 200000);
  EXPECT_EQ(f.DelayFor(Op::kRemember, 0), 0);
  for (int i = 0; i < 100; ++i) {
    const int64_t d = f.DelayFor(Op::kSearch, 0);
    EXPECT_GE(d, 1000000);
    EXPECT_LE(d, 3000000);
  }
  EXPECT_FALSE(FaultInjector::Parse("", "").value().enabled());
  EXPECT_FALSE(FaultInjector::Parse("bogus=1ms", "").ok());
  EXPECT_FALSE(FaultInjector::Parse("recall=1parsec", "").ok());
  EXPECT_FALSE(FaultInjector::Parse("recall=3ms~1ms", "").ok());
  EXPECT_FALSE(FaultInjector::Parse("", "10s/1s").ok());
  EXPECT_EQ(ParseDuration("1.5ms").value(), 1500000);
  EXPECT_EQ(ParseDuration("2s").value(), 2000000000);
}

}  // namespace
}  // namespace engram::server
