// `lockcr setup [--engine E | --file PATH ...] [--root DIR] [--undo | --check ...]`.
//
// What it writes, and why (README "Wiring"):
//   action-script PATH        CRIU runs lockcr at every stage of dump and restore (runc and crun
//                             pass this file over RPC; CRIU >= 3.19 runs its scripts then).
//   file-locks                without it CRIU refuses to dump a container holding a lock unless
//                             the caller passes --file-locks, and containerd never does. With it,
//                             CRIU would also set the locks again at restore, with blocking calls
//                             (F_SETLKW, flock without LOCK_NB) that hang on an outside holder; that
//                             is safe here because lockcr sets CRIU's filelocks.img aside at
//                             pre-restore, before CRIU reads it (root_prepare_shared, after the
//                             pre-restore script), and puts it back at post-restore, so CRIU sets
//                             none and lockcr sets every lock itself, non-blocking, checked first.
//   file-validation filesize  CRIU's default build-id validation reopens each dumped regular file
//                             of 5 bytes or more through /proc/self/fd (store_validation_data_build_id
//                             in criu/files-reg.c): that open breaks a write lease, so the dump
//                             stalls for lease-break-time (45 s) while the holder is frozen and the
//                             lease is lost. The cost: at restore CRIU checks only the size of the
//                             files it reopens, not the build-id of ELF files (executables and
//                             libraries replaced by a same-sized build go unnoticed by CRIU).
// Each can be left out (--no-file-locks, --no-file-validation); a line the file already has, or
// that says otherwise, is kept and reported, never overridden.
#include "modes/setup_cli.h"

#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "config/config.h"
#include "criu/criu_config.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/sys.h"

