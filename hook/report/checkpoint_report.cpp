#include "report/checkpoint_report.h"

#include <nlohmann/json.hpp>

#include "image/json.h"
#include "report/table.h"

namespace lockcr {

namespace {

std::string rangeText(const LockRange& range) {
    return std::to_string(range.start) + ".." + (range.end ? std::to_string(*range.end) : std::string("EOF"));
}

std::string lockText(const Lock& lock) {
    std::string text = std::string(nameOf(lock.kind)) + " " + nameOf(lock.type);
    if (lock.kind == LockKind::lease && lock.leaseState != LeaseState::active)
        text += " (" + std::string(nameOf(lock.leaseState)) + ")";
    if (lock.kind == LockKind::posix || lock.kind == LockKind::ofd) text += " " + rangeText(lock.range);
    return text;
}

std::string ownerTypeName(int type) {
    switch (type) {
        case 0: return "thread";         // F_OWNER_TID
        case 1: return "process";        // F_OWNER_PID
        case 2: return "process group";  // F_OWNER_PGRP
        default: return "owner type " + std::to_string(type);
    }
}

std::string leaseOwners(const LockImage& image) {
    std::string out;
    for (const OpenFileDescription& description : image.descriptions) {
        if (!description.signalOwner || description.holders.empty()) continue;
        const SignalOwner& owner = *description.signalOwner;
        out += "  " + nameOf(description.file) + " (pid " + std::to_string(description.holders.front().containerPid) +
               " fd " + std::to_string(description.holders.front().fd) + "): a break signals " +
               (owner.containerPid ? ownerTypeName(owner.ownerType) + " " + std::to_string(owner.containerPid)
                                   : std::string("nobody")) +
               " with " + (owner.signal ? "signal " + std::to_string(owner.signal) : std::string("SIGIO")) + "\n";
    }
    return out;
}

// Another stage owns the snapshot record's schema: shown generically, scalars first, then one line
// per element of each list (its scalars, and the sizes of its own lists).
std::string scalarText(const nlohmann::json& value) {
    return value.is_string() ? value.get<std::string>() : value.dump();
}

std::string objectLine(const nlohmann::json& object) {
    std::string line;
    for (const auto& [key, value] : object.items()) {
        if (value.is_array()) line += (line.empty() ? "" : ", ") + key + ": " + std::to_string(value.size());
        else if (!value.is_object()) line += (line.empty() ? "" : ", ") + key + ": " + scalarText(value);
    }
    return line;
}

std::string snapshotSummary(const nlohmann::json& snapshot) {
    std::string out = "  " + objectLine(snapshot) + "\n";
    for (const auto& [key, value] : snapshot.items()) {
        if (!value.is_array()) continue;
        for (const nlohmann::json& element : value)
            out += "  " + key + ": " + (element.is_object() ? objectLine(element) : scalarText(element)) + "\n";
    }
    return out;
}

std::string criuTable(const CheckpointView& view) {
    std::vector<std::vector<std::string>> rows{{"PID", "FD", "TYPE", "MODE", "START", "LEN", "PATH"}};
    for (const CriuFileLock& lock : *view.criuLocks) {
        std::string path = view.image ? recordedPathOf(*view.image, lock.pid, lock.fd) : "";
        rows.push_back({std::to_string(lock.pid), std::to_string(lock.fd), criuKindName(lock), criuTypeName(lock),
                        std::to_string(lock.start), lock.length ? std::to_string(lock.length) : "EOF",
                        path.empty() ? "-" : path});
    }
    std::vector<size_t> widths(rows.front().size(), 0);
    for (const auto& row : rows)
        for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    std::string out;
    for (const auto& row : rows) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i)
            line += row[i] + (i + 1 < row.size() ? std::string(widths[i] - row[i].size() + 1, ' ') : "");
        out += line + "\n";
    }
    return out;
}

std::string comparisonText(const CheckpointView& view) {
    const LockComparison& comparison = *view.comparison;
    std::string out = "lockcr and CRIU: " + std::to_string(comparison.matched) + " lock(s) in both records";
    if (comparison.onlyLockcr.empty() && comparison.onlyCriu.empty() && view.image->waiters.empty())
        return out + ", no difference\n";
    out += "\n";
    if (!comparison.onlyLockcr.empty()) {
        out += "  only in lockcr's record (" + std::to_string(comparison.onlyLockcr.size()) +
               "): a restore by CRIU alone would drop these\n";
        for (const RecordedLock& recorded : comparison.onlyLockcr)
            out += "    pid " + std::to_string(recorded.pid) + " fd " + std::to_string(recorded.fd) + " " +
                   recorded.file + ": " + lockText(recorded.lock) + "\n";
    }
    if (!view.image->waiters.empty())
        out += "  waiters (" + std::to_string(view.image->waiters.size()) +
               "): only lockcr records them (CRIU restarts the blocked call, which may take the lock first)\n";
    if (!comparison.onlyCriu.empty()) {
        out += "  only in CRIU's filelocks.img (" + std::to_string(comparison.onlyCriu.size()) + ")\n";
        for (const CriuFileLock& lock : comparison.onlyCriu)
            out += "    pid " + std::to_string(lock.pid) + " fd " + std::to_string(lock.fd) + ": " +
                   criuKindName(lock) + " " + criuTypeName(lock) + " start " + std::to_string(lock.start) + " len " +
                   (lock.length ? std::to_string(lock.length) : std::string("EOF")) + "\n";
    }
    return out;
}

