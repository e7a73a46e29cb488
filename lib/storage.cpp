#include "gpuslots/storage.hpp"

#include <sys/statfs.h>

#include <filesystem>

namespace gpuslots {

std::optional<std::string> network_filesystem(const std::string& path) {
    // Magic numbers from statfs(2) / linux/magic.h.
    struct Kind {
        unsigned long magic;
        const char* name;
    };
    static constexpr Kind kNetwork[] = {
        {0x6969, "nfs"},        {0xFF534D42, "cifs"}, {0xFE534D42, "smb2"},   {0x517B, "smb"},
        {0x0BD00BD0, "lustre"}, {0x47504653, "gpfs"}, {0x19830326, "beegfs"}, {0x00C36400, "ceph"},
        {0x65735546, "fuse"},   {0x5346414F, "afs"},  {0x013111A8, "ibrix"},  {0x7461636f, "ocfs2"},
        {0x01161970, "gfs2"},
    };
    std::filesystem::path p(path);
    struct statfs st {};
    while (!p.empty()) {
        if (::statfs(p.c_str(), &st) == 0) {
            for (const auto& k : kNetwork) {
                if (static_cast<unsigned long>(st.f_type) == k.magic) return std::string(k.name);
            }
            return std::nullopt;
        }
        if (p == p.root_path() || !p.has_parent_path()) break;
        p = p.parent_path();
    }
    return std::nullopt;
}

}  // namespace gpuslots
