// Making a snapshot's copies durable before the record that names them (the snapshot's own
// copies, snapshot.cpp; the copies exported into the image directory, export.cpp). syncfs flushes
// every dirty page of the filesystem, the container's and everybody else's: seen here costing a
// checkpoint 100 to 300 ms while builds ran beside it, even with no copy at all. An fsync per copy
// is cheaper for a few copies and far dearer for thousands (4,000 fsyncs took over a second), so
// the first copies are fsynced one by one, with the directories holding them, and syncfs is kept
// for more, or for a whole tree copied (an overlay upper layer).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace lockcr {

class Durability {
public:
    void fileCopied(int fd, const std::string& name);           // fsynced now, while they are few
    void treeCopied();                                          // a tree: syncfs at the end
    void directoryFilled(const std::string& directory);         // its entries made durable at the end
    void finish(const std::string& anyPathOnTheFilesystem);     // fsync of the directories, or syncfs

private:
    static constexpr size_t kFsyncEach = 64;
    size_t copies_ = 0;
    std::vector<std::string> directories_;
};

}  // namespace lockcr
