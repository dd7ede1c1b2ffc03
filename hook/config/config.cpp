#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "util/error.h"
#include "util/sys.h"
#include "util/text.h"

namespace lockcr {

namespace {

[[noreturn]] void badValue(const std::string& where, const std::string& key, const std::string& value,
                           const std::string& expected) {
    throwBadInput(where + ": " + key + ": " + quotedForMessage(value) + " is not " + expected);
}

bool parseBoolean(const std::string& where, const std::string& key, const std::string& value) {
    if (value == "true" || value == "yes" || value == "on") return true;
    if (value == "false" || value == "no" || value == "off") return false;
    badValue(where, key, value, "true or false");
}

// Seconds, as "10", "2.5", "10s" or "500ms"; 0 to 3600.
std::chrono::milliseconds parseSeconds(const std::string& where, const std::string& key, const std::string& value) {
    std::string_view text = value;
    double scale = 1000;
    if (text.ends_with("ms")) {
        text.remove_suffix(2);
        scale = 1;
    } else if (text.ends_with("s")) {
        text.remove_suffix(1);
    }
    double number = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(number) ||
        number < 0 || number * scale > 3600e3)
        badValue(where, key, value, "a duration from 0 to 3600 seconds (\"10\", \"2.5s\", \"500ms\")");
    return std::chrono::milliseconds(static_cast<long>(std::llround(number * scale)));
}

template <typename Enum>
Enum parseChoice(const std::string& where, const std::string& key, const std::string& value,
                 std::initializer_list<std::pair<const char*, Enum>> choices) {
    std::string names;
    for (const auto& [name, choice] : choices) {
        if (value == name) return choice;
        names += names.empty() ? name : std::string(" | ") + name;
    }
    badValue(where, key, value, "one of " + names);
}

std::string parsePath(const std::string& where, const std::string& key, const std::string& value, bool mayBeEmpty) {
    if ((value.empty() && mayBeEmpty) || (value.starts_with('/') && value.find('\0') == std::string::npos))
        return value;
    badValue(where, key, value, mayBeEmpty ? "an absolute path or empty" : "an absolute path");
}

struct Key {
    const char* name;
    std::function<void(Policies&, const std::string& where, const std::string& value)> set;
    std::function<std::string(const Policies&)> get;
};

const std::vector<Key>& keys() {
    static const std::vector<Key> table = {
        {"enabled",
         [](Policies& p, const std::string& w, const std::string& v) { p.enabled = parseBoolean(w, "enabled", v); },
         [](const Policies& p) { return std::string(p.enabled ? "true" : "false"); }},
        {"conflict",
         [](Policies& p, const std::string& w, const std::string& v) {
             p.conflict = parseChoice<ConflictPolicy>(w, "conflict", v,
                                                      {{"fail", ConflictPolicy::fail}, {"wait", ConflictPolicy::wait}});
         },
         [](const Policies& p) { return std::string(conflictPolicyName(p.conflict)); }},
        {"conflict-wait",
         [](Policies& p, const std::string& w, const std::string& v) {
             p.conflictWait = parseSeconds(w, "conflict-wait", v);
         },
         [](const Policies& p) { return std::to_string(p.conflictWait.count()) + "ms"; }},
        {"on-failure",
         [](Policies& p, const std::string& w, const std::string& v) {
             p.onFailure = parseChoice<FailurePolicy>(
                 w, "on-failure", v,
                 {{"resume", FailurePolicy::resume}, {"freeze", FailurePolicy::freeze}, {"kill", FailurePolicy::kill}});
         },
         [](const Policies& p) { return std::string(failurePolicyName(p.onFailure)); }},
        {"snapshot",
         [](Policies& p, const std::string& w, const std::string& v) { p.snapshot = parseBoolean(w, "snapshot", v); },
         [](const Policies& p) { return std::string(p.snapshot ? "true" : "false"); }},
        {"filesystem",
         [](Policies& p, const std::string& w, const std::string& v) {
             p.filesystem = parseChoice<FilesystemPolicy>(w, "filesystem", v,
                                                          {{"strict", FilesystemPolicy::strict},
                                                           {"rollback", FilesystemPolicy::rollback},
                                                           {"off", FilesystemPolicy::off}});
         },
         [](const Policies& p) { return std::string(filesystemPolicyName(p.filesystem)); }},
        {"snapshot-store",
         [](Policies& p, const std::string& w, const std::string& v) {
             p.snapshotStore = parsePath(w, "snapshot-store", v, false);
         },
         [](const Policies& p) { return p.snapshotStore; }},
        {"snapshot-export",
         [](Policies& p, const std::string& w, const std::string& v) {
             p.snapshotExport = parseChoice<SnapshotExportPolicy>(
                 w, "snapshot-export", v, {{"none", SnapshotExportPolicy::none}, {"volumes", SnapshotExportPolicy::volumes}});
         },
         [](const Policies& p) { return std::string(snapshotExportPolicyName(p.snapshotExport)); }},
        {"log-file",
         [](Policies& p, const std::string& w, const std::string& v) { p.logFile = parsePath(w, "log-file", v, true); },
         [](const Policies& p) { return p.logFile; }},
        {"syslog",
         [](Policies& p, const std::string& w, const std::string& v) { p.syslog = parseBoolean(w, "syslog", v); },
         [](const Policies& p) { return std::string(p.syslog ? "true" : "false"); }},
    };
    return table;
}

void setPolicy(Policies& policies, const std::string& where, const std::string& key, const std::string& value) {
    for (const Key& candidate : keys())
        if (key == candidate.name) return candidate.set(policies, where, value);
    std::string names;
    for (const Key& candidate : keys()) names += names.empty() ? candidate.name : std::string(", ") + candidate.name;
    throwBadInput(where + ": unknown key " + quotedForMessage(key) + " (known: " + names + ")");
}

}  // namespace

