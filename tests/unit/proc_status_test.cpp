// /proc/PID/status: real files captured on this machine (tests/samples/status_*.txt, made by
// tests/samples/capture_samples.py) and hostile text.
#include <doctest/doctest.h>

#include "discover/proc_status.h"
#include "util/error.h"
#include "util/sys.h"

using namespace lockcr;
using doctest::Contains;

namespace {

ProcessStatus parseStatusSample(const std::string& name) {
    return parseProcStatus(sys::readFile(std::string(LOCKCR_SAMPLES) + "/status_" + name + ".txt"));
}

const char* const kMinimalStatus =
    "Name:\tsleep\nState:\tS (sleeping)\nTgid:\t42\nTracerPid:\t0\n"
    "Threads:\t1\n";

// kMinimalStatus with the value of `key` replaced.
std::string statusWith(const std::string& key, const std::string& value) {
    std::string text = kMinimalStatus;
    size_t start = text.find(key + ":\t") + key.size() + 2;
    return text.replace(start, text.find('\n', start) - start, value);
}

}  // namespace

TEST_CASE("status gives name, state, tgid, threads and tracer") {
    ProcessStatus status = parseStatusSample("holder");
    CHECK(status.name == "python3");
    CHECK(status.state == 'S');
    CHECK(status.tgid == 4637);
    CHECK(status.threads == 2);
    CHECK(status.tracerPid == 0);
    CHECK(status.namespacePids == std::vector<pid_t>{4637});
}

TEST_CASE("NSpid lists the pid in every namespace, outermost first") {
    ProcessStatus status = parseStatusSample("in_pid_namespace");
    CHECK(status.tgid == 4649);
    CHECK(status.namespacePids == std::vector<pid_t>{4649, 1});
}

TEST_CASE("a traced process shows its tracer") { CHECK(parseStatusSample("traced").tracerPid == 4636); }

TEST_CASE("a stopped process has state T") { CHECK(parseStatusSample("stopped").state == 'T'); }

TEST_CASE("the kernel's escapes in Name are undone, spaces are kept") {
    // prctl(PR_SET_NAME, "we ird\\na\nme"): the kernel prints "we ird\\\\na\\nme".
    CHECK(parseStatusSample("named").name == "we ird\\na\nme");
    ProcessStatus status = parseProcStatus(statusWith("Name", "  lead\\tspace\\q\\"));
    CHECK(status.name == "  lead\tspace\\q\\");
}

TEST_CASE("NSpid is optional: kernels without pid namespaces do not print it") {
    ProcessStatus status = parseProcStatus(kMinimalStatus);
    CHECK(status.tgid == 42);
    CHECK(status.namespacePids.empty());
}

TEST_CASE("each required key must be present") {
    CHECK_THROWS_WITH_AS(parseProcStatus(""), Contains("no \"Name\" line"), Error);
    std::string noTracer = kMinimalStatus;
    noTracer.erase(noTracer.find("TracerPid"), std::string("TracerPid:\t0\n").size());
    CHECK_THROWS_WITH_AS(parseProcStatus(noTracer), Contains("no \"TracerPid\" line"), Error);
}

TEST_CASE("a key twice is refused: a forged line cannot override the kernel's") {
    CHECK_THROWS_WITH_AS(parseProcStatus(std::string(kMinimalStatus) + "Tgid:\t1\n"),
                         "/proc/PID/status line 6: Tgid appears twice", Error);
}

TEST_CASE("pids and counts out of range are refused") {
    CHECK_THROWS_WITH_AS(parseProcStatus(statusWith("Tgid", "0")),
                         Contains("line 3: bad Tgid \"0\" (expected 1..4194304)"), Error);
    CHECK_THROWS_WITH_AS(parseProcStatus(statusWith("Tgid", "99999999999999999999999")), Contains("bad Tgid"), Error);
    CHECK_THROWS_WITH_AS(parseProcStatus(statusWith("TracerPid", "-1")), Contains("bad TracerPid"), Error);
    CHECK_THROWS_WITH_AS(parseProcStatus(std::string(kMinimalStatus) + "NSpid:\t5\t-1\n"), Contains("bad NSpid \"-1\""),
                         Error);
    CHECK_THROWS_WITH_AS(parseProcStatus(std::string(kMinimalStatus) + "NSpid:\t\n"), Contains("NSpid with no id"),
                         Error);
    std::string deep = std::string(kMinimalStatus) + "NSpid:";
    for (int i = 0; i < 40; ++i) deep += "\t7";
    CHECK_THROWS_WITH_AS(parseProcStatus(deep + "\n"), Contains("more than 33 ids"), Error);
}

TEST_CASE("NSpgid: the process group per namespace, 0 where its leader is not visible") {
    ProcessStatus status = parseProcStatus(std::string(kMinimalStatus) + "NSpid:\t4242\t7\nNSpgid:\t4000\t0\n");
    CHECK(status.namespaceProcessGroups == std::vector<pid_t>{4000, 0});
    CHECK_THROWS_WITH_AS(parseProcStatus(std::string(kMinimalStatus) + "NSpgid:\t4000\t-3\n"),
                         Contains("bad NSpgid \"-3\""), Error);
    CHECK_THROWS_WITH_AS(parseProcStatus(std::string(kMinimalStatus) + "NSpgid:\t1\nNSpgid:\t1\n"),
                         Contains("NSpgid appears twice"), Error);
}

TEST_CASE("a malformed state is refused") {
    CHECK_THROWS_WITH_AS(parseProcStatus(statusWith("State", "(running)")), Contains("bad State"), Error);
    CHECK_THROWS_WITH_AS(parseProcStatus(statusWith("State", "RS")), Contains("bad State"), Error);
    CHECK(parseProcStatus(statusWith("State", "t (tracing stop)")).state == 't');
}

TEST_CASE("truncated and hostile status texts are refused cleanly") {
    CHECK_THROWS_WITH_AS(parseProcStatus("Name:\tx\nState:\tS (sle"),
                         "/proc/PID/status line 2: no newline at the end (truncated read?)", Error);
    CHECK_THROWS_WITH_AS(parseProcStatus("Name: x\n"), Contains("Name without a tab"), Error);
    CHECK_THROWS_WITH_AS(parseProcStatus("Name:\t" + std::string(10 << 20, 'n') + "\n"),
                         Contains("longer than 4096 bytes"), Error);
    CHECK_THROWS_AS(parseProcStatus(std::string(10 << 20, '\x01')), Error);
    CHECK_THROWS_AS(parseProcStatus(std::string(1 << 20, '\n')), Error);
}