nlohmann::json criuLockJson(const CriuFileLock& lock, const CheckpointView& view) {
    std::optional<LockKind> kind = lock.kind();
    std::optional<LockType> type = lock.lockType();
    std::string path = view.image ? recordedPathOf(*view.image, lock.pid, lock.fd) : "";
    return {{"kind", kind ? nlohmann::json(nameOf(*kind)) : nlohmann::json(nullptr)},
            {"type", type ? nlohmann::json(nameOf(*type)) : nlohmann::json(nullptr)},
            {"breaking", lock.breaking()},
            {"flag", lock.flag},
            {"criu_type", lock.type},
            {"pid", lock.pid},
            {"fd", lock.fd},
            {"start", lock.start},
            {"len", lock.length},
            {"path", path.empty() ? nlohmann::json(nullptr) : nlohmann::json(path)}};
}

}  // namespace

std::string formatCheckpointReport(const CheckpointView& view) {
    std::string out = "Checkpoint " + view.source + " (" + view.format + ")\n";
    std::string id = !view.containerId.empty() ? view.containerId : view.record ? view.record->containerId : "";
    if (!view.containerName.empty() || !id.empty())
        out += "Container " +
               (view.containerName.empty() ? id : view.containerName + (id.empty() ? "" : " (" + id + ")")) + "\n";
    if (view.record) {
        out += "Recorded by " + view.record->tool + " at " + view.record->created;
        std::string annotations;
        for (const auto& [key, value] : view.record->annotations)
            annotations += (annotations.empty() ? "" : ", ") + key + "=" + value;
        if (!annotations.empty()) out += "; " + annotations;
        out += "\n";
    }
    out += "\n";
    if (view.image) {
        out += "lockcr's record (" + std::string(kLockImageFileName) + "): " + std::to_string(countLocks(*view.image)) +
               " lock(s), " + std::to_string(view.image->waiters.size()) + " waiter(s), " +
               std::to_string(view.image->processes.size()) + " process(es)\n";
        out += formatLockTable(*view.image);
        if (std::string owners = leaseOwners(*view.image); !owners.empty()) out += "Lease owners\n" + owners;
    } else {
        out += "lockcr's record: none (the checkpoint was taken without lockcr as CRIU's action script)\n";
    }
    if (view.snapshot)
        out += "\nSnapshot (" + std::string(kSnapshotRecordFile) + ")\n" + snapshotSummary(*view.snapshot);
    out += "\n";
    if (view.criuLocks) {
        out += "CRIU's record (" +
               std::string(view.criuLocksSetAside ? kCriuLocksSetAsideFileName : kCriuLocksFileName) +
               (view.criuLocksSetAside ? ", set aside by a lockcr restore that did not finish" : "") +
               "): " + std::to_string(view.criuLocks->size()) + " lock(s); a restore without --file-locks sets none\n";
        out += criuTable(view);
    } else {
        out += "CRIU's record: no filelocks.img (dumped without --file-locks, or no lock was held)\n";
    }
    if (view.comparison) out += "\n" + comparisonText(view);
    return out;
}

nlohmann::json checkpointReportToJson(const CheckpointView& view) {
    nlohmann::json document = {{"source", view.source},
                               {"format", view.format},
                               {"criu_images", view.hasCriuImages},
                               {"container", {{"name", view.containerName}, {"id", view.containerId}}}};
    document["checkpoint_record"] = view.record ? nlohmann::json::parse(checkpointRecordToText(*view.record))
                                                : nlohmann::json(nullptr);
    document["lock_image"] = view.image ? lockImageToJson(*view.image) : nlohmann::json(nullptr);
    document["snapshot"] = view.snapshot ? *view.snapshot : nlohmann::json(nullptr);
    if (view.criuLocks) {
        nlohmann::json locks = nlohmann::json::array();
        for (const CriuFileLock& lock : *view.criuLocks) locks.push_back(criuLockJson(lock, view));
        document["criu_file_locks"] = std::move(locks);
    } else {
        document["criu_file_locks"] = nullptr;
    }
    document["criu_file_locks_set_aside"] = view.criuLocksSetAside;
    if (view.comparison) {
        nlohmann::json onlyLockcr = nlohmann::json::array(), onlyCriu = nlohmann::json::array();
        for (const RecordedLock& recorded : view.comparison->onlyLockcr)
            onlyLockcr.push_back(
                {{"kind", nameOf(recorded.lock.kind)},
                 {"type", nameOf(recorded.lock.type)},
                 {"lease_state", nameOf(recorded.lock.leaseState)},
                 {"pid", recorded.pid},
                 {"fd", recorded.fd},
                 {"start", recorded.lock.range.start},
                 {"end", recorded.lock.range.end ? nlohmann::json(*recorded.lock.range.end) : nlohmann::json("EOF")},
                 {"path", recorded.file}});
        for (const CriuFileLock& lock : view.comparison->onlyCriu) onlyCriu.push_back(criuLockJson(lock, view));
        document["comparison"] = {{"matched", view.comparison->matched},
                                  {"only_lockcr", std::move(onlyLockcr)},
                                  {"only_criu", std::move(onlyCriu)},
                                  {"waiters_only_lockcr", view.image->waiters.size()}};
    } else {
        document["comparison"] = nullptr;
    }
    return document;
}

}  // namespace lockcr
