// A directory under /tmp that a test owns: created empty, removed with everything in it (one level
// of files, which is all the lock tests make) when the test ends.
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace lockcr::test {

class TempDirectory {
public:
    TempDirectory() {
        // lockcr-test-PID-: tests/container/sweep.sh removes it if this process is killed.
        std::string nameTemplate = "/tmp/lockcr-test-" + std::to_string(getpid()) + "-dir-XXXXXX";
        if (mkdtemp(nameTemplate.data()) == nullptr)
            throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
        path_ = nameTemplate;
    }
    TempDirectory(const TempDirectory&) = delete;
    TempDirectory& operator=(const TempDirectory&) = delete;
    ~TempDirectory() {
        if (DIR* directory = opendir(path_.c_str())) {
            while (dirent* entry = readdir(directory)) {
                std::string name = entry->d_name;
                if (name != "." && name != "..") unlink((path_ + "/" + name).c_str());
            }
            closedir(directory);
        }
        rmdir(path_.c_str());
    }

    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

}  // namespace lockcr::test
