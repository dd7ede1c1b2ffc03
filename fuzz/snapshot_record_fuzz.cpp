// The snapshot record (hook/snapshot/record.cpp), lockcr-snapshot.json in an image directory that
// may come from another host: its paths are opened inside the container's root and its copy paths
// inside the store. Property: an accepted record round-trips, and no accepted copy path climbs out.
#include "fuzz_common.h"
#include "snapshot/record.h"

namespace {

bool climbsOut(const std::string& path) {
    if (!path.empty() && path.front() == '/') return true;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        if (path.compare(start, end - start, "..") == 0) return true;
        start = end + 1;
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lockcr;
    fuzz::expectOnlyLockcrErrors([&] {
        SnapshotRecord record = snapshotRecordFromText(fuzz::textOf(data, size));
        for (const SnapshotPart& part : record.parts)
            for (const SnapshotFile& file : part.files)
                fuzz::require(!climbsOut(file.copy),
                              "snapshot record: a copy path stays inside the part's data directory");
        std::string written = snapshotRecordToText(record);
        fuzz::require(snapshotRecordToText(snapshotRecordFromText(written)) == written,
                      "snapshot record: write(read(write(record))) == write(record)");
    });
    return 0;
}
