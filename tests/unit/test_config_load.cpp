// Reading the config and loading its YAML document, against hostile input: stray characters
// that once made the YAML loader allocate without end, more than one document, files that are
// not regular files (/dev/zero, a FIFO), and files over the size limit. Every parse of such
// input runs in a child process with a memory limit and a deadline (support/bounded.hpp), so a
// regression fails the test instead of exhausting the machine.
#define BOOST_TEST_MODULE config_load
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gpuslots/config.hpp"
#include "support/bounded.hpp"
#include "support/fixtures.hpp"

using namespace gpuslots;
using gpuslots::test::Bounded;
using gpuslots::test::run_bounded;
using gpuslots::test::TempDir;
using gpuslots::test::write_file;

namespace {

const std::string kSource = "/etc/gpuslots/gpuslots.yaml";

const std::string kOneServer = "servers:\n  - name: a\n    gpus: 4\n    cpus: 32\n";

// The documented size limit of a config file (README, Configuration).
constexpr std::size_t kLimit = 1024 * 1024;

// "ok" or "error: <message>", for a result computed in a child process.
std::string outcome(const Result<Config>& r) {
    if (r.ok()) return "ok";
    if (r.error().code != Errc::config) return "wrong error class: " + r.error().message;
    return "error: " + r.error().message;
}

Bounded parse_bounded(const std::string& text) {
    return run_bounded([&] { return outcome(parse_config(text, kSource)); });
}

Bounded load_bounded(const std::string& path) {
    return run_bounded([&] { return outcome(load_config(path)); });
}

// A config error: the child finished in time, the error is one line, starts with `prefix`
// and contains every one of `parts`.
void expect_error(const Bounded& r, const std::string& prefix,
                  const std::vector<std::string>& parts) {
    BOOST_TEST_REQUIRE(r.status == 0, "the child ended with status "
                                          << r.status << " (142: past the deadline; 3: out of "
                                          << "memory); it said: " << r.output);
    BOOST_TEST_REQUIRE(r.output.rfind("error: ", 0) == 0, r.output);
    const std::string message = r.output.substr(7);
    BOOST_TEST(message.find('\n') == std::string::npos, "not one line: " << message);
    BOOST_TEST(message.rfind(prefix, 0) == 0, "'" << message << "' does not start with " << prefix);
    for (const auto& part : parts) {
        BOOST_TEST(message.find(part) != std::string::npos,
                   "'" << message << "' lacks '" << part << "'");
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(one_document)

// yaml-cpp's multi-document loader read each of these as an endless run of empty documents
// (17 GB in 56 s before anything stopped it).
BOOST_AUTO_TEST_CASE(stray_commas_are_one_line_errors) {
    struct Case {
        std::string yaml;
        std::string prefix;
    };
    const std::vector<Case> cases = {
        {",", kSource + ":1:1: "},
        {",servers:", kSource + ":1:1: "},
        {",\n" + kOneServer, kSource + ":1:1: "},
        {"  ,  ", kSource + ":1:3: "},
        {"# comment\n,,,", kSource + ":2:1: "},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("input " << in_quotes(c.yaml)) {
            expect_error(parse_bounded(c.yaml), c.prefix,
                         {"not valid YAML", "','", "only inside [ ] or { }"});
        }
    }
}

BOOST_AUTO_TEST_CASE(anything_after_the_first_document_is_an_error_where_it_starts) {
    struct Case {
        std::string name;
        std::string yaml;
        std::string prefix;
        std::string says;
    };
    const std::vector<Case> cases = {
        {"a second document", kOneServer + "---\nslurm: {}\n",
         kSource + ":5:1: ", "a second YAML document ('---'); the config is one document"},
        {"two documents, both marked", "---\n" + kOneServer + "---\n",
         kSource + ":6:1: ", "a second YAML document ('---')"},
        {"content after the end marker", kOneServer + "...\nstate: {}\n",
         kSource + ":6:1: ", "content after the end of the document"},
        {"a mapping after a top-level list", "- a\nservers: []\n",
         kSource + ":2:1: ", "content after the end of the document"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            expect_error(parse_bounded(c.yaml), c.prefix, {c.says});
        }
    }
}

BOOST_AUTO_TEST_CASE(one_document_with_markers_is_fine) {
    for (const std::string& yaml :
         {"---\n" + kOneServer, kOneServer + "...\n", "---\n" + kOneServer + "...\n# end\n",
          "%YAML 1.2\n---\n" + kOneServer}) {
        BOOST_TEST_CONTEXT("input " << in_quotes(yaml)) {
            const Bounded r = parse_bounded(yaml);
            BOOST_TEST(r.status == 0);
            BOOST_TEST(r.output == "ok");
        }
    }
}

BOOST_AUTO_TEST_CASE(empty_documents_are_still_called_empty) {
    for (const std::string yaml : {"", "\n\n", "# nothing\n", "---\n", "---\n...\n"}) {
        BOOST_TEST_CONTEXT("input " << in_quotes(yaml)) {
            expect_error(parse_bounded(yaml), kSource + ": ", {"the file is empty"});
        }
    }
}

// The config is UTF-8 text. yaml-cpp reads input that starts like UTF-16 or UTF-32 (a NUL in
// the first bytes, or a byte-order mark) in that encoding, and then its line:column no longer
// point at the bytes of the file; YAML allows no control character but tab, LF and CR anyway.
BOOST_AUTO_TEST_CASE(control_characters_and_other_encodings_are_refused) {
    std::string utf16;
    for (char c : kOneServer) {
        utf16.push_back(c);
        utf16.push_back('\0');
    }
    struct Case {
        std::string yaml;
        std::string prefix;
        std::string says;
    };
    const std::vector<Case> cases = {
        {std::string("servers:\0", 9), kSource + ":1:9: ", "control character 0x00"},
        {std::string("-\0\xe5r\ngpus", 9), kSource + ":1:2: ", "control character 0x00"},
        {kOneServer + "  \x04", kSource + ":5:3: ", "control character 0x04"},
        {"servers:\n  - name: \x1b[31ma\n", kSource + ":2:11: ", "control character 0x1b"},
        {kOneServer + "\x7f", kSource + ":5:1: ", "control character 0x7f"},
        {utf16, kSource + ":1:2: ", "control character 0x00"},
        {"\xff\xfe" + utf16, kSource + ":1:1: ", "UTF-16"},
        {"\xfe\xff" + utf16, kSource + ":1:1: ", "UTF-16"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("input " << in_quotes(c.yaml)) {
            expect_error(parse_bounded(c.yaml), c.prefix, {c.says, "UTF-8"});
        }
    }
    // Tab, CR and a UTF-8 byte-order mark are fine.
    const std::vector<std::string> fine = {
        "servers:\t\n  - {name: a,\tgpus: 4, cpus: 32}\n",
        "servers:\r\n  - name: a\r\n    gpus: 4\r\n    cpus: 32\r\n",
        "\xef\xbb\xbf" + kOneServer,
    };
    for (const std::string& yaml : fine) {
        BOOST_TEST_CONTEXT("input " << in_quotes(yaml)) {
            BOOST_TEST(parse_bounded(yaml).output == "ok");
        }
    }
}

// A value quoted in a message is shown by its first 60 characters and its length, so that a
// long key or value from the file cannot make the message unreadable.
BOOST_AUTO_TEST_CASE(long_values_are_quoted_shortened) {
    const std::string long_text(100'000, 'k');
    struct Case {
        std::string name;
        std::string yaml;
        std::string says;
    };
    const std::vector<Case> cases = {
        {"unknown key", kOneServer + "? " + long_text + "\n: 1\n", "unknown key 'kkkk"},
        {"not an integer", "servers:\n  - {name: a, gpus: " + long_text + ", cpus: 1}\n",
         "expected a positive integer, got 'kkkk"},
        {"a long scalar where a mapping belongs", "servers:\n  - " + long_text + "\n",
         "expected a mapping"},
        {"a long hostlist", "servers:\n  - {name: 'a b" + long_text + "', gpus: 1, cpus: 1}\n",
         "hostlist 'a bkkk"},
        {"a long durability", kOneServer + "state:\n  durability: " + long_text + "\n",
         "state.durability"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            const Bounded r = parse_bounded(c.yaml);
            expect_error(r, kSource + ":", {c.says});
            BOOST_TEST(r.output.size() < 400u, r.output.substr(0, 500));
            BOOST_TEST(r.output.find("'... (1000") != std::string::npos, r.output.substr(0, 500));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(reading_the_file)

// /dev/zero never ends: it was read until memory ran out.
BOOST_AUTO_TEST_CASE(files_that_are_not_regular_files_are_refused) {
    TempDir dir;
    const std::string fifo = dir.file("fifo.yaml");
    BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const std::string link = dir.file("zero.yaml");
    std::filesystem::create_symlink("/dev/zero", link);
    struct Case {
        std::string path;
        std::string kind;
    };
    // A FIFO without a writer would block the open itself; a directory reads as an error.
    const std::vector<Case> cases = {
        {"/dev/zero", "a character device"},  {"/dev/null", "a character device"},
        {link, "a character device"},         {fifo, "a FIFO"},
        {dir.path().string(), "a directory"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.path) {
            expect_error(load_bounded(c.path), "config " + c.path + " is " + c.kind,
                         {"not a regular file", "--config"});
        }
    }
}

// --config takes any path: one with a newline or another control character is shown escaped,
// so that every message about the file stays one line.
BOOST_AUTO_TEST_CASE(paths_with_control_characters_are_shown_escaped) {
    TempDir dir;
    const std::string odd = dir.file("a\nb\x1b.yaml");
    const std::string shown = in_quotes(odd);
    expect_error(load_bounded(odd), "cannot read config " + shown + ": ", {"No such file"});
    write_file(odd, "servers:\n  - {name: a, gpus: four, cpus: 1}\n");
    expect_error(load_bounded(odd), shown + ":2:21: ", {"servers[0].gpus"});
    write_file(odd, "");
    expect_error(load_bounded(odd), shown + ": ", {"the file is empty"});
    const std::string odd_dir = dir.file("d\ne");
    std::filesystem::create_directory(odd_dir);
    expect_error(load_bounded(odd_dir), "config " + in_quotes(odd_dir) + " is a directory", {});
    // A plain path is shown as it is, so that editors and terminals can follow FILE:LINE:COL.
    const std::string plain = dir.file("plain.yaml");
    write_file(plain, "servers:\n  - {name: a, gpus: four, cpus: 1}\n");
    expect_error(load_bounded(plain), plain + ":2:21: ", {"servers[0].gpus"});
}

BOOST_AUTO_TEST_CASE(a_symlink_to_a_regular_file_is_read) {
    TempDir dir;
    write_file(dir.file("real.yaml"), kOneServer);
    std::filesystem::create_symlink(dir.file("real.yaml"), dir.file("link.yaml"));
    const Bounded r = load_bounded(dir.file("link.yaml"));
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.output == "ok");
}

// The limit is twice the largest sensible file (10,000 servers written one entry each, about
// 0.5 MB); larger fleets are written as hostlist ranges.
BOOST_AUTO_TEST_CASE(size_limit) {
    TempDir dir;
    // A valid config padded with comment lines to exactly `size` bytes.
    auto padded = [](std::size_t size) {
        std::string text = kOneServer;
        while (text.size() + 80 < size)
            text += "# " + std::string(77, 'x') + "\n";
        text += "#" + std::string(size - text.size() - 2, 'y') + "\n";
        BOOST_TEST_REQUIRE(text.size() == size);
        return text;
    };
    const std::string at_limit = dir.file("at.yaml");
    write_file(at_limit, padded(kLimit));
    const Bounded fits = load_bounded(at_limit);
    BOOST_TEST(fits.status == 0);
    BOOST_TEST(fits.output == "ok");

    const std::string over = dir.file("over.yaml");
    write_file(over, padded(kLimit + 1));
    expect_error(load_bounded(over), "config " + over + " is 1048577 bytes",
                 {"more than the limit of 1048576", "hostlist ranges"});

    // The same limit holds for text handed to the parser directly.
    expect_error(parse_bounded(padded(kLimit + 1)), kSource + ": ",
                 {"1048577 bytes", "more than the limit of 1048576"});
    BOOST_TEST(parse_bounded(padded(kLimit)).output == "ok");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(yaml_errors)

// yaml-cpp's own messages can carry bytes of the input ("unknown escape character: " and the
// byte): they are shown escaped, so that the error stays one printable line. (Control bytes
// never reach yaml-cpp: see control_characters_and_other_encodings_are_refused.)
BOOST_AUTO_TEST_CASE(bytes_of_the_input_in_yaml_messages_are_escaped) {
    struct Case {
        std::string yaml;
        std::string says;
    };
    const std::vector<Case> cases = {
        {"a: \"\\\x80\"\n", "unknown escape character: \\x80"},
        {"a: \"\\\n\"\nb: \"\\\xe1\"\n", "unknown escape character: \\xe1"},
        {"a: \"\\\xff\"\n", "unknown escape character: \\xff"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("input " << in_quotes(c.yaml)) {
            expect_error(parse_bounded(c.yaml), kSource + ":", {"not valid YAML", c.says});
            const std::string message = parse_bounded(c.yaml).output;
            BOOST_TEST(std::all_of(message.begin(), message.end(),
                                   [](char ch) {
                                       const auto u = static_cast<unsigned char>(ch);
                                       return u >= 0x20 && u < 0x7f;
                                   }),
                       in_quotes(message));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
