// `lockcr snapshot create | verify | rollback | delete | prune`: each one a short composition of
// the snapshot stage's functions (snapshot.h, verify.h, store.h). modes/snapshot_cli parses the
// arguments and calls these; they print results on stdout and return the exit status.
#pragma once

#include <optional>
#include <string>

#include "discover/container.h"
#include "snapshot/snapshot.h"
#include "snapshot/store.h"
#include "snapshot/verify.h"

namespace lockcr {

struct SnapshotCreateOptions {
    ContainerSelector container;
    std::string recordDirectory;
    SnapshotOptions snapshot;
    bool exportVolumes = false;  // copies of the volumes' files into the record directory (export.h)
};

struct SnapshotVerifyOptions {
    std::string record;               // path of lockcr-snapshot.json
    ContainerSelector container;      // the container whose root is checked
    std::optional<std::string> root;  // or a root directory given by path
    VerifyPolicy policy = VerifyPolicy::strict;
    bool json = false;
};

int runSnapshotCreate(const SnapshotCreateOptions& options);
// Policy strict: exit 1 when a file changed (one line each on stdout); rollback: the files restored.
int runSnapshotVerify(const SnapshotVerifyOptions& options);
int runSnapshotDelete(const std::string& store, const std::string& checkpointId);
int runSnapshotPrune(const std::string& store, const PruneRule& rule);

}  // namespace lockcr
