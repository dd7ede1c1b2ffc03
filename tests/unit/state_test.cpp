// OCI state JSON: the hook's stdin (examples/state.json), real `runc state` output
// (tests/samples/runc_state.json) and hostile text.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <functional>

#include "discover/state.h"
#include "util/error.h"
#include "util/sys.h"

using namespace lockcr;
using doctest::Contains;
using nlohmann::json;

namespace {

// A valid state with `change` applied, as text.
std::string stateWith(const std::function<void(json&)>& change) {
    json state = {{"ociVersion", "1.0.2"}, {"id", "c1"}, {"status", "running"}, {"bundle", "/b"}, {"pid", 4422}};
    change(state);
    return state.dump();
}

}  // namespace

TEST_CASE("the example hook state is read completely") {
    OciState state = parseOciState(sys::readFile(std::string(LOCKCR_SAMPLES) + "/../../examples/state.json"));
    CHECK(state.ociVersion == "1.0.2");
    CHECK(state.id == "lockdemo");
    CHECK(state.status == "running");
    CHECK(state.pid == 4422);
    CHECK(state.bundle == "/var/lib/lockcr/bundles/lockdemo");
    CHECK(state.annotations.at("org.criu.config") == "/etc/lockcr/criu.conf");
    CHECK(state.rootfs.empty());
}

TEST_CASE("runc state output is accepted: rootfs kept, created and owner ignored") {
    OciState state = parseOciState(sys::readFile(std::string(LOCKCR_SAMPLES) + "/runc_state.json"));
    CHECK(state.id == "lockcr-sample-state");
    CHECK(state.pid == 11959);
    CHECK(state.rootfs == "/tmp/lockcr-runc-bundle/rootfs");
    CHECK(state.annotations.size() == 1);
}

TEST_CASE("annotations are optional and null means none") {
    CHECK(parseOciState(stateWith([](json&) {})).annotations.empty());
    OciState state = parseOciState(stateWith([](json& s) { s["annotations"] = nullptr; }));
    CHECK(state.annotations.empty());
}

TEST_CASE("every status of the runtime-spec is accepted, others are refused") {
    for (const char* status : {"creating", "created", "running", "stopped", "paused"})
        CHECK(parseOciState(stateWith([&](json& s) { s["status"] = status; })).status == status);
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s["status"] = "Running"; })),
                         "OCI state: \"status\": \"Running\" is not creating, created, running, stopped or paused",
                         Error);
}

TEST_CASE("a missing or ill-typed id is refused") {
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s.erase("id"); })), "OCI state: \"id\": missing", Error);
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s["id"] = 5; })),
                         "OCI state: \"id\": expected a string, got number", Error);
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s["id"] = ""; })), "OCI state: \"id\": empty", Error);
}

TEST_CASE("a missing or ill-typed pid is refused") {
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s.erase("pid"); })), "OCI state: \"pid\": missing",
                         Error);
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s["pid"] = "42"; })),
                         "OCI state: \"pid\": expected an integer, got string", Error);
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s["pid"] = 42.0; })),
                         "OCI state: \"pid\": expected an integer, got number", Error);
}

TEST_CASE("a pid that cannot be a live process is refused") {
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s["pid"] = 0; })),
                         "OCI state: \"pid\": 0 is not a live process (expected 1..4194304)", Error);
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s["pid"] = -5; })), Contains("-5 is not a live"), Error);
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s["pid"] = 4194305; })),
                         Contains("4194305 is not a live"), Error);
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s["pid"] = UINT64_MAX; })),
                         Contains("18446744073709551615 is not a live"), Error);
    CHECK(parseOciState(stateWith([](json& s) { s["pid"] = 4194304; })).pid == 4194304);
}

TEST_CASE("a number too big for JSON parsing is malformed JSON, not a crash") {
    CHECK_THROWS_WITH_AS(parseOciState(R"({"id": "c", "pid": 1e400})"), Contains("malformed JSON"), Error);
}

TEST_CASE("ociVersion, bundle and rootfs must be strings") {
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s.erase("ociVersion"); })),
                         "OCI state: \"ociVersion\": missing", Error);
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s["bundle"] = nullptr; })),
                         "OCI state: \"bundle\": expected a string, got null", Error);
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s["rootfs"] = 3; })),
                         "OCI state: \"rootfs\": expected a string, got number", Error);
}

TEST_CASE("annotations must map strings to strings") {
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) {
                             s["annotations"] = {{"a", 1}};
                         })),
                         "OCI state: \"annotations\": value of \"a\" is a number, expected a string", Error);
    CHECK_THROWS_WITH_AS(parseOciState(stateWith([](json& s) { s["annotations"] = json::array({"a"}); })),
                         "OCI state: \"annotations\": expected an object, got array", Error);
}

TEST_CASE("malformed JSON is refused on one line with its position") {
    CHECK_THROWS_WITH_AS(parseOciState(R"({"id": "c",)"),
                         Contains("OCI state: malformed JSON: parse error at line 1, column 12"), Error);
    CHECK_THROWS_WITH_AS(parseOciState(""), Contains("malformed JSON"), Error);
    CHECK_THROWS_WITH_AS(parseOciState("[1, 2]"), "OCI state: expected a JSON object, got array", Error);
}

TEST_CASE("a state over 1 MiB is refused before parsing") {
    std::string big = stateWith([](json& s) { s["pad"] = std::string(1 << 20, 'x'); });
    CHECK_THROWS_WITH_AS(parseOciState(big), Contains("more than the 1048576 a state can be"), Error);
}

TEST_CASE("state errors are bad input") {
    try {
        parseOciState("{");
        FAIL("no error");
    } catch (const Error& error) {
        CHECK(error.status() == ExitStatus::badInput);
    }
}

TEST_CASE("a poststop state may name no process: runc 1.1 leaves pid out, others pass 0") {
    // Seen from runc 1.1.5 at checkpoint (it runs poststop hooks when the container is destroyed).
    std::string runcPoststop =
        R"({"ociVersion":"1.0.2-dev","id":"c1","status":"stopped","bundle":"/b","annotations":{"a":"b"}})";
    CHECK(parseOciState(runcPoststop, StatePid::mayBeZero).id == "c1");
    CHECK(parseOciState(stateWith([](json& s) { s["pid"] = 0; }), StatePid::mayBeZero).pid == 0);
    CHECK_THROWS_WITH_AS(parseOciState(runcPoststop), Contains("pid"), Error);
    CHECK_THROWS_AS(parseOciState(stateWith([](json& s) { s["pid"] = -3; }), StatePid::mayBeZero), Error);
}
