#include "show/checkpoint_view.h"

#include "archive/checkpoint_files.h"
#include "image/json.h"
#include "util/error.h"

namespace lockcr {

namespace {

template <typename Parse>
auto parsedAs(const std::string& source, const std::string& name, Parse parse) {
    try {
        return parse();
    } catch (const Error& error) {
        throw error.within(source + ": " + name);
    }
}

nlohmann::json jsonOf(const std::string& text, const std::string& where) {
    nlohmann::json document = nlohmann::json::parse(text, nullptr, false);
    if (document.is_discarded() || !document.is_object()) throwBadInput(where + ": not a JSON object");
    return document;
}

std::string stringOr(const nlohmann::json& object, const char* key) {
    auto found = object.find(key);
    return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

}  // namespace

CheckpointView readCheckpointView(const std::string& path) {
    CheckpointFiles files = readCheckpointFiles(
        path, {kLockImageFileName, kCheckpointRecordFileName, kCriuLocksFileName, kCriuLocksSetAsideFileName,
               kSnapshotRecordFile, kEngineConfigFile});
    CheckpointView view;
    view.source = files.source;
    view.format = files.format;
    view.hasCriuImages = files.hasCriuImages;
    auto file = [&](const char* name) -> const std::string* {
        auto found = files.files.find(name);
        return found == files.files.end() ? nullptr : &found->second;
    };
    if (const std::string* text = file(kCheckpointRecordFileName))
        view.record = checkpointRecordFromText(*text, path + ": " + kCheckpointRecordFileName);
    if (const std::string* text = file(kLockImageFileName))
        view.image = parsedAs(path, kLockImageFileName, [&] { return lockImageFromText(*text); });
    const std::string* criuBytes = file(kCriuLocksFileName);
    const char* criuName = kCriuLocksFileName;
    if (!criuBytes && (criuBytes = file(kCriuLocksSetAsideFileName))) {
        criuName = kCriuLocksSetAsideFileName;
        view.criuLocksSetAside = true;
    }
    if (criuBytes) view.criuLocks = criuFileLocksFromBytes(*criuBytes, path + ": " + criuName);
    if (const std::string* text = file(kSnapshotRecordFile))
        view.snapshot = jsonOf(*text, path + ": " + kSnapshotRecordFile);
    if (const std::string* text = file(kEngineConfigFile)) {
        // Only two names are taken from the engine's file; its format is podman's or CRI-O's to change.
        nlohmann::json config = nlohmann::json::parse(*text, nullptr, false);
        if (config.is_object()) {
            view.containerName = stringOr(config, "name");
            view.containerId = stringOr(config, "id");
        }
    }
    if (view.image)
        view.comparison = compareWithCriu(*view.image, view.criuLocks.value_or(std::vector<CriuFileLock>{}));
    return view;
}

}  // namespace lockcr
