#include "criu/criu_config.h"

#include <charconv>

#include "util/error.h"
#include "util/text.h"

namespace lockcr {

namespace {

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trimmed(std::string_view text) {
    while (!text.empty() && isBlank(text.front())) text.remove_prefix(1);
    while (!text.empty() && isBlank(text.back())) text.remove_suffix(1);
    return text;
}

std::string where(const std::string& source, size_t line) { return source + ": line " + std::to_string(line); }

// The value after the option, as CRIU reads it: a comment ends it; double quotes keep blanks
// (\" is a quote inside them).
std::string parseValue(std::string_view rest, const std::string& location) {
    rest = trimmed(rest);
    if (rest.empty() || rest.front() == '#') return {};
    if (rest.front() != '"') {
        size_t comment = rest.find('#');
        return std::string(trimmed(rest.substr(0, comment)));
    }
    std::string value;
    for (size_t i = 1; i < rest.size(); ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size() && rest[i + 1] == '"') {
            value += '"';
            ++i;
        } else if (rest[i] == '"') {
            return value;
        } else {
            value += rest[i];
        }
    }
    throwBadInput(location + ": a quoted value has no closing quote");
}

bool isMarker(std::string_view line, const char* marker) { return trimmed(line).starts_with(marker); }

std::vector<std::string> blockLines(const CriuSettings& settings, const CriuEffectiveOptions& own,
                                    std::vector<std::string>& notes) {
    std::vector<std::string> lines;
    lines.push_back(std::string(kManagedBeginMarker) +
                    " (written by `lockcr setup`; `lockcr setup --undo` removes this block, and a line "
                    "added inside it is lost on the next setup)");
    bool scriptPresent = false;
    for (const CriuStatement& script : own.actionScripts)
        if (script.value == settings.actionScript) {
            scriptPresent = true;
            notes.push_back("line " + std::to_string(script.line) + " already runs " + settings.actionScript +
                            " as an action script");
        }
    if (!scriptPresent) {
        std::string path = settings.actionScript;
        bool needsQuotes = path.find_first_of(" \t#\"") != std::string::npos;
        if (needsQuotes) {
            std::string quoted = "\"";
            for (char c : path) quoted += c == '"' ? std::string("\\\"") : std::string(1, c);
            path = quoted + "\"";
        }
        lines.push_back("action-script " + path);
    }
    if (settings.fileLocks) {
        if (!own.fileLocks) {
            lines.push_back("file-locks");
        } else if (own.fileLocks->option == "no-file-locks") {
            notes.push_back("line " + std::to_string(own.fileLocks->line) +
                            " says no-file-locks: kept, so a checkpoint of a container holding a lock fails "
                            "unless the caller passes --file-locks");
        }
    }
    if (settings.filesizeValidation) {
        if (!own.fileValidation) {
            lines.push_back("file-validation filesize");
        } else if (own.fileValidation->value != "filesize") {
            notes.push_back("line " + std::to_string(own.fileValidation->line) + " says file-validation " +
                            own.fileValidation->value +
                            ": kept, so a checkpoint of a container holding a write lease on a file of 5 bytes "
                            "or more stalls for lease-break-time and loses the lease");
        }
    }
    lines.push_back(kManagedEndMarker);
    return lines;
}

std::string joinLines(const std::vector<std::string>& lines) {
    std::string text;
    for (const std::string& line : lines) text += line + "\n";
    return text;
}

std::optional<int> leadingNumber(std::string_view& text) {
    int number = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error != std::errc() || end == text.data()) return std::nullopt;
    text.remove_prefix(static_cast<size_t>(end - text.data()));
    return number;
}

// "4.1.1", "3.19", "1.8" at the start of TEXT; the rest ("-fc-v1300", "-rc1") is ignored.
std::optional<Version> parseVersionPrefix(std::string_view text) {
    Version version;
    std::optional<int> major = leadingNumber(text);
    if (!major || text.empty() || text.front() != '.') return std::nullopt;
    text.remove_prefix(1);
    std::optional<int> minor = leadingNumber(text);
    if (!minor) return std::nullopt;
    version.major = *major;
    version.minor = *minor;
    if (!text.empty() && text.front() == '.') {
        text.remove_prefix(1);
        if (std::optional<int> patch = leadingNumber(text)) version.patch = *patch;
    }
    return version;
}

}  // namespace

CriuConfigText parseCriuConfig(std::string_view text, const std::string& source) {
    CriuConfigText config;
    if (text.find('\0') != std::string_view::npos)
        throwBadInput(source + ": contains a NUL byte: not a CRIU config file");
    config.endsWithNewline = text.empty() || text.back() == '\n';
    size_t position = 0;
    while (position < text.size()) {
        size_t newline = text.find('\n', position);
        size_t end = newline == std::string_view::npos ? text.size() : newline;
        config.lines.emplace_back(text.substr(position, end - position));
        position = end + 1;
    }
    std::optional<size_t> begin;
    for (size_t index = 0; index < config.lines.size(); ++index) {
        const std::string& line = config.lines[index];
        size_t number = index + 1;
        if (isMarker(line, kManagedBeginMarker)) {
            if (begin || config.managedBlock)
                throwBadInput(where(source, number) + ": a second \"" + kManagedBeginMarker + "\" line");
            begin = index;
            continue;
        }
        if (isMarker(line, kManagedEndMarker)) {
            if (!begin) throwBadInput(where(source, number) + ": \"" + kManagedEndMarker + "\" without a begin line");
            config.managedBlock = {{*begin, index}};
            begin.reset();
            continue;
        }
        std::string_view statement = trimmed(line);
        if (statement.empty() || statement.front() == '#') continue;
        size_t blank = statement.find_first_of(" \t");
        CriuStatement parsed;
        parsed.line = number;
        parsed.option = std::string(statement.substr(0, blank));
        if (blank != std::string_view::npos) parsed.value = parseValue(statement.substr(blank), where(source, number));
        parsed.managed = begin.has_value();
        config.statements.push_back(std::move(parsed));
    }
    if (begin)
        throwBadInput(where(source, *begin + 1) + ": \"" + kManagedBeginMarker + "\" without an end line (" +
                      kManagedEndMarker + ")");
    return config;
}