ReplaySettings replaySettingsOf(const Policies& policies) {
    ReplaySettings settings;
    settings.conflicts = policies.conflict;
    settings.waitTimeout = policies.conflictWait;
    settings.onFailure = policies.onFailure;
    return settings;
}

const char* conflictPolicyName(ConflictPolicy policy) { return policy == ConflictPolicy::wait ? "wait" : "fail"; }
const char* failurePolicyName(FailurePolicy policy) {
    return policy == FailurePolicy::freeze ? "freeze" : policy == FailurePolicy::kill ? "kill" : "resume";
}
const char* filesystemPolicyName(FilesystemPolicy policy) {
    return policy == FilesystemPolicy::rollback ? "rollback" : policy == FilesystemPolicy::off ? "off" : "strict";
}

const char* snapshotExportPolicyName(SnapshotExportPolicy policy) {
    return policy == SnapshotExportPolicy::volumes ? "volumes" : "none";
}

Policies parsePolicies(std::string_view yaml, const std::string& source, const Policies& base) {
    YAML::Node document;
    try {
        document = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& error) {
        throwBadInput(source + ": line " + std::to_string(error.mark.line + 1) + ": not YAML: " + error.msg);
    }
    Policies policies = base;
    if (document.IsNull()) return policies;  // an empty file: the defaults
    if (!document.IsMap()) throwBadInput(source + ": expected a mapping of keys to values at the top");
    for (const auto& entry : document) {
        if (!entry.first.IsScalar()) throwBadInput(source + ": a key is not a plain name");
        std::string key = entry.first.Scalar();
        std::string where = source + ": line " + std::to_string(entry.first.Mark().line + 1);
        if (!entry.second.IsScalar())
            throwBadInput(where + ": " + key + ": expected a single value, not a list or mapping");
        setPolicy(policies, where, key, entry.second.Scalar());
    }
    return policies;
}

std::string configPath() {
    const char* path = std::getenv("LOCKCR_CONFIG");
    return path && *path ? path : kDefaultConfigPath;
}

Policies readPolicies(const std::string& path) {
    int error = 0;
    UniqueFd fd = sys::tryOpenAt(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, error);
    if (!fd) {
        if (error == ENOENT) return {};
        throwErrno("config " + path, error);
    }
    constexpr size_t kLimit = 64 * 1024;
    std::string text = sys::readAll(fd.get(), "config " + path, kLimit);
    if (text.size() > kLimit) throwBadInput("config " + path + ": larger than 64 KiB");
    return parsePolicies(text, path);
}

Policies applyAnnotations(Policies policies, const std::map<std::string, std::string>& annotations) {
    for (const auto& [name, value] : annotations) {
        if (!name.starts_with(kAnnotationPrefix)) continue;
        setPolicy(policies, "annotation " + name, name.substr(std::string_view(kAnnotationPrefix).size()), value);
    }
    return policies;
}

nlohmann::json policiesToJson(const Policies& policies) {
    nlohmann::json document = nlohmann::json::object();
    for (const Key& key : keys()) document[key.name] = key.get(policies);
    return document;
}

Policies policiesFromJson(const nlohmann::json& document, const std::string& source) {
    if (!document.is_object()) throwBadInput(source + ": policies: expected an object");
    Policies policies;
    for (const auto& [key, value] : document.items()) {
        if (!value.is_string()) throwBadInput(source + ": policies." + key + ": expected a string");
        setPolicy(policies, source + ": policies", key, value.get<std::string>());
    }
    return policies;
}

}  // namespace lockcr
