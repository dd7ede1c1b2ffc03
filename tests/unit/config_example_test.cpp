// /etc/lockcr/lockcr.yaml: the example lockcr ships (examples/lockcr.yaml, also checked against
// schema/lockcr-config.schema.json by tests/config_schema_test.sh) and hostile files, each refused
// in one line that names the key.
#include <doctest/doctest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "util/error.h"
#include "util/sys.h"

using namespace lockcr;
using doctest::Contains;

namespace {

std::string example() { return sys::readFile(std::string(LOCKCR_SAMPLES) + "/../../examples/lockcr.yaml"); }

bool isOneLine(const std::string& text) { return text.find('\n') == std::string::npos; }

std::string errorOf(const std::string& yaml) {
    try {
        parsePolicies(yaml, "lockcr.yaml");
    } catch (const Error& error) {
        CHECK(isOneLine(error.what()));
        CHECK(error.status() == ExitStatus::badInput);
        return error.what();
    }
    FAIL("accepted: " << yaml);
    return {};
}

}  // namespace

TEST_CASE("the example sets every key, to the defaults") {
    std::string text = example();
    CHECK(parsePolicies(text, "examples/lockcr.yaml") == Policies{});
    nlohmann::json keys = policiesToJson(Policies{});
    for (const auto& [key, value] : keys.items())
        CHECK_MESSAGE(text.find("\n" + key + ": ") != std::string::npos, "the example does not set " << key);
}

TEST_CASE("every value of the example's keys changes the policy") {
    Policies policies = parsePolicies(
        "enabled: no\nconflict: wait\nconflict-wait: 500ms\non-failure: kill\nsnapshot: off\nfilesystem: rollback\n"
        "snapshot-store: /srv/snap\nsnapshot-export: volumes\nlog-file: \"\"\nsyslog: false\n",
        "f");
    CHECK_FALSE(policies.enabled);
    CHECK(policies.conflict == ConflictPolicy::wait);
    CHECK(policies.conflictWait == std::chrono::milliseconds(500));
    CHECK(policies.onFailure == FailurePolicy::kill);
    CHECK_FALSE(policies.snapshot);
    CHECK(policies.filesystem == FilesystemPolicy::rollback);
    CHECK(policies.snapshotStore == "/srv/snap");
    CHECK(policies.snapshotExport == SnapshotExportPolicy::volumes);
    CHECK(policies.logFile.empty());
    CHECK_FALSE(policies.syslog);
}

TEST_CASE("an unknown key is named, with the known ones") {
    std::string message = errorOf("conflict: fail\nconflicts: wait\n");
    CHECK(message.find("lockcr.yaml: line 2: unknown key \"conflicts\"") != std::string::npos);
    CHECK(message.find("known: enabled, conflict,") != std::string::npos);
}

TEST_CASE("bad values are refused naming the key and what it takes") {
    CHECK(errorOf("on-failure: pause\n").find("on-failure: \"pause\" is not one of resume | freeze | kill") !=
          std::string::npos);
    CHECK(errorOf("enabled: maybe\n").find("enabled: \"maybe\" is not true or false") != std::string::npos);
    CHECK(errorOf("conflict-wait: 3601\n").find("conflict-wait") != std::string::npos);
    CHECK(errorOf("conflict-wait: -1\n").find("conflict-wait") != std::string::npos);
    CHECK(errorOf("snapshot-store: relative/dir\n").find("snapshot-store") != std::string::npos);
    CHECK(errorOf("snapshot-store: \"\"\n").find("snapshot-store") != std::string::npos);
}

TEST_CASE("lists and mappings as values are refused naming the key") {
    CHECK(errorOf("conflict:\n  - fail\n  - wait\n").find("conflict: expected a single value") != std::string::npos);
    CHECK(errorOf("log-file: {path: /x}\n").find("log-file: expected a single value") != std::string::npos);
    CHECK(errorOf("- enabled\n").find("expected a mapping") != std::string::npos);
}

TEST_CASE("text that is not YAML is refused with its line") {
    CHECK(errorOf("enabled: true\n  conflict: [fail\n").find("not YAML") != std::string::npos);
    CHECK(errorOf("{enabled: true\n").find("lockcr.yaml: line") != std::string::npos);
    CHECK(errorOf("\"just a string\n").find("lockcr.yaml: expected a mapping") != std::string::npos);
    // "\x00" "binary": split, or "\x00b" would be one hex escape (the literal was a byte short).
    const char elf[] = "\x7f\x45LF\x02\x01\x00\x00" "binary";
    CHECK(errorOf(std::string(elf, sizeof elf - 1)).find("lockcr.yaml:") == 0);
}

TEST_CASE("a file over 64 KiB is refused before it is parsed") {
    std::string path = "/tmp/lockcr-test-huge-config.yaml";
    {
        std::string text = "# " + std::string(70 * 1024, 'x') + "\nenabled: true\n";
        FILE* file = std::fopen(path.c_str(), "w");
        REQUIRE(file);
        std::fwrite(text.data(), 1, text.size(), file);
        std::fclose(file);
    }
    CHECK_THROWS_WITH_AS(readPolicies(path), Contains("larger than 64 KiB"), Error);
    std::remove(path.c_str());
}

TEST_CASE("a missing file is the defaults; an empty one too") {
    CHECK(readPolicies("/nonexistent/lockcr-test-none.yaml") == Policies{});
    CHECK(parsePolicies("", "f") == Policies{});
    CHECK(parsePolicies("# only comments\n", "f") == Policies{});
}
