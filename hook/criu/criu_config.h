// The CRIU configuration file that reaches CRIU through the runtime (runc: the `org.criu.config`
// annotation, else /etc/criu/runc.conf; crun >= 1.26 with CRIU >= 4.2: the annotation, else
// /etc/criu/crun.conf, else runc.conf). Its `action-script` line is what makes CRIU run lockcr at
// every stage, on every engine built on runc or crun; `lockcr setup` writes it.
//
// Everything here is pure (text in, text or values out): the parser reads a line the way CRIU's
// parse_statement (criu/config.c) does -- leading blanks skipped, `#` starts a comment, the option
// is the first word (CRIU adds the "--"), its value the rest, in double quotes if it has blanks.
//
// lockcr's own lines sit between two marker comments, so a merge replaces exactly them and an undo
// removes exactly them; a line between the markers that someone else wrote is lost on the next
// merge (the markers say so), a line anywhere else is never touched.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockcr {

constexpr const char* kManagedBeginMarker = "# lockcr: managed begin";
constexpr const char* kManagedEndMarker = "# lockcr: managed end";
constexpr const char* kDefaultActionScript = "/usr/sbin/lockcr";

// One option line: `file-locks`, `action-script /usr/sbin/lockcr`, `no-file-locks`.
struct CriuStatement {
    size_t line = 0;  // 1-based
    std::string option;
    std::string value;     // empty for a boolean option
    bool managed = false;  // inside lockcr's marker block
};

struct CriuConfigText {
    std::vector<std::string> lines;  // without their '\n'
    bool endsWithNewline = true;     // false: the last line had none (an empty text counts as true)
    std::vector<CriuStatement> statements;
    // lockcr's block, as 0-based indexes of its two marker lines.
    std::optional<std::pair<size_t, size_t>> managedBlock;
};

// Refuses (badInput, one line naming SOURCE and the line) a NUL byte, a quoted value without its
// closing quote, and marker lines that do not pair up (a second begin, an end without a begin, a
// begin without an end): lockcr never guesses which lines are its own.
CriuConfigText parseCriuConfig(std::string_view text, const std::string& source);

// What lockcr asks of the file.
struct CriuSettings {
    std::string actionScript = kDefaultActionScript;
    // `file-locks`: CRIU dumps locked files instead of refusing them. Without it a checkpoint of a
    // container holding a lock fails unless the caller passes --file-locks (containerd never does).
    bool fileLocks = true;
    // `file-validation filesize`: CRIU's default (build-id) reopens every dumped regular file of 5
    // bytes or more through /proc/self/fd, which breaks a write lease: the dump stalls for
    // lease-break-time (45 s) and the lease is gone.
    bool filesizeValidation = true;
};

struct CriuConfigEdit {
    std::string text;
    bool changed = false;
    // Why a line lockcr would want is not in its block: the file's own lines already say it, or
    // say otherwise (lockcr keeps them: it never overrides a line it did not write).
    std::vector<std::string> notes;
};

// EXISTING with lockcr's block set to SETTINGS: the block is replaced where it is, or appended at
// the end. Idempotent: merging the result again changes nothing.
CriuConfigEdit mergeCriuConfig(std::string_view existing, const CriuSettings& settings, const std::string& source);
// EXISTING without lockcr's block; every other line stays as it was.
CriuConfigEdit removeManagedBlock(std::string_view existing, const std::string& source);

// What the file makes CRIU do, the way CRIU reads it (later lines win, action scripts add up).
struct CriuEffectiveOptions {
    std::vector<CriuStatement> actionScripts;
    std::optional<CriuStatement> fileLocks;  // the last file-locks / no-file-locks line
    std::optional<CriuStatement> fileValidation;
};
CriuEffectiveOptions effectiveCriuOptions(const CriuConfigText& config);
// Whether an action-script line runs lockcr: its path is EXPECTED, or its file name is "lockcr".
bool runsLockcr(const CriuStatement& actionScript, const std::string& expected);

// ---- What the tools around it say ---------------------------------------------------------------

struct Version {
    int major = 0, minor = 0, patch = 0;
    auto operator<=>(const Version&) const = default;
    std::string text() const;
};

// `criu --version`: "Version: 4.1.1" (and "GitID: ..." on a git build).
std::optional<Version> parseCriuVersionOutput(std::string_view text);
// `crun --version`: "crun version 1.8.1", then a line of "+FEATURE -FEATURE" words; +CRIU means
// it was built with checkpoint/restore.
struct CrunVersionInfo {
    std::optional<Version> version;
    bool criu = false;
};
CrunVersionInfo parseCrunVersionOutput(std::string_view text);
// uname's release: "6.18.44-fc-v1300" -> 6.18.44.
std::optional<Version> parseKernelRelease(std::string_view text);

// ---- Engines -----------------------------------------------------------------------------------

enum class Engine { runc, crun, podman, crio, containerd };
std::optional<Engine> engineFromName(std::string_view name);
const char* engineName(Engine engine);

constexpr const char* kRuncConfigFile = "/etc/criu/runc.conf";
constexpr const char* kCrunConfigFile = "/etc/criu/crun.conf";

// The files `lockcr setup --engine` writes. runc reads runc.conf; crun the first of crun.conf and
// runc.conf that exists; podman, CRI-O and containerd run runc or crun, so runc.conf and, when it
// exists, crun.conf (which would hide runc.conf from crun).
std::vector<std::string> setupFilesFor(Engine engine, bool crunConfigExists);
// The one file the runtime of ENGINE passes to CRIU when no annotation names one (podman, CRI-O
// and containerd: as their runtime, RUNTIME_IS_CRUN saying which).
std::string defaultConfigFileFor(Engine engine, bool runtimeIsCrun, bool crunConfigExists);

}  // namespace lockcr
