#include "gpuslots/atomic_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace gpuslots {

Result<void> replace_file(const std::string& dir, const std::string& name, std::string_view text) {
    std::string temp = dir + "/." + name + ".XXXXXX";
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) {
        return make_error(Errc::config, "cannot create a file in {}: {}", dir,
                          std::strerror(errno));
    }
    // The readers usually run as their own users: the file must be readable by others.
    bool ok = ::fchmod(fd, 0644) == 0;
    std::size_t done = 0;
    while (ok && done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) done += static_cast<std::size_t>(n);
    }
    int why = errno;
    if (::close(fd) != 0 && ok) {
        ok = false;
        why = errno;
    }
    const std::string target = dir + "/" + name;
    if (ok && ::rename(temp.c_str(), target.c_str()) == 0) return {};
    if (ok) why = errno;
    ::unlink(temp.c_str());
    return make_error(Errc::config, "cannot write {}: {}", target, std::strerror(why));
}

}  // namespace gpuslots
