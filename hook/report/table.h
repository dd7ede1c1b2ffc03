// Human output of a lock image: a table like lslocks, with container pids first.
#pragma once

#include <string>

#include "image/model.h"

namespace lockcr {

std::string formatLockTable(const LockImage& image);

}  // namespace lockcr
