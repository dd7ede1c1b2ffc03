// formatLockTable on the sample image (tests/samples/lock_image.json): lslocks-like columns,
// container pids first, one row per lock and per waiter.
#include <doctest/doctest.h>

#include <sstream>

#include "image/json.h"
#include "report/table.h"
#include "util/sys.h"

using namespace lockcr;

namespace {

std::vector<std::string> tableLines() {
    std::string text = formatLockTable(lockImageFromText(sys::readFile(LOCKCR_SAMPLES "/lock_image.json")));
    std::vector<std::string> lines;
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);) lines.push_back(line);
    return lines;
}

// The row's words, however wide the columns are.
std::vector<std::string> words(const std::string& line) {
    std::vector<std::string> out;
    std::istringstream stream(line);
    for (std::string word; stream >> word;) out.push_back(word);
    return out;
}

using Words = std::vector<std::string>;

}  // namespace

TEST_CASE("table: a header, then POSIX locks, description locks and waiters") {
    std::vector<std::string> lines = tableLines();
    REQUIRE(lines.size() == 7);
    CHECK(words(lines[0]) == Words{"COMMAND", "PID", "HOST-PID", "FD", "TYPE", "MODE", "START", "END", "PATH", "NOTE"});
    CHECK(words(lines[1]) == Words{"holder", "1", "4637", "3", "POSIX", "WRITE", "5", "14", "/data/a"});
    CHECK(words(lines[2]) == Words{"holder", "1", "4637", "3", "POSIX", "READ", "100", "EOF", "/data/a"});
    CHECK(words(lines[3]) ==
          Words{"holder", "1", "4637", "4", "FLOCK", "READ", "0", "EOF", "/data/a", "shared", "with", "1:5"});
    CHECK(words(lines[4]) ==
          Words{"holder", "1", "4637", "4", "OFDLCK", "WRITE", "50", "99", "/data/a", "shared", "with", "1:5"});
    CHECK(words(lines[5]) ==
          Words{"holder", "1", "4637", "6", "LEASE(breaking)", "UNLOCK", "0", "EOF", "/data/d", "(deleted)"});
    CHECK(words(lines[6]) == Words{"waiter", "2", "4639", "-", "POSIX", "WRITE*", "5", "14", "/data/a", "waiting",
                                   "for", "POSIX", "WRITE", "of", "pid", "1"});
}

TEST_CASE("table: columns line up and no line ends in a space") {
    std::vector<std::string> lines = tableLines();
    size_t pathColumn = lines[0].find("PATH");
    CHECK(lines[0].substr(pathColumn, 4) == "PATH");
    for (const std::string& line : lines) {
        CAPTURE(line);
        CHECK(line.back() != ' ');
        if (line != lines[0]) CHECK(line.substr(pathColumn, 1) == "/");
    }
}