CriuEffectiveOptions effectiveCriuOptions(const CriuConfigText& config) {
    CriuEffectiveOptions options;
    for (const CriuStatement& statement : config.statements) {
        if (statement.option == "action-script") options.actionScripts.push_back(statement);
        else if (statement.option == "file-locks" || statement.option == "no-file-locks") options.fileLocks = statement;
        else if (statement.option == "file-validation") options.fileValidation = statement;
    }
    return options;
}

bool runsLockcr(const CriuStatement& actionScript, const std::string& expected) {
    const std::string& path = actionScript.value;
    if (path == expected) return true;
    size_t slash = path.rfind('/');
    return path.substr(slash == std::string::npos ? 0 : slash + 1) == "lockcr";
}

CriuConfigEdit mergeCriuConfig(std::string_view existing, const CriuSettings& settings, const std::string& source) {
    CriuConfigText config = parseCriuConfig(existing, source);
    CriuConfigText own = config;  // the lines lockcr did not write
    std::erase_if(own.statements, [](const CriuStatement& statement) { return statement.managed; });
    CriuConfigEdit edit;
    std::vector<std::string> block = blockLines(settings, effectiveCriuOptions(own), edit.notes);
    std::vector<std::string> lines;
    if (config.managedBlock) {
        auto [first, last] = *config.managedBlock;
        lines.assign(config.lines.begin(), config.lines.begin() + static_cast<long>(first));
        lines.insert(lines.end(), block.begin(), block.end());
        lines.insert(lines.end(), config.lines.begin() + static_cast<long>(last) + 1, config.lines.end());
    } else {
        lines = config.lines;
        lines.insert(lines.end(), block.begin(), block.end());
    }
    edit.text = joinLines(lines);
    // A file whose last line had no newline keeps that: only lines lockcr wrote end in one.
    if (config.managedBlock && !config.endsWithNewline && config.managedBlock->second + 1 < config.lines.size())
        edit.text.pop_back();
    edit.changed = edit.text != existing;
    return edit;
}

CriuConfigEdit removeManagedBlock(std::string_view existing, const std::string& source) {
    CriuConfigText config = parseCriuConfig(existing, source);
    CriuConfigEdit edit;
    if (!config.managedBlock) {
        edit.text = std::string(existing);
        return edit;
    }
    auto [first, last] = *config.managedBlock;
    std::vector<std::string> lines(config.lines.begin(), config.lines.begin() + static_cast<long>(first));
    lines.insert(lines.end(), config.lines.begin() + static_cast<long>(last) + 1, config.lines.end());
    edit.text = joinLines(lines);
    if (!config.endsWithNewline && last + 1 < config.lines.size()) edit.text.pop_back();
    edit.changed = true;
    return edit;
}

std::string Version::text() const {
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::optional<Version> parseCriuVersionOutput(std::string_view text) {
    size_t position = 0;
    while (position < text.size()) {
        size_t newline = text.find('\n', position);
        std::string_view line = trimmed(
            text.substr(position, newline == std::string_view::npos ? text.npos : newline - position));
        if (line.starts_with("Version:")) return parseVersionPrefix(trimmed(line.substr(8)));
        if (newline == std::string_view::npos) break;
        position = newline + 1;
    }
    return std::nullopt;
}

CrunVersionInfo parseCrunVersionOutput(std::string_view text) {
    CrunVersionInfo info;
    constexpr std::string_view kPrefix = "crun version ";
    size_t start = text.find(kPrefix);
    if (start != std::string_view::npos) info.version = parseVersionPrefix(text.substr(start + kPrefix.size()));
    size_t position = 0;
    while (position < text.size()) {
        size_t end = text.find_first_of(" \t\n", position);
        if (end == std::string_view::npos) end = text.size();
        if (text.substr(position, end - position) == "+CRIU") info.criu = true;
        position = end + 1;
    }
    return info;
}

std::optional<Version> parseKernelRelease(std::string_view text) { return parseVersionPrefix(trimmed(text)); }

std::optional<Engine> engineFromName(std::string_view name) {
    for (Engine engine : {Engine::runc, Engine::crun, Engine::podman, Engine::crio, Engine::containerd})
        if (name == engineName(engine)) return engine;
    return std::nullopt;
}

const char* engineName(Engine engine) {
    switch (engine) {
        case Engine::runc: return "runc";
        case Engine::crun: return "crun";
        case Engine::podman: return "podman";
        case Engine::crio: return "crio";
        case Engine::containerd: return "containerd";
    }
    return "runc";
}

std::vector<std::string> setupFilesFor(Engine engine, bool crunConfigExists) {
    if (engine == Engine::runc) return {kRuncConfigFile};
    if (engine == Engine::crun) return {crunConfigExists ? kCrunConfigFile : kRuncConfigFile};
    std::vector<std::string> files = {kRuncConfigFile};
    if (crunConfigExists) files.push_back(kCrunConfigFile);
    return files;
}

std::string defaultConfigFileFor(Engine engine, bool runtimeIsCrun, bool crunConfigExists) {
    bool crun = engine == Engine::crun || (engine != Engine::runc && runtimeIsCrun);
    return crun && crunConfigExists ? kCrunConfigFile : kRuncConfigFile;
}

}  // namespace lockcr
