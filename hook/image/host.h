// The stamp on an image: when, by which lockcr, on which host and boot (pids and inode numbers
// mean nothing on another boot).
#pragma once

#include "image/model.h"

namespace lockcr {

void stampImage(LockImage& image);

}  // namespace lockcr
