// Reading the config file: what may be read (a regular file), how much (kMaxConfigBytes), and
// the messages when it cannot be. Parsing is config.cpp's.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "gpuslots/config.hpp"
#include "yaml_document.hpp"

namespace gpuslots {
namespace {

// What a file that is not a regular file is, for the message that refuses it.
const char* file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a plain file";
}

}  // namespace

// Only a regular file is read: a device (/dev/zero never ends), a FIFO (blocks until a writer
// comes, or forever) or a terminal could stall or exhaust every prolog on the node. O_NONBLOCK
// keeps the open itself from waiting on a FIFO; it changes nothing for a regular file. At most
// kMaxConfigBytes + 1 bytes are read, whatever fstat said, in case the file grows meanwhile.
Result<Config> load_config(const std::string& path, std::string* text_out) {
    const std::string shown = yaml_document::shown_path(path);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT) {
            return make_error(Errc::config,
                              "cannot read config {}: {} (create it from the example "
                              "etc/gpuslots.yaml, or point --config or $GPUSLOTS_CONFIG at one)",
                              shown, std::strerror(err));
        }
        return make_error(Errc::config, "cannot read config {}: {}", shown, std::strerror(err));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        return make_error(Errc::config, "cannot read config {}: {}", shown, std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_error(Errc::config,
                          "config {} is {}, not a regular file; point --config or "
                          "$GPUSLOTS_CONFIG at a YAML file",
                          shown, file_kind(st.st_mode));
    }
    if (static_cast<std::uintmax_t>(st.st_size) > kMaxConfigBytes) {
        ::close(fd);
        return make_error(Errc::config, "config {} {}", shown,
                          yaml_document::too_large(static_cast<std::size_t>(st.st_size)));
    }
    std::string text;
    char buffer[16384];
    while (text.size() <= kMaxConfigBytes) {
        const std::size_t want = std::min(sizeof buffer, kMaxConfigBytes + 1 - text.size());
        const ssize_t n = ::read(fd, buffer, want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            return make_error(Errc::config, "cannot read config {}: {}", shown, std::strerror(err));
        }
        if (n == 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (text.size() > kMaxConfigBytes) {
        return make_error(Errc::config, "config {} {}", shown,
                          yaml_document::too_large(text.size()));
    }
    auto config = parse_config(text, path);
    if (text_out != nullptr) *text_out = std::move(text);
    return config;
}

}  // namespace gpuslots
