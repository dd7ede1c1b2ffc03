// The CRIU config file as lockcr setup reads, merges and undoes it (criu/criu_config.h), and the
// version lines of criu, crun and uname that `setup --check` reads.
#include <doctest/doctest.h>

#include "criu/criu_config.h"
#include "util/error.h"

using namespace lockcr;
using doctest::Contains;

namespace {

const std::string kBlock =
    "action-script /usr/sbin/lockcr\n"
    "file-locks\n"
    "file-validation filesize\n"
    "# lockcr: managed end\n";

// The merged text without the begin marker line (its wording is not the test's business).
std::string withoutBeginMarker(const std::string& text) {
    size_t begin = text.find(kManagedBeginMarker);
    REQUIRE(begin != std::string::npos);
    return text.substr(0, begin) + text.substr(text.find('\n', begin) + 1);
}

}  // namespace

TEST_CASE("an empty or missing file gets lockcr's whole block") {
    CriuConfigEdit edit = mergeCriuConfig("", CriuSettings{}, "runc.conf");
    CHECK(edit.changed);
    CHECK(edit.notes.empty());
    CHECK(withoutBeginMarker(edit.text) == kBlock);
    CHECK(edit.text.starts_with(kManagedBeginMarker));
}

TEST_CASE("merging twice changes nothing the second time") {
    std::string first = mergeCriuConfig("tcp-established\n", CriuSettings{}, "runc.conf").text;
    CriuConfigEdit second = mergeCriuConfig(first, CriuSettings{}, "runc.conf");
    CHECK_FALSE(second.changed);
    CHECK(second.text == first);
}

TEST_CASE("lines lockcr did not write stay where they are, byte for byte") {
    std::string mine = "# site settings\ntcp-established\n  log-file \"/var/log/criu x.log\"  # quoted\n";
    CriuConfigEdit edit = mergeCriuConfig(mine, CriuSettings{}, "runc.conf");
    CHECK(edit.text.starts_with(mine));
    CHECK(removeManagedBlock(edit.text, "runc.conf").text == mine);
}

TEST_CASE("the block is replaced in place, with the lines after it kept") {
    std::string text = "a\n" + std::string(kManagedBeginMarker) + "\naction-script /old/lockcr\n" + kManagedEndMarker +
                       "\nb\n";
    CriuSettings settings;
    settings.actionScript = "/usr/local/sbin/lockcr";
    CriuConfigEdit edit = mergeCriuConfig(text, settings, "runc.conf");
    CHECK(edit.changed);
    CHECK(edit.text.starts_with("a\n" + std::string(kManagedBeginMarker)));
    CHECK(edit.text.ends_with(std::string(kManagedEndMarker) + "\nb\n"));
    CHECK(edit.text.find("/old/lockcr") == std::string::npos);
    CHECK(edit.text.find("action-script /usr/local/sbin/lockcr\n") != std::string::npos);
}

TEST_CASE("a line the file already has is not written twice, and one that says otherwise is kept") {
    std::string mine = "action-script /usr/sbin/lockcr\nno-file-locks\nfile-validation buildid\n";
    CriuConfigEdit edit = mergeCriuConfig(mine, CriuSettings{}, "runc.conf");
    CHECK(withoutBeginMarker(edit.text) == mine + kManagedEndMarker + "\n");
    REQUIRE(edit.notes.size() == 3);
    CHECK(edit.notes[1].find("line 2 says no-file-locks") != std::string::npos);
    CHECK(edit.notes[2].find("file-validation buildid") != std::string::npos);
}

TEST_CASE("setup without file-locks or file validation writes only the action script") {
    CriuSettings settings;
    settings.fileLocks = false;
    settings.filesizeValidation = false;
    CriuConfigEdit edit = mergeCriuConfig("", settings, "runc.conf");
    CHECK(withoutBeginMarker(edit.text) == std::string("action-script /usr/sbin/lockcr\n") + kManagedEndMarker + "\n");
}

TEST_CASE("a script path with a blank is written in quotes and read back whole") {
    CriuSettings settings;
    settings.actionScript = "/opt/lock cr/lockcr";
    CriuConfigEdit edit = mergeCriuConfig("", settings, "x.conf");
    CHECK(edit.text.find("action-script \"/opt/lock cr/lockcr\"\n") != std::string::npos);
    CriuEffectiveOptions options = effectiveCriuOptions(parseCriuConfig(edit.text, "x.conf"));
    REQUIRE(options.actionScripts.size() == 1);
    CHECK(options.actionScripts[0].value == "/opt/lock cr/lockcr");
    CHECK(options.actionScripts[0].managed);
}

TEST_CASE("undo removes exactly the block; a file without one is left as it is") {
    CHECK(removeManagedBlock(mergeCriuConfig("", CriuSettings{}, "f").text, "f").text.empty());
    CriuConfigEdit untouched = removeManagedBlock("tcp-established\n", "f");
    CHECK_FALSE(untouched.changed);
    CHECK(untouched.text == "tcp-established\n");
    std::string noFinalNewline = "x\n" + std::string(kManagedBeginMarker) + "\n" + kManagedEndMarker + "\ny";
    CHECK(removeManagedBlock(noFinalNewline, "f").text == "x\ny");
}

