#include "discover/state.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

#include "util/error.h"

namespace lockcr {

namespace {

using nlohmann::json;

constexpr size_t kMaxStateSize = 1 << 20;
constexpr int64_t kPidLimit = 4194304;  // PID_MAX_LIMIT on 64-bit kernels
constexpr std::array kStatuses = {"creating", "created", "running", "stopped", "paused"};

// A value from the state for an error message: JSON text, cut short.
std::string shown(const json& value) {
    std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
    return text.size() > 60 ? text.substr(0, 60) + "..." : text;
}

[[noreturn]] void rejectField(const std::string& field, const std::string& why) {
    throwBadInput("OCI state: \"" + field + "\": " + why);
}

std::string requiredString(const json& state, const char* field) {
    auto found = state.find(field);
    if (found == state.end()) rejectField(field, "missing");
    if (!found->is_string()) rejectField(field, std::string("expected a string, got ") + found->type_name());
    return found->get<std::string>();
}

pid_t requiredPid(const json& state) {
    auto found = state.find("pid");
    if (found == state.end()) rejectField("pid", "missing");
    if (!found->is_number_integer()) rejectField("pid", std::string("expected an integer, got ") + found->type_name());
    bool inRange = found->is_number_unsigned() ? found->get<uint64_t>() <= kPidLimit
                                               : found->get<int64_t>() <= kPidLimit;
    int64_t pid = inRange ? found->get<int64_t>() : 0;
    if (!inRange || pid <= 0)
        rejectField("pid", shown(*found) + " is not a live process (expected 1.." + std::to_string(kPidLimit) + ")");
    return static_cast<pid_t>(pid);
}

std::map<std::string, std::string> optionalAnnotations(const json& state) {
    std::map<std::string, std::string> annotations;
    auto found = state.find("annotations");
    // Go marshals a nil map without omitempty as null: the same as none.
    if (found == state.end() || found->is_null()) return annotations;
    if (!found->is_object()) rejectField("annotations", std::string("expected an object, got ") + found->type_name());
    for (const auto& [key, value] : found->items()) {
        if (!value.is_string())
            rejectField("annotations", "value of " + shown(key) + " is a " + value.type_name() + ", expected a string");
        annotations.emplace(key, value.get<std::string>());
    }
    return annotations;
}

json parseJson(std::string_view text) {
    if (text.size() > kMaxStateSize)
        throwBadInput("OCI state: " + std::to_string(text.size()) + " bytes, more than the " +
                      std::to_string(kMaxStateSize) + " a state can be");
    try {
        return json::parse(text.begin(), text.end());
    } catch (const json::exception& error) {
        // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." without the tag.
        std::string what = error.what();
        size_t tagEnd = what.find("] ");
        throwBadInput("OCI state: malformed JSON: " + (tagEnd == std::string::npos ? what : what.substr(tagEnd + 2)));
    }
}

}  // namespace

OciState parseOciState(std::string_view text, StatePid pid) {
    json state = parseJson(text);
    if (!state.is_object()) throwBadInput(std::string("OCI state: expected a JSON object, got ") + state.type_name());
    OciState out;
    out.ociVersion = requiredString(state, "ociVersion");
    out.id = requiredString(state, "id");
    if (out.id.empty()) rejectField("id", "empty");
    out.status = requiredString(state, "status");
    if (std::find(kStatuses.begin(), kStatuses.end(), out.status) == kStatuses.end())
        rejectField("status", shown(out.status) + " is not creating, created, running, stopped or paused");
    out.bundle = requiredString(state, "bundle");
    // A stopped container's state may name no live process: runc 1.1's poststop state has no "pid".
    bool noProcess = !state.contains("pid") || state["pid"] == json(0);
    if (pid == StatePid::required || !noProcess) out.pid = requiredPid(state);
    out.annotations = optionalAnnotations(state);
    if (state.contains("rootfs")) out.rootfs = requiredString(state, "rootfs");
    return out;
}

}  // namespace lockcr
