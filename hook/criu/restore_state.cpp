#include "criu/restore_state.h"

#include <sys/stat.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string_view>
#include <nlohmann/json.hpp>

#include "criu/checkpoint_files.h"
#include "util/run_directory.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/sys.h"
#include "util/text.h"

namespace lockcr {

namespace {

constexpr const char* kStateFile = "state.json";

std::string utcNow() {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[40];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

void makeDirectory(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) throwErrno("mkdir " + path);
}

RestoreOutcome outcomeNamed(const std::string& name, const std::string& source) {
    for (RestoreOutcome outcome :
         {RestoreOutcome::inProgress, RestoreOutcome::restored, RestoreOutcome::failedFrozen,
          RestoreOutcome::failedKilled, RestoreOutcome::failedRunning, RestoreOutcome::aborted})
        if (name == restoreOutcomeName(outcome)) return outcome;
    throwBadInput(source + ": outcome: unknown " + quotedForMessage(name));
}

}  // namespace

const char* restoreOutcomeName(RestoreOutcome outcome) {
    switch (outcome) {
        case RestoreOutcome::inProgress: return "in-progress";
        case RestoreOutcome::restored: return "restored";
        case RestoreOutcome::failedFrozen: return "failed-frozen";
        case RestoreOutcome::failedKilled: return "failed-killed";
        case RestoreOutcome::failedRunning: return "failed-running";
        case RestoreOutcome::aborted: return "aborted";
    }
    return "in-progress";
}

std::optional<unsigned long long> startTimeFromStat(const std::string& text) {
    // The command (field 2) may hold spaces and parentheses: the fields start after the last ')'.
    size_t close = text.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    size_t position = close + 1;
    // Field 3 is the first after ')'; the start time is field 22.
    for (int field = 3; field <= 22; ++field) {
        while (position < text.size() && text[position] == ' ') ++position;
        size_t end = text.find(' ', position);
        if (end == std::string::npos) end = text.size();
        if (position >= end) return std::nullopt;
        if (field == 22) return parseUnsignedNumber(std::string_view(text).substr(position, end - position));
        position = end;
    }
    return std::nullopt;
}

std::string restoreKeyOf(pid_t criuPid) {
    std::string stat = sys::readFile("/proc/" + std::to_string(criuPid) + "/stat");
    auto start = startTimeFromStat(stat);
    if (!start) throwFailure("/proc/" + std::to_string(criuPid) + "/stat: no start time");
    return std::to_string(criuPid) + "-" + std::to_string(*start);
}

std::string restoreDirectory(const std::string& key) { return runDirectory() + "/restores/" + key; }

void writeRestoreState(const RestoreState& state) {
    makeDirectory(runDirectory());
    makeDirectory(runDirectory() + "/restores");
    makeDirectory(restoreDirectory(state.key));
    nlohmann::json document = {
        {"key", state.key},
        {"stage", state.stage},
        {"container", state.containerId},
        {"init_pid", state.initPid},
        {"image_dir", state.imageDirectory},
        {"cgroup", state.cgroupDirectory},
        {"cgroup_version", state.cgroupVersion},
        {"outcome", restoreOutcomeName(state.outcome)},
        {"detail", state.detail},
        {"updated", utcNow()},
    };
    writeFileAtomically(restoreDirectory(state.key) + "/" + kStateFile, document.dump(2) + "\n");
}

namespace {

// Range-checked before the conversion: get<pid_t> of 1e20 is undefined behaviour, of 4294967297 it
// wraps to pid 1, and of -5 or 2.5 it gives a pid nobody wrote (tests/samples/restore_state_*.json).
// 0 is "not known yet" (pre-restore runs before CRIU has a root task).
pid_t initPidFrom(const nlohmann::json& value, const std::string& source) {
    constexpr int64_t kPidMax = 4194304;  // PID_MAX_LIMIT on 64-bit
    bool inRange = value.is_number_unsigned()
                       ? value.get<uint64_t>() <= static_cast<uint64_t>(kPidMax)
                       : value.is_number_integer() && value.get<int64_t>() >= 0 && value.get<int64_t>() <= kPidMax;
    if (!inRange) throwBadInput(source + ": init_pid: expected a pid from 0 to 4194304");
    return static_cast<pid_t>(value.get<int64_t>());
}

}  // namespace

RestoreState restoreStateFromText(const std::string& text, const std::string& source) {
    nlohmann::json document = nlohmann::json::parse(text, nullptr, false);
    if (document.is_discarded() || !document.is_object()) throwBadInput(source + ": not a JSON object");
    try {
        RestoreState state;
        state.key = document.at("key").get<std::string>();
        state.stage = document.at("stage").get<std::string>();
        state.containerId = document.at("container").get<std::string>();
        state.initPid = initPidFrom(document.at("init_pid"), source);
        state.imageDirectory = document.at("image_dir").get<std::string>();
        state.cgroupDirectory = document.at("cgroup").get<std::string>();
        state.cgroupVersion = document.at("cgroup_version").get<std::string>();
        state.outcome = outcomeNamed(document.at("outcome").get<std::string>(), source);
        state.detail = document.at("detail").get<std::string>();
        state.updated = document.at("updated").get<std::string>();
        return state;
    } catch (const nlohmann::json::exception& error) {
        throwBadInput(source + ": " + error.what());
    }
}

std::optional<RestoreState> readRestoreState(const std::string& key) {
    std::string path = restoreDirectory(key) + "/" + kStateFile;
    std::string text;
    int error = 0;
    if (!sys::tryReadFileAt(AT_FDCWD, path, text, error)) {
        if (error == ENOENT) return std::nullopt;
        throwErrno("read " + path, error);
    }
    return restoreStateFromText(text, path);
}

std::vector<RestoreState> listRestoreStates() {
    std::vector<RestoreState> states;
    std::vector<std::string> keys;
    int error = 0;
    if (!sys::tryListDirectory(AT_FDCWD, runDirectory() + "/restores", keys, error)) {
        if (error == ENOENT) return states;
        throwErrno("list " + runDirectory() + "/restores", error);
    }
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys)
        if (auto state = readRestoreState(key)) states.push_back(*state);
    return states;
}