TEST_CASE("the parser reads options as CRIU does: comments, blanks, last boolean wins, scripts add up") {
    CriuConfigText config = parseCriuConfig(
        "  # comment\n\n\tfile-locks   # trailing\nno-file-locks\nfile-locks\naction-script /a/lockcr\naction-script "
        "/b/other\n"
        "file-validation filesize#x\n",
        "f");
    CriuEffectiveOptions options = effectiveCriuOptions(config);
    REQUIRE(options.fileLocks);
    CHECK(options.fileLocks->option == "file-locks");
    CHECK(options.fileLocks->line == 5);
    REQUIRE(options.actionScripts.size() == 2);
    CHECK(runsLockcr(options.actionScripts[0], "/usr/sbin/lockcr"));
    CHECK_FALSE(runsLockcr(options.actionScripts[1], "/usr/sbin/lockcr"));
    REQUIRE(options.fileValidation);
    CHECK(options.fileValidation->value == "filesize");
}

TEST_CASE("hostile files are refused in one line naming the line") {
    std::string begin = kManagedBeginMarker, end = kManagedEndMarker;
    CHECK_THROWS_WITH_AS(parseCriuConfig(begin + "\nfile-locks\n", "f"),
                         Contains("f: line 1: \"# lockcr: managed begin\" without an end"), Error);
    CHECK_THROWS_WITH_AS(parseCriuConfig("x\n" + end + "\n", "f"),
                         Contains("f: line 2: \"# lockcr: managed end\" without a begin"), Error);
    CHECK_THROWS_WITH_AS(parseCriuConfig(begin + "\n" + end + "\n" + begin + "\n" + end + "\n", "f"),
                         Contains("line 3: a second"), Error);
    CHECK_THROWS_WITH_AS(parseCriuConfig("log-file \"/x\n", "f"),
                         Contains("f: line 1: a quoted value has no closing quote"), Error);
    CHECK_THROWS_WITH_AS(parseCriuConfig(std::string("file-locks\0x", 12), "f"), Contains("NUL"), Error);
    // A merge never guesses past a broken block: it refuses, and the file is not rewritten.
    CHECK_THROWS_AS(mergeCriuConfig(begin + "\nfile-locks\n", CriuSettings{}, "f"), Error);
    CHECK_THROWS_AS(removeManagedBlock(begin + "\nfile-locks\n", "f"), Error);
}

TEST_CASE("criu, crun and kernel versions are read from their real output") {
    CHECK(parseCriuVersionOutput("Version: 4.1.1\n") == Version{4, 1, 1});
    CHECK(parseCriuVersionOutput("Version: 3.19\nGitID: v3.19-1-gabc\n") == Version{3, 19, 0});
    CHECK_FALSE(parseCriuVersionOutput("criu: command not found\n"));
    CrunVersionInfo debian = parseCrunVersionOutput(
        "crun version 1.8.1\ncommit: f8a096be060b22ccd3d5f3ebe44108517fbf6c30\nrundir: /run/user/0/crun\nspec: 1.0.0\n"
        "+SYSTEMD +SELINUX +APPARMOR +CAP +SECCOMP +EBPF +YAJL\n");
    CHECK(debian.version == Version{1, 8, 1});
    CHECK_FALSE(debian.criu);
    CrunVersionInfo recent = parseCrunVersionOutput("crun version 1.26\nspec: 1.0.0\n+SYSTEMD +CAP +CRIU +YAJL\n");
    CHECK(recent.version == Version{1, 26, 0});
    CHECK(recent.criu);
    CHECK_FALSE(parseCrunVersionOutput("crun version 1.26\n-CRIU +CRIUX\n").criu);
    CHECK(parseKernelRelease("6.18.44-fc-v1300\n") == Version{6, 18, 44});
    CHECK(Version{3, 17, 0} < Version{3, 19, 0});
}

TEST_CASE("each engine's files: crun prefers crun.conf, the others write both when crun.conf exists") {
    CHECK(setupFilesFor(Engine::runc, true) == std::vector<std::string>{kRuncConfigFile});
    CHECK(setupFilesFor(Engine::crun, false) == std::vector<std::string>{kRuncConfigFile});
    CHECK(setupFilesFor(Engine::crun, true) == std::vector<std::string>{kCrunConfigFile});
    CHECK(setupFilesFor(Engine::containerd, true) == std::vector<std::string>{kRuncConfigFile, kCrunConfigFile});
    CHECK(defaultConfigFileFor(Engine::podman, true, true) == kCrunConfigFile);
    CHECK(defaultConfigFileFor(Engine::runc, true, true) == kRuncConfigFile);
    CHECK(engineFromName("crio") == Engine::crio);
    CHECK_FALSE(engineFromName("docker"));
}
