// The policies file (/etc/lockcr/lockcr.yaml) and io.lockcr.* annotations: every key, the defaults,
// and hostile input, each refused in one line that names the key.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "util/error.h"

using namespace lockcr;
using doctest::Contains;

TEST_CASE("an empty file and a missing file are the defaults") {
    CHECK(parsePolicies("", "t.yaml") == Policies{});
    CHECK(parsePolicies("# only a comment\n", "t.yaml") == Policies{});
    CHECK(readPolicies("/nonexistent/lockcr.yaml") == Policies{});
    Policies defaults;
    CHECK(defaults.onFailure == FailurePolicy::freeze);  // never run without the locks
    CHECK(defaults.conflict == ConflictPolicy::fail);
    CHECK(defaults.filesystem == FilesystemPolicy::strict);
}

TEST_CASE("every key is read") {
    Policies policies = parsePolicies(
        "enabled: true\nconflict: wait\nconflict-wait: 2.5s\non-failure: kill\nsnapshot: false\n"
        "filesystem: rollback\nsnapshot-store: /srv/snap\nsnapshot-export: volumes\nlog-file: ''\nsyslog: no\n",
        "t.yaml");
    CHECK(policies.conflict == ConflictPolicy::wait);
    CHECK(policies.conflictWait == std::chrono::milliseconds(2500));
    CHECK(policies.onFailure == FailurePolicy::kill);
    CHECK_FALSE(policies.snapshot);
    CHECK(policies.filesystem == FilesystemPolicy::rollback);
    CHECK(policies.snapshotStore == "/srv/snap");
    CHECK(policies.snapshotExport == SnapshotExportPolicy::volumes);
    CHECK(policies.logFile.empty());
    CHECK_FALSE(policies.syslog);
    CHECK(parsePolicies("conflict-wait: 500ms", "t").conflictWait == std::chrono::milliseconds(500));
    CHECK(parsePolicies("conflict-wait: 7", "t").conflictWait == std::chrono::seconds(7));
}

TEST_CASE("bad files are one line naming the file, the line and the key") {
    struct Case {
        const char* text;
        const char* expected;
    };
    for (const Case& bad : {
             Case{"conflcit: wait\n", "t.yaml: line 1: unknown key \"conflcit\""},
             Case{"conflict: maybe\n", "conflict: \"maybe\" is not one of fail | wait"},
             Case{"on-failure: [freeze]\n", "on-failure: expected a single value"},
             Case{"conflict-wait: -1\n", "conflict-wait: \"-1\" is not a duration"},
             Case{"conflict-wait: 3601\n", "is not a duration from 0 to 3600 seconds"},
             Case{"conflict-wait: nan\n", "is not a duration"},
             Case{"syslog: perhaps\n", "syslog: \"perhaps\" is not true or false"},
             Case{"log-file: relative.log\n", "log-file: \"relative.log\" is not an absolute path or empty"},
             Case{"- a\n- b\n", "expected a mapping of keys to values"},
             Case{"conflict: [unclosed\n", "not YAML"},
             Case{"\n\nsnapshot-store: ''\n", "t.yaml: line 3: snapshot-store"},
             Case{"snapshot-export: all\n", "snapshot-export: \"all\" is not one of none | volumes"},
         }) {
        CAPTURE(bad.text);
        try {
            parsePolicies(bad.text, "t.yaml");
            FAIL("accepted");
        } catch (const Error& error) {
            CHECK(error.status() == ExitStatus::badInput);
            CHECK_MESSAGE(std::string(error.what()).find(bad.expected) != std::string::npos, error.what());
            CHECK(std::string(error.what()).find('\n') == std::string::npos);
        }
    }
}

TEST_CASE("annotations override the file; other prefixes are not ours") {
    Policies policies = applyAnnotations(parsePolicies("conflict: wait\n", "t"), {{"io.lockcr.on-failure", "resume"},
                                                                                  {"io.lockcr.conflict", "fail"},
                                                                                  {"org.criu.config", "/x.conf"},
                                                                                  {"io.lockcrx.y", "z"}});
    CHECK(policies.onFailure == FailurePolicy::resume);
    CHECK(policies.conflict == ConflictPolicy::fail);
    CHECK_THROWS_WITH_AS(applyAnnotations({}, {{"io.lockcr.on-failur", "kill"}}),
                         Contains("annotation io.lockcr.on-failur: unknown key \"on-failur\""), Error);
    CHECK_THROWS_WITH_AS(applyAnnotations({}, {{"io.lockcr.enabled", "1"}}),
                         Contains("annotation io.lockcr.enabled: enabled: \"1\" is not true or false"), Error);
}

TEST_CASE("policies travel as JSON and come back equal") {
    Policies policies = parsePolicies("conflict: wait\nconflict-wait: 1.5\non-failure: resume\nsyslog: false\n", "t");
    CHECK(policiesFromJson(policiesToJson(policies), "record") == policies);
    CHECK_THROWS_WITH_AS(policiesFromJson(nlohmann::json{{"conflict", 1}}, "record"),
                         Contains("record: policies.conflict: expected a string"), Error);
}