bool criuStillRuns(const std::string& key) {
    pid_t criu = static_cast<pid_t>(std::atoi(key.c_str()));  // "<pid>-<start time>"
    try {
        return criu > 0 && restoreKeyOf(criu) == key;
    } catch (const Error&) {
        return false;
    }
}

void pruneFinishedRestores() {
    for (const RestoreState& state : listRestoreStates()) {
        if (state.outcome == RestoreOutcome::inProgress) {
            // CRIU failed, or died, between pre-restore and post-restore: nothing of this restore
            // runs, and its checkpoint still has CRIU's filelocks.img set aside, which would leave a
            // restore without lockcr with no locks at all. It goes back where it was.
            if (state.stage != "pre-restore" || criuStillRuns(state.key)) continue;
            try {
                putBackCriuLocks(state.imageDirectory);
            } catch (const Error&) {  // the checkpoint was moved or removed since: nothing to put back
            }
            std::error_code ignored;
            std::filesystem::remove_all(restoreDirectory(state.key), ignored);
            continue;
        }
        // A container left frozen stays listed until the operator recovers it (or a reboot).
        bool needsOperator = state.outcome == RestoreOutcome::failedFrozen;
        if (!criuStillRuns(state.key) && !needsOperator) {
            std::error_code ignored;
            std::filesystem::remove_all(restoreDirectory(state.key), ignored);
        }
    }
}

namespace {

std::string dumpsDirectory() { return runDirectory() + "/dumps"; }

}  // namespace

namespace {

constexpr std::string_view kFailedMark = "failed: ";

// The mark's text: empty for a recorded checkpoint, "failed: WHY" for a failed one.
std::optional<std::string> dumpMarkOf(const std::string& criuKey) {
    std::string text;
    int error = 0;
    if (!sys::tryReadFileAt(AT_FDCWD, dumpsDirectory() + "/" + criuKey, text, error)) return std::nullopt;
    return text;
}

void writeDumpMark(const std::string& criuKey, const std::string& text) {
    makeDirectory(runDirectory());
    makeDirectory(dumpsDirectory());
    std::vector<std::string> marks;
    int error = 0;
    if (sys::tryListDirectory(AT_FDCWD, dumpsDirectory(), marks, error))
        for (const std::string& mark : marks)
            if (mark != criuKey && !criuStillRuns(mark)) (void)::unlink((dumpsDirectory() + "/" + mark).c_str());
    writeFileAtomically(dumpsDirectory() + "/" + criuKey, text);
}

}  // namespace

bool dumpAlreadyRecorded(const std::string& criuKey) {
    std::optional<std::string> mark = dumpMarkOf(criuKey);
    return mark && mark->empty();
}

void markDumpRecorded(const std::string& criuKey) { writeDumpMark(criuKey, ""); }

std::optional<std::string> dumpFailureOf(const std::string& criuKey) {
    std::optional<std::string> mark = dumpMarkOf(criuKey);
    if (!mark || !mark->starts_with(kFailedMark)) return std::nullopt;
    return mark->substr(kFailedMark.size());
}

void markDumpFailed(const std::string& criuKey, const std::string& why) {
    writeDumpMark(criuKey, std::string(kFailedMark) + why.substr(0, 4096));
}

}  // namespace lockcr
