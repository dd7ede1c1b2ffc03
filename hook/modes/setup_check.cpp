// `lockcr setup --check`: one line per finding ("ok:", "warning:", "error:"), exit 1 if lockcr
// will not run for the container or engine asked about. What it looks at, and why:
//   - which CRIU config file the runtime passes: runc and crun >= 1.26 take the container's
//     org.criu.config annotation, and an annotation set to "" means no file at all; a file that
//     does not exist is silently ignored by CRIU;
//   - that file's action-script, file-locks and file-validation lines (criu/criu_config.h);
//   - CRIU's version: config-file action scripts run in RPC mode only from 3.19; crun passes the
//     file through libcriu, which needs 4.2; Debian 12's 3.17 fails on kernels >= 6.13;
//   - crun's version and whether it was built with CRIU (+CRIU in `crun --version`);
//   - /etc/lockcr/lockcr.yaml and the container's io.lockcr.* annotations, parsed as the CRIU
//     action will parse them.
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "criu/criu_config.h"
#include "discover/state.h"
#include "modes/setup_cli.h"
#include "util/error.h"
#include "util/sys.h"

namespace lockcr {

namespace {

class Findings {
public:
    void ok(const std::string& line) { std::printf("ok: %s\n", line.c_str()); }
    void warning(const std::string& line) { std::printf("warning: %s\n", line.c_str()); }
    void error(const std::string& line) {
        std::printf("error: %s\n", line.c_str());
        failed_ = true;
    }
    bool failed() const { return failed_; }

private:
    bool failed_ = false;
};

// The standard output of PROGRAM ARGUMENT (searched in PATH), or nullopt if it cannot be run.
std::optional<std::string> outputOf(const std::string& program, const char* argument) {
    int pipeFds[2];
    if (::pipe2(pipeFds, O_CLOEXEC) != 0) throwErrno("setup --check: pipe");
    UniqueFd readEnd(pipeFds[0]), writeEnd(pipeFds[1]);
    pid_t child = ::fork();
    if (child < 0) throwErrno("setup --check: fork");
    if (child == 0) {
        ::dup2(writeEnd.get(), STDOUT_FILENO);
        int null = ::open("/dev/null", O_WRONLY);
        if (null >= 0) ::dup2(null, STDERR_FILENO);
        ::execlp(program.c_str(), program.c_str(), argument, static_cast<char*>(nullptr));
        ::_exit(127);
    }
    writeEnd.reset();
    std::string output;
    try {
        output = sys::readAll(readEnd.get(), program, 64 * 1024);
    } catch (const Error&) {
        output.clear();
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) return std::nullopt;
    return output;
}

std::map<std::string, std::string> bundleAnnotations(const std::string& bundle) {
    std::string path = bundle + "/config.json";
    std::string text = sys::readFile(path);
    nlohmann::json document = nlohmann::json::parse(text, nullptr, false);
    if (document.is_discarded() || !document.is_object()) throwBadInput(path + ": not a JSON object");
    std::map<std::string, std::string> annotations;
    auto found = document.find("annotations");
    if (found == document.end() || found->is_null()) return annotations;
    if (!found->is_object()) throwBadInput(path + ": annotations: expected an object");
    for (const auto& [key, value] : found->items()) {
        if (!value.is_string()) throwBadInput(path + ": annotations." + key + ": expected a string");
        annotations[key] = value.get<std::string>();
    }
    return annotations;
}

struct CheckedContainer {
    bool known = false;  // --state, --bundle or --annotation-config was given
    std::map<std::string, std::string> annotations;
};

CheckedContainer containerOf(const SetupArguments& arguments) {
    CheckedContainer container;
    if (!arguments.stateFile.empty()) {
        container.known = true;
        container.annotations = parseOciState(sys::readFile(arguments.stateFile)).annotations;
    } else if (!arguments.bundle.empty()) {
        container.known = true;
        container.annotations = bundleAnnotations(underRoot(arguments.root, arguments.bundle));
    }
    if (arguments.annotationConfig) {
        container.known = true;
        container.annotations["org.criu.config"] = *arguments.annotationConfig;
    }
    return container;
}

bool exists(const std::string& path) {
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0;
}

// The files CRIU will be given, as host paths; empty when the annotation turns the file off.
std::vector<std::string> configFilesToCheck(const SetupArguments& arguments, Engine engine,
                                            const CheckedContainer& container, Findings& findings) {
    if (!arguments.files.empty()) return arguments.files;
    auto annotation = container.annotations.find("org.criu.config");
    if (annotation != container.annotations.end()) {
        if (annotation->second.empty()) {
            findings.error(
                "the container's org.criu.config annotation is \"\": the runtime passes CRIU no config file, "
                "so no action-script line reaches CRIU and lockcr never runs");
            return {};
        }
        findings.ok("the container's org.criu.config annotation names " + annotation->second);
        return {annotation->second};
    }
    bool crunConfig = exists(underRoot(arguments.root, kCrunConfigFile));
    if (engine == Engine::runc || engine == Engine::crun) return {defaultConfigFileFor(engine, false, crunConfig)};
    // podman, CRI-O, containerd: the runtime may be either; check each file one of them reads.
    std::vector<std::string> files = {kRuncConfigFile};
    if (crunConfig) files.push_back(kCrunConfigFile);
    return files;
}

void checkConfigFile(const SetupArguments& arguments, Engine engine, const std::string& hostPath, Findings& findings) {
    std::string path = underRoot(arguments.root, hostPath);
    int error = 0;
    UniqueFd fd = sys::tryOpenAt(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, error);
    if (!fd) {
        findings.error(path + ": " +
                       (error == ENOENT ? std::string("does not exist (CRIU ignores a missing config file)")
                                        : "cannot be read: " + std::string(std::strerror(error))) +
                       ": no action-script, lockcr never runs (run `lockcr setup`)");
        return;
    }
    CriuConfigText config;
    try {
        std::string text = sys::readAll(fd.get(), path, 1 << 20);
        config = parseCriuConfig(text, path);
    } catch (const Error& failure) {
        findings.error(failure.what());
        return;
    }
    CriuEffectiveOptions options = effectiveCriuOptions(config);
    bool runs = false;
    for (const CriuStatement& script : options.actionScripts) {
        if (!runsLockcr(script, arguments.actionScript)) continue;
        runs = true;
        std::string binary = underRoot(arguments.root, script.value);
        if (::access(binary.c_str(), X_OK) != 0)
            findings.error(path + ": line " + std::to_string(script.line) + ": action-script " + script.value +
                           ": not an executable file: CRIU fails every checkpoint and restore");
        else findings.ok(path + ": line " + std::to_string(script.line) + ": action-script " + script.value);
    }
    if (!runs) findings.error(path + ": no action-script line runs lockcr: lockcr never runs (run `lockcr setup`)");
    bool fileLocks = options.fileLocks && options.fileLocks->option == "file-locks";
    std::string lockLine = options.fileLocks ? "line " + std::to_string(options.fileLocks->line) + ": no-file-locks"
                                             : "no file-locks line";
    if (fileLocks) {
        findings.ok(path + ": line " + std::to_string(options.fileLocks->line) + ": file-locks");
    } else if (engine == Engine::containerd) {
        findings.error(path + ": " + lockLine +
                       ": containerd never passes --file-locks, so CRIU refuses to checkpoint "
                       "a container holding a lock");
    } else {
        findings.warning(path + ": " + lockLine +
                         ": a checkpoint of a container holding a lock fails unless the "
                         "caller passes --file-locks");
    }
    if (options.fileValidation && options.fileValidation->value == "filesize")
        findings.ok(path + ": line " + std::to_string(options.fileValidation->line) + ": file-validation filesize");
    else
        findings.warning(path + ": file-validation is " +
                         (options.fileValidation ? options.fileValidation->value : "buildid (the default)") +
                         ": a checkpoint of a container holding a write lease on a file of 5 bytes or more stalls for "
                         "lease-break-time (45 s) and the lease is lost");
}

void checkCriu(const SetupArguments& arguments, Engine engine, Findings& findings) {
    std::optional<Version> kernel;
    struct utsname name {};
    if (::uname(&name) == 0) kernel = parseKernelRelease(name.release);
    std::optional<std::string> output = outputOf(arguments.criu, "--version");
    if (!output) {
        findings.error(arguments.criu +
                       ": cannot be run: the runtime needs CRIU to checkpoint (--criu PATH names another)");
        return;
    }
    std::optional<Version> version = parseCriuVersionOutput(*output);
    if (!version) {
        findings.warning(arguments.criu + " --version: no \"Version:\" line: cannot check CRIU's version");
        return;
    }
    std::string line = "CRIU " + version->text();
    if (*version < Version{3, 19, 0}) {
        findings.error(line +
                       ": older than 3.19, which runs the config file's action scripts in RPC mode (runc, crun)");
    } else if (engine == Engine::crun && *version < Version{4, 2, 0}) {
        findings.error(line + ": crun passes the config file through libcriu, which takes it from CRIU 4.2");
    } else {
        findings.ok(line);
    }
    if (version->major == 3 && version->minor == 17 && kernel && *kernel >= Version{6, 13, 0})
        findings.error(line + " on kernel " + kernel->text() +
                       ": Debian 12's CRIU 3.17 fails on kernels >= 6.13 "
                       "(\"Unexpected rt vDSO area bounds\")");
}

void checkCrun(const SetupArguments& arguments, Engine engine, Findings& findings) {
    std::optional<std::string> output = outputOf(arguments.crun, "--version");
    auto report = [&](const std::string& line) {
        if (engine == Engine::crun) findings.error(line);
        else findings.warning(line + " (only containers run with crun)");
    };
    if (!output) {
        if (engine == Engine::crun) findings.error(arguments.crun + ": cannot be run");
        return;
    }
    CrunVersionInfo info = parseCrunVersionOutput(*output);
    std::string name = "crun " + (info.version ? info.version->text() : std::string("(version unknown)"));
    if (!info.criu) report(name + ": built without CRIU (no +CRIU in `crun --version`): it cannot checkpoint at all");
    else if (!info.version || *info.version < Version{1, 26, 0})
        report(name + ": older than 1.26, which passes no CRIU config file: lockcr never runs");
    else findings.ok(name + " +CRIU");
}

void checkPolicies(const SetupArguments& arguments, const CheckedContainer& container, Findings& findings) {
    std::string path = underRoot(arguments.root, kDefaultConfigPath);
    Policies policies;
    try {
        policies = readPolicies(path);
        findings.ok(path + (exists(path) ? ": valid" : ": absent (the defaults apply)"));
    } catch (const Error& error) {
        findings.error(std::string(error.what()) + ": every CRIU action fails until it is fixed");
        return;
    }
    try {
        policies = applyAnnotations(policies, container.annotations);
    } catch (const Error& error) {
        findings.error(std::string(error.what()) + ": the checkpoint of this container fails");
        return;
    }
    if (policies.enabled) return;
    if (container.known)
        findings.error("enabled is false for this container: every CRIU action exits 0 without touching it");
    else
        findings.warning(path + ": enabled: false: lockcr does nothing unless a container sets io.lockcr.enabled=true");
}

}  // namespace

int runSetupCheck(const SetupArguments& arguments) {
    Engine engine = engineFromName(arguments.engine).value_or(Engine::runc);
    Findings findings;
    CheckedContainer container = containerOf(arguments);
    for (const std::string& file : configFilesToCheck(arguments, engine, container, findings))
        checkConfigFile(arguments, engine, file, findings);
    checkCriu(arguments, engine, findings);
    if (engine != Engine::runc) checkCrun(arguments, engine, findings);
    checkPolicies(arguments, container, findings);
    std::printf("%s\n", findings.failed() ? "lockcr will NOT run" : "lockcr will run");
    return findings.failed() ? 1 : 0;
}

}  // namespace lockcr
