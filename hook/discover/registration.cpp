#include "discover/registration.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>

#include <nlohmann/json.hpp>
#include <vector>

#include "util/run_directory.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/log.h"
#include "util/sys.h"
#include "util/text.h"

namespace lockcr {

namespace {

std::string containersDirectory() { return runDirectory() + "/containers"; }

void makeDirectory(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) throwErrno("mkdir " + path);
}

}  // namespace

void checkContainerId(const std::string& id) {
    bool valid = !id.empty() && id.size() <= 1024 && std::isalnum(static_cast<unsigned char>(id[0]));
    for (char c : id)
        valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '+' || c == '-');
    if (!valid)
        throwBadInput("container id " + quotedForMessage(id) +
                      ": not a name lockcr can register (letters, digits, _ . + -)");
}

std::string registrationToText(const Registration& registration) {
    return nlohmann::json{{"id", registration.id},
                          {"pid", registration.pid},
                          {"bundle", registration.bundle},
                          {"annotations", registration.annotations},
                          {"stage", registration.stage}}
               .dump(2) +
           "\n";
}

Registration registrationFromText(const std::string& text, const std::string& source) {
    nlohmann::json document = nlohmann::json::parse(text, nullptr, false);
    if (document.is_discarded() || !document.is_object()) throwBadInput(source + ": not a JSON object");
    try {
        Registration registration;
        registration.id = document.at("id").get<std::string>();
        // Range-checked before the conversion: get<pid_t> of 1e20 is undefined behaviour and of
        // 4294967297 wraps to pid 1 (tests/samples/registration_pid_*.json).
        const nlohmann::json& pid = document.at("pid");
        bool inRange = pid.is_number_unsigned()
                           ? pid.get<uint64_t>() >= 1 && pid.get<uint64_t>() <= 4194304
                           : pid.is_number_integer() && pid.get<int64_t>() >= 1 && pid.get<int64_t>() <= 4194304;
        if (!inRange) throwBadInput(source + ": pid: expected a pid from 1 to 4194304");
        registration.pid = pid.get<pid_t>();
        registration.bundle = document.at("bundle").get<std::string>();
        registration.annotations = document.at("annotations").get<std::map<std::string, std::string>>();
        registration.stage = document.at("stage").get<std::string>();
        checkContainerId(registration.id);
        return registration;
    } catch (const nlohmann::json::exception& error) {
        throwBadInput(source + ": " + error.what());
    }
}

void writeRegistration(const Registration& registration) {
    checkContainerId(registration.id);
    makeDirectory(runDirectory());
    makeDirectory(containersDirectory());
    writeFileAtomically(containersDirectory() + "/" + registration.id + ".json", registrationToText(registration));
}

void removeRegistration(const std::string& id) {
    checkContainerId(id);
    std::string path = containersDirectory() + "/" + id + ".json";
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) throwErrno("remove " + path);
}

std::optional<Registration> registrationOfPid(pid_t pid) {
    std::vector<std::string> names;
    int error = 0;
    if (!sys::tryListDirectory(AT_FDCWD, containersDirectory(), names, error)) return std::nullopt;
    for (const std::string& name : names) {
        if (!name.ends_with(".json")) continue;
        std::string path = containersDirectory() + "/" + name, text;
        if (!sys::tryReadFileAt(AT_FDCWD, path, text, error)) continue;
        try {
            Registration registration = registrationFromText(text, path);
            if (registration.pid == pid) return registration;
        } catch (const Error& bad) {
            logWarning(std::string("ignoring registration: ") + bad.what());
        }
    }
    return std::nullopt;
}

}  // namespace lockcr
