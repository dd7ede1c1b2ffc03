// The checkpoint record (hook/criu/checkpoint_files.cpp), lockcr.checkpoint.json in an image
// directory that may come from another host. Property: an accepted record round-trips.
#include "criu/checkpoint_files.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lockcr;
    fuzz::expectOnlyLockcrErrors([&] {
        CheckpointRecord record = checkpointRecordFromText(std::string(fuzz::textOf(data, size)), "fuzz");
        std::string written = checkpointRecordToText(record);
        fuzz::require(checkpointRecordToText(checkpointRecordFromText(written, "fuzz")) == written,
                      "checkpoint record: write(read(write(record))) == write(record)");
    });
    return 0;
}
