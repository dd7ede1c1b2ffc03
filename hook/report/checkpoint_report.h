// Output of `lockcr show`: what a checkpoint holds about file locks, for people (the lock table of
// `lockcr inspect`, lease owners, the snapshot summary, CRIU's own filelocks.img and where the two
// differ) and as one JSON document (--json).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>

#include "show/checkpoint_view.h"

namespace lockcr {

std::string formatCheckpointReport(const CheckpointView& view);
nlohmann::json checkpointReportToJson(const CheckpointView& view);

}  // namespace lockcr