namespace lockcr {

namespace {

constexpr size_t kConfigFileLimit = 1 << 20;

// The file's text, "" if it does not exist; MODE gets its permission bits (0644 if absent).
std::string readConfigFile(const std::string& path, mode_t& mode, bool& exists) {
    int error = 0;
    UniqueFd fd = sys::tryOpenAt(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, error);
    mode = 0644;
    exists = static_cast<bool>(fd);
    if (!fd) {
        if (error == ENOENT) return {};
        throwErrno("setup: " + path, error);
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) throwErrno("setup: stat " + path);
    if (!S_ISREG(info.st_mode)) throwBadInput("setup: " + path + ": not a regular file");
    mode = info.st_mode & 07777;
    std::string text = sys::readAll(fd.get(), "setup: " + path, kConfigFileLimit);
    if (text.size() > kConfigFileLimit) throwBadInput("setup: " + path + ": larger than 1 MiB: not a CRIU config file");
    return text;
}

void writeConfigFile(const std::string& path, const std::string& text, mode_t mode) {
    std::error_code error;
    std::filesystem::create_directories(directoryOf(path), error);
    if (error) throwErrno("setup: mkdir " + directoryOf(path), error.value());
    writeFileAtomically(path, text);
    // writeFileAtomically makes a private 0600 file; a config file keeps the mode it had.
    if (::chmod(path.c_str(), mode) != 0) throwErrno("setup: chmod " + path);
}

bool fileExists(const std::string& path) {
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0;
}

std::vector<std::string> targetFiles(const SetupArguments& arguments, Engine engine, bool undo) {
    if (!arguments.files.empty()) return arguments.files;
    std::vector<std::string> files;
    // --undo looks in every file an engine may read: a block left in crun.conf is lockcr's too.
    std::vector<std::string> hostFiles = undo ? std::vector<std::string>{kRuncConfigFile, kCrunConfigFile}
                                              : setupFilesFor(engine,
                                                              fileExists(underRoot(arguments.root, kCrunConfigFile)));
    for (const std::string& file : hostFiles) files.push_back(underRoot(arguments.root, file));
    return files;
}

std::string describeBlock(const CriuSettings& settings) {
    std::string text = "action-script " + settings.actionScript;
    if (settings.fileLocks) text += ", file-locks";
    if (settings.filesizeValidation) text += ", file-validation filesize";
    return text;
}

void installExampleConfig(const SetupArguments& arguments) {
    std::string path = underRoot(arguments.root, kDefaultConfigPath);
    if (fileExists(path)) {
        try {
            readPolicies(path);
            std::printf("%s: kept (it exists and is valid)\n", path.c_str());
        } catch (const Error& error) {
            std::printf("%s: kept, but lockcr refuses it: %s\n", path.c_str(), error.what());
        }
        return;
    }
    writeConfigFile(path, kExampleConfig, 0644);
    std::printf("%s: installed from the example (the defaults, every key commented)\n", path.c_str());
}

// This very binary to the action script's path on the host, unless it is there already: a node
// gets lockcr from an image that holds nothing else. Written whole (rename) so a CRIU running it
// meanwhile sees the old binary or the new one, never half of one.
void installBinary(const SetupArguments& arguments) {
    std::string target = underRoot(arguments.root, arguments.actionScript);
    std::string self = sys::readFile("/proc/self/exe");
    int error = 0;
    std::string current;
    if (sys::tryReadFileAt(AT_FDCWD, target, current, error) && current == self) {
        std::printf("%s: already this lockcr\n", target.c_str());
        return;
    }
    writeConfigFile(target, self, 0755);
    std::printf("%s: installed this lockcr (%s)\n", target.c_str(), LOCKCR_VERSION);
}

void warnIfScriptMissing(const SetupArguments& arguments) {
    std::string script = underRoot(arguments.root, arguments.actionScript);
    if (::access(script.c_str(), X_OK) != 0)
        std::printf("warning: %s: not an executable file (yet): CRIU fails every checkpoint and restore until it is\n",
                    script.c_str());
}

int runUndo(const SetupArguments& arguments, Engine engine) {
    for (const std::string& path : targetFiles(arguments, engine, true)) {
        mode_t mode = 0;
        bool exists = false;
        std::string text = readConfigFile(path, mode, exists);
        if (!exists) continue;
        CriuConfigEdit edit = removeManagedBlock(text, path);
        if (!edit.changed) {
            std::printf("%s: no lockcr block\n", path.c_str());
            continue;
        }
        if (edit.text.empty()) {
            // Only lockcr's lines were in it: CRIU treats a missing config file as an empty one.
            if (::unlink(path.c_str()) != 0) throwErrno("setup --undo: remove " + path);
            std::printf("%s: removed (it held only lockcr's block)\n", path.c_str());
        } else {
            writeConfigFile(path, edit.text, mode);
            std::printf("%s: lockcr's block removed, every other line kept\n", path.c_str());
        }
    }
    std::printf("%s: left in place (your policies; remove it by hand if you want)\n",
                underRoot(arguments.root, kDefaultConfigPath).c_str());
    return 0;
}

}  // namespace

std::string underRoot(const std::string& root, const std::string& path) {
    if (root.empty() || root == "/") return path;
    std::string base = root;
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    return base + (path.starts_with('/') ? path : "/" + path);
}

void addSetupCommand(CLI::App& app, SetupArguments& arguments) {
    CLI::App* setup = app.add_subcommand("setup", "wire lockcr into CRIU's config file (--undo, --check)");
    setup
        ->add_option("--engine", arguments.engine,
                     "runc | crun | podman | crio | containerd: the files to write or check")
        ->check(CLI::IsMember({"runc", "crun", "podman", "crio", "containerd"}));
    setup->add_option("--file", arguments.files, "a CRIU config file to write instead (an org.criu.config file)");
    setup->add_option("--root", arguments.root, "treat this directory as / for every host path");
    setup->add_option("--action-script", arguments.actionScript,
                      "where lockcr is on the host (default /usr/sbin/lockcr)");
    setup->add_flag("--no-file-locks", arguments.noFileLocks, "do not add file-locks");
    setup->add_flag("--no-file-validation", arguments.noFileValidation, "do not add file-validation filesize");
    setup->add_flag("--no-config", arguments.noConfig, "do not install /etc/lockcr/lockcr.yaml");
    setup->add_flag("--install-binary", arguments.installBinary,
                    "copy this lockcr to the --action-script path under --root");
    setup->add_flag("--undo", arguments.undo, "remove lockcr's lines, and only those");
    setup->add_flag("--check", arguments.check, "say whether lockcr will run; exit 1 if it will not");
    setup->add_option("--state", arguments.stateFile, "--check: the container's OCI state JSON");
    setup->add_option("--bundle", arguments.bundle, "--check: the container's bundle (config.json annotations)");
    setup
        ->add_option("--annotation-config", arguments.annotationConfig,
                     "--check: the container's org.criu.config annotation (\"\" included)")
        ->expected(1)
        ->allow_extra_args(false);
    setup->add_option("--criu", arguments.criu, "--check: the criu binary the runtime runs (default: criu on PATH)");
    setup->add_option("--crun", arguments.crun, "--check: the crun binary (default: crun on PATH)");
}

int runSetup(const SetupArguments& arguments) {
    if (arguments.undo && arguments.check) throwBadInput("setup: --undo and --check do not go together");
    if (!arguments.root.empty() && !arguments.root.starts_with('/'))
        throwBadInput("setup: --root must be an absolute path");
    if (!arguments.actionScript.starts_with('/')) throwBadInput("setup: --action-script must be an absolute path");
    Engine engine = engineFromName(arguments.engine).value_or(Engine::runc);
    if (arguments.check) return runSetupCheck(arguments);
    if (arguments.undo) return runUndo(arguments, engine);
    CriuSettings settings;
    settings.actionScript = arguments.actionScript;
    settings.fileLocks = !arguments.noFileLocks;
    settings.filesizeValidation = !arguments.noFileValidation;
    for (const std::string& path : targetFiles(arguments, engine, false)) {
        mode_t mode = 0;
        bool exists = false;
        std::string text = readConfigFile(path, mode, exists);
        CriuConfigEdit edit = mergeCriuConfig(text, settings, path);
        for (const std::string& note : edit.notes) std::printf("%s: %s\n", path.c_str(), note.c_str());
        if (!edit.changed) {
            std::printf("%s: already set up\n", path.c_str());
            continue;
        }
        writeConfigFile(path, edit.text, mode);
        std::printf("%s: %s lockcr's block (%s)\n", path.c_str(), exists ? "merged" : "created with",
                    describeBlock(settings).c_str());
    }
    if (arguments.installBinary) installBinary(arguments);
    if (!arguments.noConfig) installExampleConfig(arguments);
    warnIfScriptMissing(arguments);
    return 0;
}

}  // namespace lockcr
