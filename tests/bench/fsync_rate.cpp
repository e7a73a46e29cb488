#include "fsync_rate.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "bench_common.hpp"

namespace gpuslots::bench {

FsyncRun fsync_loop(const std::string& dir, double seconds) {
    const std::string path = dir + "/fsync-probe";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
    char block[4096];
    std::memset(block, 'g', sizeof block);
    // The first write allocates the block; the loop then measures steady-state overwrites.
    if (::pwrite(fd, block, sizeof block, 0) != static_cast<ssize_t>(sizeof block) ||
        ::fsync(fd) != 0) {
        const int e = errno;
        ::close(fd);
        throw std::runtime_error("write+fsync " + path + ": " + std::strerror(e));
    }
    long count = 0;
    const auto start = Clock::now();
    double elapsed = 0;
    do {
        block[count % sizeof block] ^= 1;  // a real change each time
        if (::pwrite(fd, block, sizeof block, 0) != static_cast<ssize_t>(sizeof block) ||
            ::fsync(fd) != 0) {
            const int e = errno;
            ::close(fd);
            throw std::runtime_error("write+fsync " + path + ": " + std::strerror(e));
        }
        ++count;
        elapsed = seconds_since(start);
    } while (elapsed < seconds);
    ::close(fd);
    ::unlink(path.c_str());
    return FsyncRun{count, elapsed};
}

}  // namespace gpuslots::bench
